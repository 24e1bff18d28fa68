//! Fault scenario 5 — crash mid-write (three `raftkv node` processes): under a steady stream of
//! writes, a node (the leader and a follower in turn) is SIGKILLed, the tails of its log and
//! transaction log are torn the way a power cut during a write would leave them, and it is
//! restarted. Each restart must truncate the torn tails, recover and catch up; no acknowledged
//! write may be lost.
//!
//! SIGKILL alone almost never tears a file (the kernel finishes a `write` that started, and the
//! page cache survives the process), so the test appends the torn part itself: half a log
//! record after the last complete one, and half a transaction log line.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::checks::{acked, kv_of};
use crate::support::client::Client;
use crate::support::history::{KvIn, KvOut};
use crate::support::workload::{kv_put, Histories, Tally};
use crate::support::{wait_for, Cluster, StopOnDrop};

const BOUND: Duration = Duration::from_secs(15);
const WRITERS: u64 = 4;
const CRASHES: usize = 6;

/// The last segment file of node `id`'s write-ahead log.
fn last_segment(c: &Cluster, id: u64) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(c.data_dir(id))
        .expect("data dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("wal-") && n.ends_with(".log"))
        })
        .collect();
    // Names carry the first index zero-padded to 20 digits: text order is log order.
    segments.sort();
    segments.pop().expect("a segment")
}

fn append(path: &PathBuf, bytes: &[u8]) {
    let mut file = OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    file.write_all(bytes).expect("append");
}

/// Tears both files of a stopped node: the header of a 200-byte entry record followed by only
/// part of its body, and a transaction log line without its end.
fn tear_tails(c: &Cluster, id: u64, round: usize) {
    let mut record = Vec::new();
    record.extend_from_slice(&0xdead_beef_u32.to_le_bytes()); // crc
    record.extend_from_slice(&200u32.to_le_bytes()); // body length
    record.push(1); // an entry
    record.extend(vec![0xab; 37 + round]);
    append(&last_segment(c, id), &record);
    append(
        &c.txlog_path(id),
        b"999999999999 t99 kv.put key=\"torn\" value=\"never fin",
    );
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn crashes_mid_write_recover_and_lose_no_acknowledged_write() {
    let mut c = Cluster::start(3);
    let all: Vec<u64> = (1..=3).collect();
    c.wait_for_leader_above(&all, 0, BOUND);
    let h = Histories::new();
    let t = Tally::default();
    let stop = Arc::new(AtomicBool::new(false));
    let guard = StopOnDrop(Arc::clone(&stop));
    let addrs = c.http_addrs();
    let mut victims = Vec::new();
    let mut recoveries = Vec::new();

    std::thread::scope(|s| {
        for k in 0..WRITERS {
            let (h, t, stop, all, addrs) = (&h, &t, &stop, &all, &addrs);
            s.spawn(move || {
                let mut client = Client::new(600 + k, addrs, 60 + k);
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    // A fresh key per write: "lost" then simply means "missing".
                    kv_put(&mut client, all, h, t, &format!("w{k}-{n}"));
                }
            });
        }
        for round in 0..CRASHES {
            // Crash only while writes are flowing.
            let acked_before = acked(&h.kv.ops());
            wait_for("writes to flow", BOUND, || {
                (acked(&h.kv.ops()) >= acked_before + 25).then_some(())
            });
            let (leader, _) = c.wait_for_leader_above(&all, 0, BOUND);
            let victim = if round % 2 == 0 {
                leader
            } else {
                *all.iter().find(|&&id| id != leader).expect("a follower")
            };
            let torn_before = count(&c.output(victim), "dropping a torn tail");
            let cut_before = count(&c.output(victim), "cutting a torn last line");
            c.kill(victim);
            tear_tails(&c, victim, round);
            c.start_node(victim);
            let restarted = Instant::now();
            c.wait_up(victim, BOUND);
            let out = c.output(victim);
            assert_eq!(
                count(&out, "dropping a torn tail"),
                torn_before + 1,
                "node {victim} did not truncate its torn log tail"
            );
            assert_eq!(
                count(&out, "cutting a torn last line"),
                cut_before + 1,
                "node {victim} did not cut its torn transaction log line"
            );
            // It catches up with what the cluster had committed when it came back.
            let (leader, _) = c.wait_for_leader_above(&all, 0, BOUND);
            let target = c.status(leader).expect("leader")["commit_index"]
                .as_u64()
                .unwrap();
            wait_for(&format!("node {victim} to catch up"), BOUND, || {
                let s = c.status(victim)?;
                (s["applied_index"].as_u64()? >= target).then_some(())
            });
            victims.push(victim);
            recoveries.push(restarted.elapsed());
        }
        stop.store(true, Ordering::SeqCst);
        drop(guard);
    });

    let state = c.wait_converged(&all, BOUND);
    let logs: Vec<(u64, Vec<String>)> = all.iter().map(|&id| (id, c.txlog(id))).collect();
    let longest = support::txlog::assert_prefixes_of_longest(&logs);
    assert!(
        longest.iter().all(|l| !l.contains("torn")),
        "a torn line survived"
    );
    let stored = kv_of(&state);
    let history = h.kv.ops();
    let mut checked = 0;
    for op in &history {
        if let (KvIn::Put { key, value }, Some(KvOut::Done)) = (&op.input, &op.output) {
            assert_eq!(
                stored.get(key),
                Some(value),
                "acknowledged write {key}={value} is lost"
            );
            checked += 1;
        }
    }
    eprintln!(
        "scenario 5: {CRASHES} crashes of nodes {victims:?}, each recovered (torn tails cut) and \
         caught up in {recoveries:?}; {checked} acknowledged writes all present; clients: {}",
        t.describe()
    );
}
