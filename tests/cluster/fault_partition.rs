//! Fault scenario 4 — a partition with a stale leader (five `raftkv node` processes with
//! `test_faults = true`): the leader is cut off from every peer through the test-only fault
//! switch; the majority elects a new leader, the old one steps down by CheckQuorum, clients of
//! the old leader never see a successful write or read, and after healing the old leader's
//! uncommitted entries are gone from every log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support;
use crate::support::checks::{acked, assert_acked_writes_survive, kv_of};
use crate::support::client::{error_code, Client};
use crate::support::config::ELECTION_TIMEOUT_MAX_MS;
use crate::support::history::{summary, KvIn};
use crate::support::linearizable::assert_kv_linearizable;
use crate::support::workload::{kv_get, kv_once, kv_put, Histories, Tally};
use crate::support::{wait_for, Cluster, StopOnDrop};
use rand::RngExt;

const BOUND: Duration = Duration::from_secs(15);
const KEYS: [&str; 3] = ["a", "b", "c"];
/// Clients that keep writing to the old leader while it is cut off.
const STALE_CLIENTS: u64 = 3;

#[test]
fn fault_routes_exist_only_with_test_faults() {
    let c = Cluster::start(1);
    c.wait_for_leader_above(&[1], 0, BOUND);
    for path in ["/v1/test/isolate", "/v1/test/heal"] {
        let reply = c.request("POST", 1, path, None).expect("node answers");
        assert_eq!(reply.status, 404, "{path}: {reply:?}");
        assert_eq!(error_code(&reply).as_deref(), Some("unknown_route"));
    }
}

#[test]
fn an_isolated_leader_steps_down_and_its_uncommitted_entries_vanish() {
    let c = Cluster::start_with(5, "test_faults = true");
    let all: Vec<u64> = (1..=5).collect();
    let (old, old_term) = c.wait_for_leader_above(&all, 0, BOUND);
    let others: Vec<u64> = all.iter().copied().filter(|&id| id != old).collect();
    let h = Histories::new();
    let t = Tally::default();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_stale = Arc::new(AtomicBool::new(false));
    let stale_guard = StopOnDrop(Arc::clone(&stop_stale));
    let guard = StopOnDrop(Arc::clone(&stop));
    let stale_answers = Mutex::new(Vec::new());
    let addrs = c.http_addrs();

    std::thread::scope(|s| {
        // The majority's client: writes and reads through any node but the old leader.
        let (h, t, stop, others, addrs) = (&h, &t, &stop, &others, &addrs);
        s.spawn(move || {
            let mut client = Client::new(400, addrs, 4);
            while !stop.load(Ordering::SeqCst) {
                let key = KEYS[client.rng.random_range(0..KEYS.len())];
                if client.rng.random_bool(0.6) {
                    kv_put(&mut client, others, h, t, key);
                } else {
                    kv_get(&mut client, others, h, t, key);
                }
            }
        });
        wait_for("the majority's first writes", BOUND, || {
            (acked(&h.kv.ops()) >= 10).then_some(())
        });

        // Cut the leader off.
        let reply = c
            .request("POST", old, "/v1/test/isolate", None)
            .expect("node answers");
        assert_eq!(reply.status, 200, "{reply:?}");
        let isolated = Instant::now();

        // Its own clients keep writing and reading through it.
        for k in 0..STALE_CLIENTS {
            let (stop_stale, stale_answers) = (&stop_stale, &stale_answers);
            s.spawn(move || {
                let mut client = Client::new(500 + k, addrs, 5 + k);
                let mut i = 0;
                while !stop_stale.load(Ordering::SeqCst) {
                    i += 1;
                    let key = KEYS[(i % 3) as usize].to_string();
                    let input = if i % 2 == 1 {
                        KvIn::Put {
                            key,
                            value: format!("stale-{k}-{i}"),
                        }
                    } else {
                        KvIn::Get { key }
                    };
                    let is_write = matches!(input, KvIn::Put { .. });
                    let (status, _) = kv_once(&mut client, old, h, input);
                    stale_answers.lock().unwrap().push((is_write, status));
                    // A client's pace (workload, not synchronisation): refusals come at once.
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
        }

        // A new leader on the majority side, in a higher term.
        let (new, new_term) = c.wait_for_leader_above(others, old_term, BOUND);
        let elected_in = isolated.elapsed();
        // The old leader steps down by CheckQuorum within about two election timeouts.
        let stepped = wait_for("the old leader to step down", BOUND, || {
            let s = c.status(old)?;
            (s["role"] != "leader").then(|| (isolated.elapsed(), s))
        });
        let bound = Duration::from_millis(2 * ELECTION_TIMEOUT_MAX_MS + 400);
        assert!(
            stepped.0 <= bound,
            "the old leader stepped down only after {:?} (bound {bound:?}): {}",
            stepped.0,
            stepped.1
        );
        // It did accept writes it could never commit.
        let stale = c.status(old).expect("old leader answers");
        let uncommitted =
            stale["last_log_index"].as_u64().unwrap() - stale["commit_index"].as_u64().unwrap();
        assert!(uncommitted > 0, "the old leader appended nothing: {stale}");

        // Let the majority move on past the old leader's log, and each stale client finish a
        // round of requests that can only fail.
        let acked_then = acked(&h.kv.ops());
        wait_for("the majority to keep committing", BOUND, || {
            let progressed = acked(&h.kv.ops()) >= acked_then + 30;
            let tried = stale_answers.lock().unwrap().len() as u64 >= 2 * STALE_CLIENTS;
            (progressed && tried).then_some(())
        });
        drop(stale_guard);
        let majority_log = c.status(new).expect("new leader")["last_log_index"]
            .as_u64()
            .unwrap();
        assert!(
            majority_log > stale["last_log_index"].as_u64().unwrap(),
            "the majority's log should outgrow the stale tail"
        );

        // Heal; the old leader follows the new one and every log converges without the stale
        // entries.
        let reply = c
            .request("POST", old, "/v1/test/heal", None)
            .expect("node answers");
        assert_eq!(reply.status, 200, "{reply:?}");
        let healed = Instant::now();
        wait_for("the old leader to follow", BOUND, || {
            let s = c.status(old)?;
            (s["role"] == "follower" && s["leader"].as_u64().is_some_and(|l| l != old))
                .then_some(())
        });
        stop.store(true, Ordering::SeqCst);
        drop(guard);
        let answers = stale_answers.lock().unwrap().clone();
        eprintln!(
            "scenario 4: isolated leader {old} (term {old_term}); node {new} led in term \
             {new_term} after {elected_in:?}; old leader stepped down after {:?}; \
             {uncommitted} uncommitted entries on it; {} requests to it, none successful; \
             rejoined {:?} after healing",
            stepped.0,
            answers.len(),
            healed.elapsed()
        );
    });

    // Nobody talking to the old leader was told "done", by a write or a read.
    let answers = stale_answers.into_inner().unwrap();
    for (is_write, status) in &answers {
        assert_ne!(
            *status,
            Some(200),
            "the isolated old leader answered a {} with 200",
            if *is_write { "write" } else { "read" }
        );
    }
    let state = c.wait_converged(&all, BOUND);
    for id in all {
        let log = c.txlog(id);
        let stale: Vec<&String> = log.iter().filter(|l| l.contains("stale-")).collect();
        assert!(
            stale.is_empty(),
            "node {id} applied stale entries: {stale:?}"
        );
    }
    assert!(!state.to_string().contains("stale-"), "{state}");
    let history = h.kv.ops();
    assert_acked_writes_survive(&history, &kv_of(&state));
    support::history::dump("scenario4-kv", &history);
    let checked_in = assert_kv_linearizable("kv", &history);
    eprintln!(
        "scenario 4: history {} (linearizable, checked in {checked_in:?}); majority client: {}",
        summary(&history),
        t.describe()
    );
}
