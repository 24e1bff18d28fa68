//! Fault scenario 6 — bad input survives (three `raftkv node` processes): random bytes and
//! unsealed frames (garbage, truncated MessagePack, an envelope from an unknown id) on the raft
//! port, malformed and oversized HTTP requests. Each node logs and counts what it refused
//! (`/metrics`) and the cluster keeps committing. Sealed frames that are malformed inside are
//! covered by `cluster_hostile.rs`; attacks on the raft port by `fault_raft_port.rs`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::{wait_for, Cluster};
use bytes::Bytes;
use raftkv::cluster::wire;
use raftkv::raft::{Body, Entry, Message, Payload};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use zeromq::{DealerSocket, Socket, SocketSend, ZmqMessage};

const BOUND: Duration = Duration::from_secs(15);

/// Writes `bytes` on a fresh TCP connection to `addr`, then reads whatever comes back until the
/// peer closes or a second passes (the node must answer or close, not hang or crash).
fn raw_tcp(addr: &str, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    // The node may close the connection before reading everything: that is a fine answer.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// A real replication message, so truncating its encoding gives realistic torn frames.
fn append_message() -> Message {
    Message {
        term: 1,
        body: Body::Append {
            prev_log_index: 0,
            prev_log_term: 0,
            entries: vec![Entry {
                index: 1,
                term: 1,
                payload: Payload::Command(Bytes::from_static(b"a command")),
            }],
            leader_commit: 0,
        },
    }
}

/// A ZeroMQ peer that sent bad frames. Its socket delivers them in the background, on its own
/// runtime's worker thread: keep it until the node has counted them.
struct BadPeer {
    runtime: tokio::runtime::Runtime,
    dealer: Option<DealerSocket>,
}

impl Drop for BadPeer {
    fn drop(&mut self) {
        // Close the socket inside its runtime.
        let dealer = self.dealer.take();
        self.runtime.block_on(async move { drop(dealer) });
    }
}

/// Sends bad, unsealed frames to `addr` over ZeroMQ, as a peer without the cluster secret would;
/// the node must refuse the connection at its first frame.
fn send_bad_frames(addr: &str, member: u64, rng: &mut StdRng) -> BadPeer {
    // Multi-threaded: its worker keeps flushing the socket after `block_on` returns.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dealer = runtime.block_on(async {
        let mut dealer = DealerSocket::new();
        dealer
            .connect(&format!("tcp://{addr}"))
            .await
            .expect("zmq connect");
        let mut frames = Vec::new();
        for _ in 0..20 {
            let mut bytes = vec![0u8; rng.random_range(1..512)];
            rng.fill_bytes(&mut bytes);
            // 0x93 starts a 3-element array: garbage that looks like an envelope at first.
            if rng.random_bool(0.5) {
                bytes[0] = 0x93;
            }
            frames.push(Bytes::from(bytes));
        }
        let valid = wire::encode(member, 1, &append_message()).expect("encode");
        for cut in [1, 2, valid.len() / 2, valid.len() - 1] {
            frames.push(valid.slice(..cut));
        }
        // Well-formed MessagePack from a member, but not a Raft message.
        frames.push(wire::encode(member, 2, &"not a raft message".to_string()).expect("encode"));
        // A well-formed Raft message from an id that is not a member.
        frames.push(wire::encode(99, 3, &append_message()).expect("encode"));
        // The node closes the connection at the first frame; later sends may fail.
        for frame in frames {
            let _ = dealer.send(ZmqMessage::from(frame)).await;
        }
        dealer
    });
    BadPeer {
        runtime,
        dealer: Some(dealer),
    }
}

/// A request the node must refuse: method, path, body, headers, and the expected status.
type BadRequest = (
    &'static str,
    String,
    Vec<u8>,
    Vec<(&'static str, &'static str)>,
    u16,
);

/// The value of a `/metrics` sample, by its exact name and labels.
fn metric(c: &Cluster, id: u64, sample: &str) -> Option<u64> {
    let reply = c.request("GET", id, "/metrics", None).ok()?;
    reply
        .body
        .lines()
        .find_map(|l| l.strip_prefix(sample)?.trim().parse().ok())
}

fn dropped(c: &Cluster, id: u64, reason: &str) -> Option<u64> {
    let sample = format!("raftkv_network_messages_dropped_total{{reason=\"{reason}\"}}");
    metric(c, id, &sample)
}

fn put(c: &Cluster, key: &str, value: &str) -> u16 {
    c.request_follow("PUT", 1, &format!("/v1/kv/{key}"), Some(value.as_bytes()))
        .expect("a node answers")
        .status
}

#[test]
fn bad_input_is_dropped_counted_and_logged_and_the_cluster_keeps_committing() {
    let c = Cluster::start(3);
    let all: Vec<u64> = (1..=3).collect();
    let (leader, _) = c.wait_for_leader_above(&all, 0, BOUND);
    assert_eq!(put(&c, "before", "1"), 200);
    let mut rng = StdRng::seed_from_u64(6);

    // The raft port of every node.
    let mut bad_peers = Vec::new();
    for &id in &all {
        let raft = format!("127.0.0.1:{}", c.ports[id as usize - 1].0);
        for _ in 0..3 {
            let mut garbage = vec![0u8; rng.random_range(1..4096)];
            rng.fill_bytes(&mut garbage);
            raw_tcp(&raft, &garbage);
        }
        let member = if id == 1 { 2 } else { 1 };
        bad_peers.push(send_bad_frames(&raft, member, &mut rng));
        assert_eq!(put(&c, &format!("during-{id}"), "x"), 200);
    }
    for &id in &all {
        wait_for(
            &format!("node {id} to refuse the unsealed peer"),
            BOUND,
            || (dropped(&c, id, "auth")? >= 1).then_some(()),
        );
        let out = c.output(id);
        assert!(
            out.contains("refused a raft connection"),
            "node {id} did not log the refusal"
        );
        // Nothing unsealed got as far as the decoder.
        assert_eq!(dropped(&c, id, "decode"), Some(0), "node {id}");
        assert_eq!(dropped(&c, id, "unknown_sender"), Some(0), "node {id}");
    }

    drop(bad_peers);

    // The HTTP port of the leader: malformed, oversized, lying requests.
    let http = c.http_addr(leader);
    let garbage = raw_tcp(&http, b"\x00\x01\x02 this is not HTTP\r\n\r\n");
    assert!(
        garbage.is_empty() || garbage.starts_with("HTTP/1.1 400"),
        "{garbage:?}"
    );
    let bad_header = raw_tcp(&http, b"GET /v1/status HTTP/1.1\r\nno colon here\r\n\r\n");
    assert!(
        bad_header.is_empty() || bad_header.starts_with("HTTP/1.1 4"),
        "{bad_header:?}"
    );
    let huge_header = format!(
        "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Junk: {}\r\n\r\n",
        "j".repeat(300_000)
    );
    let answer = raw_tcp(&http, huge_header.as_bytes());
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer:?}"
    );
    // Promises a 1000-byte body, sends 5 bytes, hangs up: nothing may be applied.
    raw_tcp(
        &http,
        b"PUT /v1/kv/lie HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nshort",
    );
    let student = br#"{"name":"Ada","address":"1 Main St","phone":"555"}"#;
    let cases: Vec<BadRequest> = vec![
        (
            "PUT",
            "/v1/students/1".into(),
            b"{nope".to_vec(),
            vec![],
            400,
        ),
        (
            "PUT",
            "/v1/students/abc".into(),
            student.to_vec(),
            vec![],
            400,
        ),
        (
            "PUT",
            "/v1/students/1".into(),
            br#"{"name":1}"#.to_vec(),
            vec![],
            400,
        ),
        ("PUT", "/v1/kv/big".into(), vec![b'x'; 70_000], vec![], 413),
        ("POST", "/sPush".into(), b"1,x".to_vec(), vec![], 400),
        ("POST", "/v1/stacks".into(), vec![b'['; 10_000], vec![], 400),
        (
            "PUT",
            "/v1/kv/s".into(),
            b"v".to_vec(),
            vec![("Client-Id", "seven"), ("Request-Seq", "1")],
            400,
        ),
        (
            "PUT",
            "/v1/kv/s".into(),
            b"v".to_vec(),
            vec![("Client-Id", "7")],
            400,
        ),
    ];
    for (method, path, body, headers, status) in cases {
        let url = c.url(leader, &path);
        let reply = c
            .request_with(method, &url, Some(&body), &headers)
            .expect("the leader answers");
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
    }

    // Nobody crashed; the cluster still commits, and nothing bad was applied.
    for i in 0..20 {
        assert_eq!(put(&c, &format!("after-{i}"), "y"), 200);
    }
    let state = c.wait_converged(&all, BOUND);
    let kv = state["kv"].as_object().expect("kv");
    assert_eq!(
        kv.len(),
        1 + all.len() + 20,
        "only the good writes: {state}"
    );
    assert!(state["students"].as_array().is_some_and(Vec::is_empty));
    for id in all {
        assert!(c.is_running(id) && c.status(id).is_some(), "node {id} died");
    }
    // One series per reason: their sum is every drop.
    let total: u64 = (1..=3)
        .filter_map(|id| c.request("GET", id, "/metrics", None).ok())
        .flat_map(|reply| {
            reply
                .body
                .lines()
                .filter(|l| l.starts_with("raftkv_network_messages_dropped_total{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum();
    eprintln!(
        "scenario 6: 3 garbage TCP streams and one unsealed ZeroMQ peer per node, 12 bad HTTP \
         requests; {total} raft messages counted dropped; 21 writes committed after"
    );
}
