//! The HTTP API of a real cluster: the seeds' curl commands, redirects and errors, the response
//! counters in `/metrics`, and the data directory's lock against a second node process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support;
use crate::support::Cluster;

#[test]
fn seed_stack_commands_work_against_any_node_and_follow_redirects() {
    // Redirect mode: a follower answers 307 instead of forwarding (tests/node/node_forwarding.rs).
    let c = Cluster::start_with(3, "follower_requests = \"redirect\"");
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let follower = (1..=3).find(|&id| id != leader).unwrap();
    let post = |path: &str, body: &str| {
        let r = c
            .request_follow("POST", follower, path, Some(body.as_bytes()))
            .expect("node answers");
        assert_eq!(r.status, 200, "{path} {body}: {}", r.body);
        r.body.trim().to_string()
    };
    let id = post("/sCreate", "1");
    assert_eq!(post("/sId", "1"), id);
    assert_eq!(post("/sCreate", "1"), id, "an existing label keeps its id");
    assert_eq!(post("/sPush", &format!("{id},10")), "1");
    assert_eq!(post("/sPush", &format!("{id},20")), "2");
    assert_eq!(post("/sTop", &id), "20");
    assert_eq!(post("/sSize", &id), "2");
    assert_eq!(post("/sPop", &id), "20");
    assert_eq!(post("/sSize", &id), "1");

    // In redirect mode a follower redirects writes to the leader with 307 and the same path.
    let r = c
        .request(
            "POST",
            follower,
            "/sPush",
            Some(format!("{id},5").as_bytes()),
        )
        .unwrap();
    assert_eq!(r.status, 307);
    assert_eq!(
        r.location.as_deref(),
        Some(c.url(leader, "/sPush").as_str())
    );
}

#[test]
fn kv_students_and_errors() {
    let c = Cluster::start(3);
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let r = c
        .request("PUT", leader, "/v1/kv/mykey", Some(b"this is awesome"))
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let index = r.json()["index"].as_u64().unwrap();
    assert!(index >= 2, "after the leader's no-op");
    for id in 1..=3 {
        let r = c.request("GET", id, "/v1/kv/mykey", None).unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "this is awesome"));
    }
    let r = c.request("GET", leader, "/v1/kv/nokey", None).unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "not_found");

    let student = br#"{"name":"Ada","address":"1 Main St","phone":"555"}"#;
    let r = c
        .request("PUT", leader, "/v1/students/7", Some(student))
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c.request("GET", leader, "/v1/students/7", None).unwrap();
    assert_eq!(r.json()["name"], "Ada");
    let r = c.request("GET", leader, "/v1/students", None).unwrap();
    assert_eq!(r.json().as_array().unwrap().len(), 1);

    // Bad input: malformed JSON, a non-numeric id, an oversized value, an unknown route.
    let r = c
        .request("PUT", leader, "/v1/students/8", Some(b"{nope"))
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("bad_request"))
    );
    let r = c.request("GET", leader, "/v1/students/abc", None).unwrap();
    assert_eq!(r.status, 400);
    let big = vec![b'x'; 70_000];
    let r = c.request("PUT", leader, "/v1/kv/big", Some(&big)).unwrap();
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (413, Some("too_large"))
    );
    let r = c.request("GET", leader, "/v2/nothing", None).unwrap();
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (404, Some("unknown_route"))
    );

    // Every node logged the same operations in the same order.
    support::wait_for("transaction logs to match", Duration::from_secs(5), || {
        let logs: Vec<_> = (1..=3).map(|id| c.txlog(id)).collect();
        (logs[0].len() >= 3 && logs.iter().all(|l| *l == logs[0])).then_some(())
    });
}

#[test]
fn a_retried_request_is_applied_once_even_through_another_node() {
    let c = Cluster::start(3);
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let others: Vec<u64> = (1..=3).filter(|&id| id != leader).collect();
    let r = c
        .request_follow("POST", leader, "/v1/stacks", Some(br#"{"label":5}"#))
        .unwrap();
    let stack = r.json()["stack_id"].as_u64().unwrap();
    let path = format!("/v1/stacks/{stack}/push");
    let session = [("Client-Id", "42"), ("Request-Seq", "1")];
    // The same (client, seq) sent to two different nodes, following the redirect by hand.
    let mut answers = Vec::new();
    for &id in &others {
        let mut url = c.url(id, &path);
        let reply = loop {
            let r = c
                .request_with("POST", &url, Some(br#"{"item":7}"#), &session)
                .unwrap();
            match (r.status, &r.location) {
                (307, Some(loc)) => url = loc.clone(),
                _ => break r,
            }
        };
        assert_eq!(reply.status, 200, "{}", reply.body);
        answers.push(reply.json());
    }
    assert_eq!(answers[0], answers[1], "the retry gets the first answer");
    let r = c
        .request("GET", leader, &format!("/v1/stacks/{stack}/size"), None)
        .unwrap();
    assert_eq!(r.json()["size"], 1, "pushed once, not twice");
    // A lower seq from the same client is refused as stale.
    let stale = [("Client-Id", "42"), ("Request-Seq", "0")];
    let r = c
        .request_with(
            "POST",
            &c.url(leader, &path),
            Some(br#"{"item":8}"#),
            &stale,
        )
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (409, Some("stale_request"))
    );
}

#[test]
fn without_a_majority_writes_get_503_and_reads_refuse() {
    let mut c = Cluster::configure(3, "");
    c.start_node(1);
    support::wait_for("node 1 to answer", Duration::from_secs(10), || c.status(1));
    let r = c.request("PUT", 1, "/v1/kv/k", Some(b"v")).unwrap();
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["error"], "no_leader");
    let r = c.request("GET", 1, "/v1/kv/k", None).unwrap();
    assert_eq!(
        r.status, 503,
        "a linearizable read needs a leader: {}",
        r.body
    );
    let r = c
        .request("GET", 1, "/v1/kv/k?consistency=local", None)
        .unwrap();
    assert_eq!(
        r.status, 404,
        "a local read answers from the (empty) local state"
    );
    assert!(
        c.txlog(1).is_empty(),
        "nothing was applied without a majority"
    );
}

/// `raftkv_http_responses_total` of node `id`, by (status, error) label.
fn http_responses(c: &Cluster, id: u64) -> HashMap<(String, String), u64> {
    let r = c
        .request("GET", id, "/metrics", None)
        .expect("node answers");
    assert_eq!(r.status, 200, "{}", r.body);
    let label = |line: &str, name: &str| -> String {
        let start = line.find(&format!("{name}=\"")).expect("label") + name.len() + 2;
        line[start..]
            .split('"')
            .next()
            .expect("closing quote")
            .to_string()
    };
    r.body
        .lines()
        .filter(|l| l.starts_with("raftkv_http_responses_total{"))
        .map(|l| {
            let count = l
                .rsplit(' ')
                .next()
                .expect("value")
                .parse()
                .expect("a count");
            ((label(l, "status"), label(l, "error")), count)
        })
        .collect()
}

#[test]
fn http_responses_are_counted_by_status_and_error_code_in_metrics() {
    let c = Cluster::start(1);
    c.wait_for_leader(Duration::from_secs(10));
    let before = http_responses(&c, 1);
    let expect = |method: &str, path: &str, body: Option<&[u8]>, status: u16| {
        let r = c.request(method, 1, path, body).expect("node answers");
        assert_eq!(r.status, status, "{method} {path}: {}", r.body);
    };
    expect("GET", "/v2/nothing", None, 404);
    expect("DELETE", "/v2/nothing", None, 404);
    expect("PUT", "/v1/students/8", Some(b"{nope"), 400);
    expect("GET", "/v1/kv/nokey", None, 404);
    expect("PUT", "/v1/kv/k", Some(b"v"), 200);
    // A known path with another method: actix-web's own 405, not an API error.
    expect("POST", "/metrics", None, 405);
    let after = http_responses(&c, 1);

    let moved = |status: &str, error: &str| {
        let key = (status.to_string(), error.to_string());
        after.get(&key).copied().unwrap_or(0) - before.get(&key).copied().unwrap_or(0)
    };
    assert_eq!(moved("404", "unknown_route"), 2, "{after:?}");
    assert_eq!(moved("400", "bad_request"), 1, "{after:?}");
    assert_eq!(moved("404", "not_found"), 1, "{after:?}");
    assert_eq!(moved("405", "other"), 1, "{after:?}");
    // The PUT, and the first /metrics: a response is counted after its body is rendered.
    assert_eq!(moved("200", "none"), 2, "{after:?}");
    let total = |m: &HashMap<_, u64>| m.values().sum::<u64>();
    assert_eq!(total(&after) - total(&before), 7, "{after:?}");
}

/// Kills a stray node process if a test fails before it exits on its own.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A copy of `config` in which node `id` listens on fresh ports but keeps its data and log dirs:
/// only the data directory's lock can stop a second node started with it.
fn config_with_new_ports(c: &Cluster, id: u64, dir: &Path) -> PathBuf {
    let mut text = std::fs::read_to_string(&c.config_path).expect("read the config");
    let (raft, http, tcp) = c.ports[id as usize - 1];
    let grpc = c.grpc_ports[id as usize - 1];
    for (old, new) in [raft, http, tcp, grpc]
        .into_iter()
        .zip(support::free_ports(4))
    {
        let (old, new) = (
            format!("\"127.0.0.1:{old}\""),
            format!("\"127.0.0.1:{new}\""),
        );
        assert_eq!(text.matches(&old).count(), 1, "{old} in {text}");
        text = text.replace(&old, &new);
    }
    let path = dir.join("same-data-other-ports.toml");
    std::fs::write(&path, text).expect("write the config copy");
    path
}

#[test]
fn a_second_node_on_a_data_dir_in_use_refuses_to_start_and_the_first_keeps_serving() {
    let mut c = Cluster::start(1);
    c.wait_for_leader(Duration::from_secs(10));
    let r = c.request("PUT", 1, "/v1/kv/k", Some(b"v")).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);

    let copy_dir = tempfile::tempdir().unwrap();
    let copy = config_with_new_ports(&c, 1, copy_dir.path());
    let second = Command::new(env!("CARGO_BIN_EXE_raftkv"))
        .args(["node", "--id", "1", "--config"])
        .arg(&copy)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a second raftkv node");
    let mut second = KillOnDrop(second);
    let status = support::wait_for("the second node to exit", Duration::from_secs(10), || {
        second.0.try_wait().expect("try_wait")
    });
    let mut stderr = String::new();
    std::io::Read::read_to_string(second.0.stderr.as_mut().expect("piped stderr"), &mut stderr)
        .unwrap();
    assert_eq!(
        status.code(),
        Some(2),
        "the could-not-start code; stderr: {stderr}"
    );
    let holder: u32 = std::fs::read_to_string(c.data_dir(1).join("LOCK"))
        .expect("the lock file")
        .trim()
        .parse()
        .expect("the holder's pid");
    assert_ne!(holder, std::process::id());
    let data_dir = c.data_dir(1).display().to_string();
    assert!(
        stderr.lines().count() == 1
            && stderr.contains(&data_dir)
            && stderr.contains(&format!("another process (pid {holder}) holds it")),
        "{stderr}"
    );

    // The first node never noticed: it still reads and writes.
    let r = c.request("GET", 1, "/v1/kv/k", None).unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "v"));
    let r = c.request("PUT", 1, "/v1/kv/k2", Some(b"v2")).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);

    // SIGKILL leaves the lock file behind, but not the lock: the node restarts on its data.
    c.restart(1);
    c.wait_for_leader(Duration::from_secs(10));
    let r = c.request("GET", 1, "/v1/kv/k2", None).unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "v2"));
}

/// A port taken by someone else stops the node at start with exit 2 and the address in the
/// message: before the fix the actor, already started, panicked as it was dropped.
#[test]
fn a_node_whose_http_or_text_port_is_taken_exits_2_naming_it() {
    let c = Cluster::configure(1, "");
    // The text port first: the node binds http before text, and a port this test held and let go
    // can still be open for a moment in a child another test is forking (until its exec closes
    // it), so the node must never need a port this test already released.
    for (port, what) in [(c.ports[0].2, "text"), (c.ports[0].1, "http")] {
        let _taken = std::net::TcpListener::bind(("127.0.0.1", port)).expect("take the port");
        let out = Command::new(env!("CARGO_BIN_EXE_raftkv"))
            .args(["node", "--id", "1", "--config"])
            .arg(&c.config_path)
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("run raftkv node");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
            "{what}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    }
}

/// The cluster view's endpoints on a node started without `--ui-controls`: the page, the node's
/// view with its indexes and the leader's progress, one Server-Sent Event, and the controls
/// refused (404, nothing stopped) with the flag named.
#[test]
fn the_cluster_view_is_served_and_its_controls_are_off_by_default() {
    let c = Cluster::start(3);
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let page = c.request("GET", leader, "/ui", None).unwrap();
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("/v1/events"),
        "the page opens the stream"
    );

    let view = c.request("GET", leader, "/v1/view", None).unwrap().json();
    assert_eq!(view["role"], "leader");
    assert_eq!(view["controls"], false);
    let followers: Vec<u64> = view["progress"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_u64())
        .collect();
    assert_eq!(followers.len(), 2, "{view}");
    assert!(!followers.contains(&leader));

    // The stream sends a view at once; read the first event only.
    let mut reply = ureq::get(format!("http://{}/v1/events", c.http_addr(leader)))
        .call()
        .unwrap();
    assert_eq!(
        reply.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut first = String::new();
    let mut reader = std::io::BufReader::new(reply.body_mut().as_reader());
    while !first.starts_with("data: ") {
        first.clear();
        std::io::BufRead::read_line(&mut reader, &mut first).unwrap();
    }
    let event: serde_json::Value = serde_json::from_str(&first["data: ".len()..]).unwrap();
    assert_eq!(event["id"], leader);

    let body = br#"{"action":"stop","node":1}"#;
    let refused = c
        .request("POST", leader, "/v1/ui/control", Some(body))
        .unwrap();
    assert_eq!(refused.status, 404, "{}", refused.body);
    assert!(refused.body.contains("--ui-controls"), "{}", refused.body);
    assert_eq!(
        c.wait_for_leader(Duration::from_secs(10)),
        leader,
        "nothing stopped"
    );
}
