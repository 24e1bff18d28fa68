//! Membership changes on `raftkv node` processes (thesis ch. 4): a node joins a running cluster
//! and the leader is removed; the cluster grows from 3 to 5 and shrinks back under a write load;
//! a rolling restart moves leadership by transfers only.
//!
//! Each test writes a config of five peers (`cluster.toml`) and one of the first three
//! (`three.toml`): the initial cluster runs on `three.toml`; nodes 4 and 5 start with the full
//! file and `--join`, as an operator adding machines would.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support;
use crate::support::cli::raftkv;
use crate::support::client::{Call, Client, Outcome};
use crate::support::{wait_for, Cluster};

const WAIT: Duration = Duration::from_secs(30);

/// A five-peer config with only the first three started, on `three.toml`.
fn initial_three() -> (Cluster, PathBuf) {
    let mut c = Cluster::configure(5, "");
    let text = std::fs::read_to_string(&c.config_path).expect("read config");
    let blocks: Vec<&str> = text.split("\n[[peers]]").collect();
    let three = c.dir.path().join("three.toml");
    std::fs::write(&three, blocks[..4].join("\n[[peers]]")).expect("write three.toml");
    for id in 1..=3 {
        c.start_node_with(id, &three);
    }
    (c, three)
}

/// The leader a majority of nodes `ids` agree on.
fn leader_of(c: &Cluster, ids: &[u64]) -> u64 {
    c.wait_for_leader_of(ids, WAIT)
}

/// `GET /v1/members` from node `id`: (id, is_learner) pairs.
fn members_seen_by(c: &Cluster, id: u64) -> Option<Vec<(u64, bool)>> {
    let reply = c.request("GET", id, "/v1/members", None).ok()?;
    (reply.status == 200).then(|| {
        reply
            .json()
            .as_array()
            .expect("a list")
            .iter()
            .map(|m| (m["id"].as_u64().unwrap(), m["is_learner"] == true))
            .collect()
    })
}

fn member_add(c: &Cluster, endpoints: &str, id: u64, learner: bool) -> String {
    let (raft, http, text) = c.ports[id as usize - 1];
    let raft = format!("127.0.0.1:{raft}");
    let http = format!("127.0.0.1:{http}");
    let text = format!("127.0.0.1:{text}");
    let grpc = format!("127.0.0.1:{}", c.grpc_ports[id as usize - 1]);
    let id = id.to_string();
    let mut args = vec![
        "--endpoints",
        endpoints,
        "member",
        "add",
        &id,
        "--raft",
        &raft,
        "--http",
        &http,
        "--text",
        &text,
        "--grpc",
        &grpc,
    ];
    if learner {
        args.push("--learner");
    }
    raftkv(&args).ok().to_string()
}

/// Waits until node `id` is a voter in the configuration node `asked` holds.
fn wait_voter(c: &Cluster, asked: u64, id: u64) {
    wait_for(&format!("node {id} to become a voter"), WAIT, || {
        members_seen_by(c, asked)?
            .contains(&(id, false))
            .then_some(())
    });
}

fn put(c: &Cluster, via: u64, key: &str, value: &str) {
    let reply = c
        .request_follow("PUT", via, &format!("/v1/kv/{key}"), Some(value.as_bytes()))
        .expect("an answer");
    assert_eq!(reply.status, 200, "PUT {key}: {}", reply.body);
}

fn get_local(c: &Cluster, id: u64, key: &str) -> Option<String> {
    let reply = c
        .request("GET", id, &format!("/v1/kv/{key}?consistency=local"), None)
        .ok()?;
    (reply.status == 200).then_some(reply.body)
}

/// The acceptance scenario: 100 keys; add node 4 (it joins, catches up, is promoted);
/// remove the leader and stop it; kill one more original node. The two live members (one of
/// them node 4) take a write, node 4 serves every earlier key, and the killed node restarted
/// with its old `three.toml` keeps the new membership. The transaction logs verify.
#[test]
fn a_joined_node_replaces_the_removed_leader() {
    let (mut c, three) = initial_three();
    let leader = leader_of(&c, &[1, 2, 3]);
    for i in 0..100 {
        put(&c, leader, &format!("k{i}"), &format!("v{i}"));
    }
    let endpoints = c.endpoints(&[1, 2, 3]);
    let added = member_add(&c, &endpoints, 4, false);
    assert!(added.contains("Member 4 added"), "{added}");
    let full = c.config_path.clone();
    c.start_node_args(4, &full, &["--join"]);
    wait_voter(&c, leader, 4);
    wait_for("node 4 to apply every key", WAIT, || {
        get_local(&c, 4, "k99").filter(|v| v == "v99")
    });

    let removed = raftkv(&[
        "--endpoints",
        &endpoints,
        "member",
        "remove",
        &leader.to_string(),
    ]);
    assert!(
        removed.code == 0 && removed.stdout.contains("removed"),
        "{removed:?}\nleader {leader}:\n{}",
        c.output(leader)
    );
    // The removed leader hands off once its removal commits.
    let others: Vec<u64> = [1, 2, 3, 4].into_iter().filter(|&i| i != leader).collect();
    let new_leader = leader_of(&c, &others);
    assert_ne!(new_leader, leader);
    c.stop(leader);
    let killed = *others
        .iter()
        .find(|&&i| i != 4 && i != new_leader)
        .unwrap_or_else(|| others.iter().find(|&&i| i != 4).unwrap());
    c.kill(killed);
    let live: Vec<u64> = others.iter().copied().filter(|&i| i != killed).collect();
    assert!(live.contains(&4), "{live:?}");

    let live_leader = leader_of(&c, &live);
    put(&c, live_leader, "after", "two of three");
    for i in 0..100 {
        assert_eq!(
            get_local(&c, 4, &format!("k{i}")).as_deref(),
            Some(format!("v{i}").as_str()),
            "node 4 serves k{i}"
        );
    }

    c.start_node_with(killed, &three);
    wait_for("the restarted node to apply the last write", WAIT, || {
        get_local(&c, killed, "after")
    });
    let seen = members_seen_by(&c, killed).expect("the restarted node answers");
    let ids: Vec<u64> = seen.iter().map(|(id, _)| *id).collect();
    assert!(
        !ids.contains(&leader),
        "{seen:?}: the removed leader is gone"
    );
    assert!(ids.contains(&4), "{seen:?}: node 4 is a member");

    let mut verify = vec!["txlog".to_string(), "verify".to_string()];
    for id in [4, killed, *live.iter().find(|&&i| i != 4).unwrap()] {
        verify.push(c.txlog_path(id).display().to_string());
    }
    let args: Vec<&str> = verify.iter().map(String::as_str).collect();
    let run = raftkv(&args);
    assert_eq!(run.code, 0, "txlog verify: {run:?}");
    let log = c.txlog(4).join("\n");
    assert!(
        log.contains("membership voters="),
        "the change is in the log"
    );
}

/// Clients writing to nodes 1–3 until `finish`, each write retried (on redirects, "no leader",
/// refused connections) as a client library does.
struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
    writers: Vec<std::thread::JoinHandle<Vec<String>>>,
}

impl Load {
    fn start(c: &Cluster) -> Load {
        let http = c.http_addrs();
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let writers = (0..4)
            .map(|w| {
                let (stop, acked, http) = (stop.clone(), acked.clone(), http.clone());
                std::thread::spawn(move || {
                    let mut client = Client::new(w, &http, w);
                    let mut failures = Vec::new();
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("w{w}-{i}");
                        let call = Call::write("PUT", format!("/v1/kv/{key}"), Some(b"x".to_vec()));
                        match client.perform(&[1, 2, 3], &call, Duration::from_secs(20)) {
                            Outcome::Done(_) => acked.lock().unwrap().push(key),
                            other => failures.push(format!("{key}: {other:?}")),
                        }
                        i += 1;
                    }
                    failures
                })
            })
            .collect();
        Load {
            stop,
            acked,
            writers,
        }
    }

    /// Stops the writers; asserts none failed and some succeeded; returns the acknowledged keys.
    fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        let failures: Vec<String> = self
            .writers
            .into_iter()
            .flat_map(|w| w.join().expect("writer"))
            .collect();
        assert!(failures.is_empty(), "writes failed: {failures:?}");
        let acked = self.acked.lock().unwrap().clone();
        assert!(!acked.is_empty(), "the writers made progress");
        eprintln!("{} writes acknowledged under the changes", acked.len());
        acked
    }
}

/// Grows 3 → 5 and shrinks 5 → 3 while clients write; every write succeeds (the test client
/// retries on redirects and "no leader" as a client library does), and the acknowledged writes
/// are all there at the end.
#[test]
fn growing_and_shrinking_under_load_fails_no_write() {
    let (mut c, _three) = initial_three();
    let leader = leader_of(&c, &[1, 2, 3]);
    let load = Load::start(&c);
    let endpoints = c.endpoints(&[1, 2, 3]);
    let full = c.config_path.clone();
    for id in [4, 5] {
        member_add(&c, &endpoints, id, false);
        c.start_node_args(id, &full, &["--join"]);
        wait_voter(&c, leader_of(&c, &[1, 2, 3]), id);
    }
    for id in [5, 4] {
        let run = raftkv(&[
            "--endpoints",
            &endpoints,
            "member",
            "remove",
            &id.to_string(),
        ]);
        run.ok();
        c.stop(id);
    }
    let keys = load.finish();
    let seen = members_seen_by(&c, leader_of(&c, &[1, 2, 3])).unwrap();
    assert_eq!(seen, vec![(1, false), (2, false), (3, false)]);
    c.wait_converged(&[1, 2, 3], WAIT);
    let _ = leader;
    for key in keys {
        assert!(
            get_local(&c, 1, &key).is_some(),
            "acknowledged {key} is on node 1"
        );
    }
}

/// A rolling restart (SIGTERM, start, wait until caught up, next) under a write load moves
/// leadership by transfers only: the term grows by one per leader stopped, never by an
/// election after a timeout.
#[test]
fn a_rolling_restart_costs_no_election_timeout() {
    let (mut c, three) = initial_three();
    let first = leader_of(&c, &[1, 2, 3]);
    put(&c, first, "warm", "up");
    let term_of = |c: &Cluster, id: u64| c.status(id).and_then(|s| s["term"].as_u64());
    let start_term = term_of(&c, first).unwrap();
    let load = Load::start(&c);
    let mut leaders_stopped = 0;
    for id in [1, 2, 3] {
        let leader = leader_of(&c, &[1, 2, 3]);
        leaders_stopped += u64::from(leader == id);
        assert_eq!(c.stop(id), Some(0), "node {id} stops cleanly");
        let others: Vec<u64> = [1, 2, 3].into_iter().filter(|&i| i != id).collect();
        let now = leader_of(&c, &others);
        put(&c, now, &format!("during-{id}"), "x");
        c.start_node_with(id, &three);
        wait_for(&format!("node {id} to catch up"), WAIT, || {
            get_local(&c, id, &format!("during-{id}"))
        });
    }
    load.finish();
    let leader = leader_of(&c, &[1, 2, 3]);
    let end_term = term_of(&c, leader).unwrap();
    for id in [1, 2, 3] {
        let metrics = c
            .request("GET", id, "/metrics", None)
            .expect("metrics")
            .body;
        let counters: Vec<&str> = metrics
            .lines()
            .filter(|l| {
                l.starts_with("raftkv_server_election_timeouts_total")
                    || l.starts_with("raftkv_server_leader_changes_seen_total")
            })
            .collect();
        eprintln!("node {id} since its restart: {counters:?}");
    }
    assert!(leaders_stopped >= 1);
    assert_eq!(
        end_term - start_term,
        leaders_stopped,
        "one term per transfer, none for an election after a timeout"
    );
}

/// Fault suite: replace a node under load. Node 3 is killed and its data wiped, removed from
/// the cluster, and a fresh node 4 (another address) is added and joins, while clients read and
/// write three keys through nodes 1 and 2. The history is linearizable and every acknowledged
/// write is in the final state.
#[test]
fn replacing_a_dead_node_under_load_is_linearizable() {
    use crate::support::checks::{acked, assert_acked_writes_survive, kv_of};
    use crate::support::linearizable::assert_kv_linearizable;
    use crate::support::workload::{kv_get, kv_put, Histories, Tally};
    use rand::RngExt;

    const KEYS: [&str; 3] = ["a", "b", "c"];
    let (mut c, _three) = initial_three();
    leader_of(&c, &[1, 2, 3]);
    let h = Histories::new();
    let t = Tally::default();
    let stop = AtomicBool::new(false);
    let addrs = c.http_addrs();
    std::thread::scope(|s| {
        for k in 0..3 {
            let (h, t, stop, addrs) = (&h, &t, &stop, &addrs);
            s.spawn(move || {
                let mut client = Client::new(600 + k, addrs, 6 + k);
                while !stop.load(Ordering::SeqCst) {
                    let key = KEYS[client.rng.random_range(0..KEYS.len())];
                    if client.rng.random_bool(0.6) {
                        kv_put(&mut client, &[1, 2], h, t, key);
                    } else {
                        kv_get(&mut client, &[1, 2], h, t, key);
                    }
                }
            });
        }
        wait_for("the first writes", WAIT, || {
            (acked(&h.kv.ops()) >= 20).then_some(())
        });
        c.kill(3);
        std::fs::remove_dir_all(c.data_dir(3)).expect("wipe node 3's data");
        let endpoints = c.endpoints(&[1, 2]);
        let run = raftkv(&["--endpoints", &endpoints, "member", "remove", "3"]);
        run.ok();
        member_add(&c, &endpoints, 4, false);
        let full = c.config_path.clone();
        c.start_node_args(4, &full, &["--join"]);
        wait_voter(&c, leader_of(&c, &[1, 2, 4]), 4);
        let then = acked(&h.kv.ops());
        wait_for("writes after the replacement", WAIT, || {
            (acked(&h.kv.ops()) >= then + 20).then_some(())
        });
        stop.store(true, Ordering::SeqCst);
    });
    let state = c.wait_converged(&[1, 2, 4], WAIT);
    let history = h.kv.ops();
    assert_acked_writes_survive(&history, &kv_of(&state));
    let checked_in = assert_kv_linearizable("kv", &history);
    eprintln!(
        "replace: history {} (linearizable, checked in {checked_in:?}); {}",
        support::history::summary(&history),
        t.describe()
    );
}

/// `raftkv leader transfer ID` (etcdctl move-leader) hands leadership to ID and prints it;
/// a learner is refused as a target; without an ID the most up-to-date voter is chosen.
#[test]
fn leader_transfer_moves_leadership_to_the_named_voter() {
    let (c, _three) = initial_three();
    let leader = leader_of(&c, &[1, 2, 3]);
    let target = if leader == 1 { 2 } else { 1 };
    let endpoints = c.endpoints(&[1, 2, 3]);
    let run = raftkv(&[
        "--endpoints",
        &endpoints,
        "leader",
        "transfer",
        &target.to_string(),
    ]);
    assert!(
        run.ok()
            .contains(&format!("Leadership transferred to {target}")),
        "{run:?}"
    );
    assert_eq!(leader_of(&c, &[1, 2, 3]), target);
    member_add(&c, &endpoints, 4, true);
    let refused = raftkv(&["--endpoints", &endpoints, "leader", "transfer", "4"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("not a voter"), "{refused:?}");
    let run = raftkv(&["--endpoints", &endpoints, "leader", "transfer"]);
    run.ok();
    assert_ne!(leader_of(&c, &[1, 2, 3]), target);
}
