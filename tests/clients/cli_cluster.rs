//! `raftkv cluster --config FILE`: starts every node as a child, `cluster stop N` / `start N` control
//! one member through the supervisor, and SIGINT (Ctrl-C) stops them all and frees their ports.

use std::time::Duration;

use crate::support::cli::{raftkv, Supervisor};
use crate::support::{wait_for, Cluster};

const LEADER_TIMEOUT: Duration = Duration::from_secs(15);

#[test]
fn supervisor_starts_controls_and_stops_every_node() {
    // The harness writes the config; the supervisor, not the harness, runs the nodes.
    let c = Cluster::configure(3, "");
    let config = c.config_path.to_str().expect("utf-8 temp path").to_string();
    let mut sup = Supervisor::start(&c.config_path);
    let leader = c.wait_for_leader_among(&[1, 2, 3], LEADER_TIMEOUT);

    // The supervisor says who leads and what to try, and prefixes each node's output.
    let out = wait_for("the supervisor to name the leader", LEADER_TIMEOUT, || {
        let out = sup.output();
        out.contains("try next:").then_some(out)
    });
    assert!(out.contains("cluster | leader: node"), "{out}");
    for id in 1..=3 {
        assert!(
            out.contains(&format!("node{id}   | ")),
            "no output of node{id}:\n{out}"
        );
    }

    // Stop a follower: it no longer answers, the others still serve writes.
    let victim = (1..=3).find(|&id| id != leader).expect("a follower");
    let stopped = raftkv(&["cluster", "stop", &victim.to_string(), "--config", &config]);
    assert!(
        stopped.ok().starts_with(&format!("node {victim} stopped")),
        "{stopped:?}"
    );
    assert!(c.status(victim).is_none(), "a stopped node must not answer");
    let again = raftkv(&["cluster", "stop", &victim.to_string(), "--config", &config]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("is not running"), "{again:?}");
    assert_eq!(raftkv(&["--config", &config, "put", "k", "v"]).ok(), "OK\n");

    // Start it again: it answers, catches up, and its output still appears in the supervisor's.
    let before = sup.output().len();
    // By name this time, as the supervisor's output calls it.
    let name = format!("node{victim}");
    let started = raftkv(&["cluster", "start", &name, "--config", &config]);
    assert!(
        started.ok().starts_with(&format!("node {victim} started")),
        "{started:?}"
    );
    let value = wait_for("the restarted node to catch up", LEADER_TIMEOUT, || {
        c.request("GET", victim, "/v1/kv/k?consistency=local", None)
            .ok()
            .filter(|r| r.status == 200)
    });
    assert_eq!(value.body, "v");
    let after = sup.output()[before..].to_string();
    assert!(
        after.contains(&format!("node{victim}   | ")),
        "restarted node's output is not in the supervisor's:\n{after}"
    );
    let ps = raftkv(&["cluster", "ps", "--config", &config]);
    assert_eq!(ps.ok().matches(" running pid ").count(), 3, "{ps:?}");

    // Ctrl-C: the supervisor stops every node and exits; their ports are free again.
    let code = sup.signal_and_wait("INT", Duration::from_secs(20));
    assert_eq!(code, Some(0), "{}", sup.output());
    for id in 1..=3 {
        wait_for(
            "the node's ports to be free",
            Duration::from_secs(5),
            || c.ports_free(id).then_some(()),
        );
    }
    assert!(sup.output().contains("all nodes stopped"));
}
