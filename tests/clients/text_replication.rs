//! Expiry and versions seen through the text protocol are the same on every node: a node that was
//! down while a key expired comes back to the same state, and versions survive a leader change.

use std::time::Duration;

use crate::support;
use crate::support::text::TextClient;
use crate::support::{wait_for, Cluster};

fn text_port(c: &Cluster, id: u64) -> u16 {
    c.ports[id as usize - 1].2
}

fn applied_index(c: &Cluster, id: u64) -> Option<u64> {
    c.status(id)?["applied_index"].as_u64()
}

/// Waits until the running nodes have applied the same index and returns their `/v1/state`
/// JSON, asserting it is identical.
fn converged_state(c: &Cluster) -> serde_json::Value {
    let running: Vec<u64> = (1..=c.n).filter(|&id| c.is_running(id)).collect();
    let states = wait_for("the nodes to converge", Duration::from_secs(10), || {
        let states: Vec<serde_json::Value> = running
            .iter()
            .map(|&id| {
                let r = c.request("GET", id, "/v1/state", None).ok()?;
                (r.status == 200).then(|| r.json())
            })
            .collect::<Option<_>>()?;
        let first = &states[0]["applied_index"];
        states
            .iter()
            .all(|s| s["applied_index"] == *first)
            .then_some(states)
    });
    for (id, state) in running.iter().zip(&states) {
        assert_eq!(
            *state, states[0],
            "node {id} differs from node {}",
            running[0]
        );
    }
    states.into_iter().next().expect("running nodes")
}

#[test]
fn expiry_and_versions_agree_on_every_node_across_a_restart_and_a_leader_change() {
    let mut c = Cluster::start(3);
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let absent = (1..=3).find(|&id| id != leader).unwrap();
    let mut t = TextClient::connect(text_port(&c, leader));
    let v_keep = t.set("keep", 0, b"k");
    let v_brief = t.set("brief", 2, b"b");
    wait_for(
        "the write to reach every node",
        Duration::from_secs(5),
        || {
            (1..=3)
                .all(|id| applied_index(&c, id) >= Some(v_brief))
                .then_some(())
        },
    );

    // One node is down while the key expires; the others purge it.
    c.kill(absent);
    wait_for("the key to expire", Duration::from_secs(6), || {
        (t.call(b"getm brief\r\n") == "ERR_NOT_FOUND").then_some(())
    });
    wait_for("the purge to apply", Duration::from_secs(5), || {
        c.txlog(leader)
            .iter()
            .any(|l| l.contains("kv.purge") && l.ends_with("purged=1"))
            .then_some(())
    });

    // Back after the expiry time, the node rebuilds the same state from the same stamps.
    c.start_node(absent);
    let state = converged_state(&c);
    assert!(state["kv"].get("brief").is_none(), "{state}");
    assert_eq!(state["kv"]["keep"]["version"], v_keep);
    assert!(state["now_ms"].as_u64() > Some(0));
    for id in 1..=3 {
        let r = c
            .request("GET", id, "/v1/kv/brief?consistency=local&meta=true", None)
            .unwrap();
        assert_eq!(r.status, 404, "node {id}: {}", r.body);
        let r = c
            .request("GET", id, "/v1/kv/keep?consistency=local&meta=true", None)
            .unwrap();
        assert_eq!(r.json()["version"], v_keep, "node {id}");
    }
    assert_eq!(c.txlog(absent), c.txlog(leader), "the same history");

    // The leader goes away; a new one keeps every version and adds new ones above them.
    drop(t);
    c.kill(leader);
    let new_leader = c.wait_for_leader(Duration::from_secs(10));
    assert_ne!(new_leader, leader);
    let mut t = TextClient::connect(text_port(&c, new_leader));
    let v_after = t.set("after", 0, b"a");
    assert!(v_after > v_brief);
    let v_cas = t.call(format!("cas keep 0 {v_keep} 2\r\nk2\r\n").as_bytes());
    let v_cas = support::text::version_of(&v_cas);
    c.start_node(leader);
    let state = converged_state(&c);
    assert_eq!(state["kv"]["keep"]["version"], v_cas);
    assert_eq!(state["kv"]["after"]["version"], v_after);
    for id in 1..=3 {
        let mut t = TextClient::connect(text_port(&c, id));
        assert_eq!(
            t.call(b"getm keep\r\n"),
            format!("VALUE {v_cas} 0 2\r\nk2"),
            "node {id}"
        );
    }
}
