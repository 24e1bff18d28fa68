//! Fault scenario 3 — a minority halts (five `raftkv node` processes): with three of five killed,
//! no write and no linearizable read succeeds, each fails within the request timeout, and no
//! transaction log grows; once two nodes return, writes succeed again and the logs match.

use std::time::{Duration, Instant};

use crate::support;
use crate::support::checks::{acked, assert_acked_writes_survive, kv_of};
use crate::support::client::Client;
use crate::support::config::REQUEST_TIMEOUT_MS;
use crate::support::history::{summary, KvIn};
use crate::support::linearizable::assert_kv_linearizable;
use crate::support::txlog::assert_prefixes_of_longest;
use crate::support::workload::{kv_get, kv_once, kv_put, Histories, Tally};
use crate::support::{wait_for, Cluster};

const BOUND: Duration = Duration::from_secs(15);
/// Scheduling and HTTP overhead allowed beyond the node's request timeout.
const SLACK: Duration = Duration::from_millis(1000);
const KEYS: [&str; 2] = ["a", "b"];

/// `(applied_index, transaction log lines)` of node `id`.
fn progress(c: &Cluster, id: u64) -> Option<(u64, usize)> {
    let s = c.status(id)?;
    Some((s["applied_index"].as_u64()?, c.txlog(id).len()))
}

#[test]
fn a_minority_halts_and_recovers_when_a_majority_returns() {
    let mut c = Cluster::start(5);
    let all: Vec<u64> = (1..=5).collect();
    let (leader, _) = c.wait_for_leader_above(&all, 0, BOUND);
    let h = Histories::new();
    let t = Tally::default();
    let mut client = Client::new(300, &c.http_addrs(), 3);
    for i in 0..6 {
        kv_put(&mut client, &all, &h, &t, KEYS[i % 2]);
    }

    // Kill three followers: the leader survives, and must notice it lost its quorum.
    let victims: Vec<u64> = all
        .iter()
        .copied()
        .filter(|&id| id != leader)
        .take(3)
        .collect();
    for &id in &victims {
        c.kill(id);
    }
    let survivors = c.running();
    // Settle what was committed before the kill: each survivor applied all it knows committed,
    // and they agree unless the leader stepped down before telling the other.
    let frozen: Vec<(u64, usize)> = wait_for("the survivors to settle", BOUND, || {
        let statuses: Vec<serde_json::Value> = survivors
            .iter()
            .map(|&id| c.status(id))
            .collect::<Option<_>>()?;
        let applied_all = statuses
            .iter()
            .all(|s| s["applied_index"] == s["commit_index"]);
        let agree = statuses
            .iter()
            .all(|s| s["commit_index"] == statuses[0]["commit_index"]);
        let leaderless = statuses.iter().all(|s| s["role"] != "leader");
        if !(applied_all && (agree || leaderless)) {
            return None;
        }
        survivors.iter().map(|&id| progress(&c, id)).collect()
    });

    // Writes and linearizable reads all fail, each within the request timeout.
    let timeout = Duration::from_millis(REQUEST_TIMEOUT_MS) + SLACK;
    let mut statuses = Vec::new();
    for i in 0..12 {
        let node = survivors[i % survivors.len()];
        let key = KEYS[i % 2].to_string();
        let input = if i % 3 == 2 {
            KvIn::Get { key }
        } else {
            KvIn::Put {
                key,
                value: format!("minority-{i}"),
            }
        };
        let is_write = matches!(input, KvIn::Put { .. });
        let (status, elapsed) = kv_once(&mut client, node, &h, input);
        assert!(
            matches!(status, Some(503 | 504)),
            "request {i} to node {node} answered {status:?} without a majority"
        );
        assert!(
            elapsed <= timeout,
            "request {i} took {elapsed:?}, beyond the request timeout"
        );
        statuses.push((is_write, status, elapsed));
    }
    // No transaction log grew, no state machine applied anything.
    for (&id, &before) in survivors.iter().zip(&frozen) {
        assert_eq!(
            progress(&c, id),
            Some(before),
            "node {id} applied something without a majority"
        );
    }
    let leaders: Vec<u64> = survivors
        .iter()
        .filter(|&&id| c.status(id).is_some_and(|s| s["role"] == "leader"))
        .copied()
        .collect();
    assert!(
        leaders.is_empty(),
        "nodes {leaders:?} still lead a minority"
    );

    // Two nodes return: writes succeed again within a bound.
    c.start_node(victims[0]);
    c.start_node(victims[1]);
    let returned = Instant::now();
    let majority = c.running();
    let done_before = acked(&h.kv.ops());
    kv_put(&mut client, &majority, &h, &t, KEYS[0]);
    let recovered_in = returned.elapsed();
    assert_eq!(
        acked(&h.kv.ops()),
        done_before + 1,
        "no write succeeded within the client's patience after two nodes returned"
    );
    for i in 0..6 {
        kv_put(&mut client, &majority, &h, &t, KEYS[i % 2]);
        kv_get(&mut client, &majority, &h, &t, KEYS[i % 2]);
    }

    // The logs match: the four running nodes converge; the fifth catches up once started.
    c.wait_converged(&majority, BOUND);
    c.start_node(victims[2]);
    let state = c.wait_converged(&all, BOUND);
    let logs: Vec<(u64, Vec<String>)> = all.iter().map(|&id| (id, c.txlog(id))).collect();
    assert_prefixes_of_longest(&logs);
    let history = h.kv.ops();
    assert_acked_writes_survive(&history, &kv_of(&state));
    support::history::dump("scenario3-kv", &history);
    let checked_in = assert_kv_linearizable("kv", &history);

    let timeouts = statuses.iter().filter(|s| s.1 == Some(504)).count();
    let slowest = statuses.iter().map(|s| s.2).max().unwrap_or_default();
    eprintln!(
        "scenario 3: killed {victims:?}, survivors {survivors:?} frozen at {frozen:?}; \
         12 requests refused ({timeouts} with 504, the rest 503; slowest {slowest:?}); \
         writes succeeded again {recovered_in:?} after two nodes returned; history {} \
         (linearizable, checked in {checked_in:?}); clients: {}",
        summary(&history),
        t.describe()
    );
}
