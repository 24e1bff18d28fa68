//! The health endpoints (`/livez`, `/readyz`, `/health`, `/version`) of real `raftkv node`
//! processes: all green on a healthy cluster; on a follower cut off from its peers (test fault
//! switch) readiness and etcd's `/health` turn red while liveness stays green. And
//! `raftkv endpoint health`, which reads `/health` of every endpoint.

use std::time::Duration;

use crate::support::cli::raftkv;
use crate::support::{wait_for, Cluster};

const BOUND: Duration = Duration::from_secs(15);

#[test]
fn an_isolated_follower_is_live_but_not_ready() {
    let c = Cluster::start_with(3, "test_faults = true");
    let leader = c.wait_for_leader(BOUND);
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");

    // Healthy: every check passes on every node (a follower may lag an instant behind).
    for id in 1..=3 {
        wait_for("readyz 200", BOUND, || {
            let r = c.request("GET", id, "/readyz", None).ok()?;
            (r.status == 200).then_some(())
        });
        let r = c.request("GET", id, "/readyz?verbose", None).unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(
            r.body, "[+]leader ok\n[+]applied ok\nreadyz check passed\n",
            "node {id}"
        );
        let r = c.request("GET", id, "/health", None).unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.json()["health"], "true", "{r:?}");
        let r = c.request("GET", id, "/livez", None).unwrap();
        assert_eq!((r.status, r.json()["live"].as_bool()), (200, Some(true)));
        let r = c.request("GET", id, "/version", None).unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        let v = r.json();
        for key in ["raftkv", "etcdserver", "etcdcluster"] {
            assert_eq!(v[key], env!("CARGO_PKG_VERSION"), "{key} in {v}");
        }
    }

    let r = c
        .request("POST", follower, "/v1/test/isolate", None)
        .expect("node answers");
    assert_eq!(r.status, 200, "{r:?}");

    // Once its election timeout passes it campaigns and forgets the leader: not ready.
    let r = wait_for("readyz 503 on the isolated follower", BOUND, || {
        let r = c.request("GET", follower, "/readyz?verbose", None).ok()?;
        (r.status == 503).then_some(r)
    });
    assert!(r.body.contains("[-]leader: no leader known"), "{}", r.body);
    assert!(r.body.ends_with("readyz check failed\n"), "{}", r.body);
    let r = c.request("GET", follower, "/readyz", None).unwrap();
    assert_eq!(r.status, 503, "{r:?}");
    let r = c.request("GET", follower, "/health", None).unwrap();
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.json()["health"], "false", "{r:?}");
    assert_eq!(r.json()["reason"], "RAFT NO LEADER", "{r:?}");
    let r = c.request("GET", follower, "/livez", None).unwrap();
    assert_eq!(r.status, 200, "still live: {r:?}");

    // The majority is unaffected.
    let r = c.request("GET", leader, "/health", None).unwrap();
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn endpoint_health_names_a_dead_node() {
    let mut c = Cluster::start(3);
    c.wait_for_leader(BOUND);
    let all = c.endpoints(&[1, 2, 3]);
    let run = wait_for("every endpoint healthy", BOUND, || {
        let run = raftkv(&["--endpoints", &all, "endpoint", "health"]);
        (run.code == 0).then_some(run)
    });
    for id in 1..=3 {
        let line = format!(
            "{} is healthy: successfully read through the quorum: took = ",
            c.http_addr(id)
        );
        assert!(run.stdout.contains(&line), "{run:?}");
    }
    let status = raftkv(&["--endpoints", &all, "endpoint", "status"]);
    assert_eq!(status.lines().len(), 3, "{status:?}");

    c.kill(3);
    let dead = c.http_addr(3);
    // If node 3 led, the others' quorum reads fail until they elect a leader of their own.
    let run = wait_for("the two live nodes healthy again", BOUND, || {
        let run = raftkv(&["--endpoints", &all, "endpoint", "health"]);
        (1..=2)
            .all(|id| run.stdout.contains(&c.http_addr(id)))
            .then_some(run)
    });
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("{dead} is unhealthy: connection refused")),
        "{run:?}"
    );
    assert!(
        run.stderr.contains(&format!("unhealthy endpoints: {dead}")),
        "{run:?}"
    );
}

/// `raftkv node` without a config does not quietly become a node of the built-in local cluster:
/// it refuses at once, says what to pass, and exits with the could-not-start code.
#[test]
fn a_node_without_a_config_refuses_to_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_raftkv"))
        .args(["node", "--id", "1"])
        .env_remove("RAFTKV_CONFIG")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run raftkv node");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("--config FILE"), "{stderr}");
    assert!(stderr.contains("--default-cluster"), "{stderr}");
}

/// With `--log-format json` every line a node writes is one JSON object with the same fields
/// the logfmt lines carry, its node id among them.
#[test]
fn json_logs_are_one_object_per_line() {
    let mut c = Cluster::configure(1, "");
    let config = c.config_path.clone();
    c.start_node_args(1, &config, &["--log-format", "json"]);
    c.wait_for_leader(BOUND);
    let lines = wait_for("a leader log line", BOUND, || {
        let output = c.output(1);
        output
            .contains("leader")
            .then(|| output.lines().map(str::to_string).collect::<Vec<_>>())
    });
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert_eq!(v["node"], 1, "{line}");
        for field in ["ts", "level", "target", "msg"] {
            assert!(v[field].is_string(), "{field} in {line}");
        }
    }
}

/// `/health` reads through the quorum (one linearizable read per call, counted in
/// `raftkv_server_reads_total`), as etcd's does; `?serializable=true` skips that read.
#[test]
fn health_reads_through_the_quorum_unless_serializable() {
    let c = Cluster::start(3);
    let leader = c.wait_for_leader(BOUND);
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");
    let reads = |id: u64| -> u64 {
        let r = c.request("GET", id, "/metrics", None).unwrap();
        let line = r
            .body
            .lines()
            .find(|l| l.starts_with("raftkv_server_reads_total "))
            .unwrap_or_else(|| panic!("no reads counter in {}", r.body));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    for id in [leader, follower] {
        let before = reads(id);
        let r = c.request("GET", id, "/health", None).unwrap();
        assert_eq!((r.status, r.json()["health"].clone()), (200, "true".into()));
        assert_eq!(reads(id), before + 1, "node {id}: one quorum read");
        let r = c
            .request("GET", id, "/health?serializable=true", None)
            .unwrap();
        assert_eq!((r.status, r.json()["health"].clone()), (200, "true".into()));
        assert_eq!(
            reads(id),
            before + 1,
            "node {id}: no read when serializable"
        );
    }
}
