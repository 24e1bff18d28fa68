//! Fault scenario 1 — leader crash and return (three `raftkv node` processes): the leader is
//! SIGKILLed, a new one takes over, and the old one comes back as a follower and catches up.

use std::time::{Duration, Instant};

use crate::support::{wait_for, without_volatile, Cluster};

/// Bounds every wait; a healthy run needs well under a second for each.
const BOUND: Duration = Duration::from_secs(10);

/// Node `id`'s own (possibly stale) value of `key`, without going through the leader.
fn local_value(c: &Cluster, id: u64, key: &str) -> Option<String> {
    let path = format!("/v1/kv/{key}?consistency=local");
    let reply = c.request("GET", id, &path, None).ok()?;
    (reply.status == 200).then_some(reply.body)
}

fn put(c: &Cluster, id: u64, key: &str, value: &str) {
    let reply = c
        .request("PUT", id, &format!("/v1/kv/{key}"), Some(value.as_bytes()))
        .expect("the leader answers");
    assert_eq!(reply.status, 200, "put {key}={value}: {}", reply.body);
}

#[test]
fn leader_crash_and_return() {
    let mut c = Cluster::start(3);
    let all = [1, 2, 3];

    // A leader is elected; value 1 reaches all three.
    let (old_leader, old_term) = c.wait_for_leader_above(&all, 0, BOUND);
    put(&c, old_leader, "x", "1");
    for id in all {
        wait_for(&format!("x=1 on node {id}"), BOUND, || {
            (local_value(&c, id, "x")? == "1").then_some(())
        });
    }

    // SIGKILL the leader: a different node leads, in a higher term.
    c.kill(old_leader);
    let killed = Instant::now();
    let survivors: Vec<u64> = all.into_iter().filter(|&id| id != old_leader).collect();
    let (new_leader, new_term) = c.wait_for_leader_above(&survivors, old_term, BOUND);
    let failover = killed.elapsed();
    assert_ne!(new_leader, old_leader);
    assert!(new_term > old_term, "term {new_term} after {old_term}");

    // Value 2 reaches both survivors.
    put(&c, new_leader, "x", "2");
    for &id in &survivors {
        wait_for(&format!("x=2 on node {id}"), BOUND, || {
            (local_value(&c, id, "x")? == "2").then_some(())
        });
    }

    // The old leader restarts, reports follower of the new leader, and catches up.
    c.start_node(old_leader);
    let restarted = Instant::now();
    let status = wait_for("the old leader to follow", BOUND, || {
        let s = c.status(old_leader)?;
        (s["leader"].as_u64() == Some(new_leader)).then_some(s)
    });
    assert_eq!(status["role"], "follower", "{status}");
    let state = c.wait_converged(&all, BOUND);
    let caught_up = restarted.elapsed();
    assert_eq!(state["kv"]["x"]["value"], "2", "{state}");
    assert_eq!(local_value(&c, old_leader, "x").as_deref(), Some("2"));
    let log = c.txlog(old_leader);
    assert!(
        log.iter()
            .filter(|l| l.contains("kv.put key=\"x\""))
            .count()
            == 2,
        "both puts in the old leader's transaction log: {log:#?}"
    );
    // Each node's state-machine file, rewritten within a second of a change, shows the same
    // state as the others (and as /v1/state) for a person to compare by eye.
    let files = wait_for("identical state-machine files", BOUND, || {
        let files: Vec<String> = all
            .iter()
            .map(|&id| std::fs::read_to_string(c.state_file_path(id)).unwrap_or_default())
            .collect();
        let shows_state = |text: &String| {
            serde_json::from_str(text).is_ok_and(|file| without_volatile(file) == state)
        };
        (files.iter().all(shows_state) && files.windows(2).all(|w| w[0] == w[1])).then_some(files)
    });
    assert!(files[0].contains("\"x\""), "{}", files[0]);
    eprintln!(
        "scenario 1: leader {old_leader} (term {old_term}) killed; node {new_leader} led in term \
         {new_term} after {failover:?}; old leader caught up {caught_up:?} after restart"
    );
}
