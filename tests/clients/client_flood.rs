//! A flood on every client door (issue 15's acceptance): 10,000 connections spread over the HTTP,
//! text and gRPC ports of a three-node cluster, each sending an oversized or malformed request
//! and then holding the connection open. The nodes stay up, their memory stays bounded, and an
//! ordinary client is served while the flood is still open.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{wait_for, Cluster};

const CONNECTIONS: usize = 10_000;
/// Each listener holds this many connections; the flood brings ~1,100 to each.
const PER_LISTENER: usize = 500;
/// A node's resident memory may not exceed this while flooded.
const RSS_LIMIT_BYTES: u64 = 1 << 30;

/// Raises this process's open-files limit to its hard limit, as the nodes do; the flood needs
/// one descriptor per connection.
fn raise_open_files() -> u64 {
    raftkv::security::limits::raise_open_files_limit()
}

/// Resident set size of a process, from /proc.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The junk sent on connection `i` of a door: a different kind of bad request each time.
fn junk(door: usize, i: usize) -> Vec<u8> {
    match (door, i % 3) {
        // HTTP: an endless header, a body claimed far over the limit, bytes that are not HTTP.
        (0, 0) => [
            &b"GET /v1/kv/a HTTP/1.1\r\nX-Junk: "[..],
            &vec![b'a'; 64 << 10],
        ]
        .concat(),
        (0, 1) => b"PUT /v1/kv/a HTTP/1.1\r\nContent-Length: 1000000000\r\n\r\nxxxx".to_vec(),
        (0, _) => vec![0xff; 4096],
        // Text: a value length over the limit, an unknown command, a line that never ends.
        (1, 0) => b"set k 0 99999999999\r\n".to_vec(),
        (1, 1) => b"frobnicate\r\n\x00\x01\x02\r\n".to_vec(),
        (1, _) => vec![b'z'; 32 << 10],
        // gRPC: no HTTP/2 preface, or a preface then garbage frames.
        (_, 0) => vec![0x00; 4096],
        (_, 1) => [&b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..], &[0xff; 1024][..]].concat(),
        (_, _) => b"GET / HTTP/1.1\r\n\r\n".to_vec(),
    }
}

#[test]
fn ten_thousand_bad_connections_leave_every_node_up_bounded_and_serving() {
    // Ten thousand sockets and three nodes busy with them: no other test's cluster shares the
    // machine meanwhile.
    let _alone = crate::support::machine::whole();
    let open_files = raise_open_files();
    assert!(
        open_files >= CONNECTIONS as u64 + 512,
        "the flood needs {CONNECTIONS} descriptors; the hard limit is {open_files}"
    );
    let extra = format!("max_connections_per_listener = {PER_LISTENER}");
    let mut cluster = Cluster::configure(3, &extra);
    for id in 1..=3 {
        cluster.start_node(id);
    }
    let leader = cluster.wait_for_leader(Duration::from_secs(30));
    let doors: Vec<SocketAddr> = (0..3)
        .flat_map(|n| {
            let (_, http, text) = cluster.ports[n];
            let grpc = cluster.grpc_ports[n];
            [http, text, grpc].map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
        })
        .collect();

    // The flood: connect, send the junk without waiting for an answer, keep the socket.
    let mut held = Vec::with_capacity(CONNECTIONS);
    let mut refused = 0usize;
    for i in 0..CONNECTIONS {
        let door = i % doors.len();
        match TcpStream::connect_timeout(&doors[door], Duration::from_millis(200)) {
            Ok(mut stream) => {
                let _ = stream.set_nonblocking(true);
                let _ = stream.write(&junk(door % 3, i / doors.len()));
                held.push(stream);
            }
            Err(_) => refused += 1,
        }
    }
    eprintln!(
        "flood: {} connections open, {refused} not accepted",
        held.len()
    );

    // While the flood is open: every node is alive and within its memory bound, and an ordinary
    // client is served by HTTP and by the text protocol.
    for id in 1..=3 {
        assert!(!cluster.has_exited(id), "node {id} died under the flood");
        let rss = rss_bytes(cluster.pid(id).unwrap());
        eprintln!("node {id}: {} MiB resident", rss >> 20);
        assert!(rss < RSS_LIMIT_BYTES, "node {id} holds {rss} bytes");
    }
    let started = Instant::now();
    wait_for(
        "an ordinary write during the flood",
        Duration::from_secs(60),
        || {
            let put = cluster.request("PUT", leader, "/v1/kv/ordinary", Some(b"served"));
            put.ok().filter(|r| r.status == 200)
        },
    );
    let got = wait_for(
        "an ordinary read during the flood",
        Duration::from_secs(60),
        || {
            let get = cluster.request("GET", leader, "/v1/kv/ordinary", None);
            get.ok().filter(|r| r.status == 200)
        },
    );
    assert_eq!(got.body, "served");
    eprintln!(
        "ordinary client served {:?} into the flood",
        started.elapsed()
    );
    let text_addr = SocketAddr::from(([127, 0, 0, 1], cluster.ports[leader as usize - 1].2));
    let answer = wait_for(
        "a text-protocol get during the flood",
        Duration::from_secs(60),
        || {
            let mut s = TcpStream::connect_timeout(&text_addr, Duration::from_secs(1)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            s.write_all(b"get ordinary\r\n").ok()?;
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).ok()?;
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            text.starts_with("VALUE").then_some(text)
        },
    );
    assert_eq!(answer, "VALUE 6\r\nserved\r\n");

    // After the flood: all still up, and the value is on every node.
    drop(held);
    for id in 1..=3 {
        assert!(!cluster.has_exited(id), "node {id} died after the flood");
        let rss = rss_bytes(cluster.pid(id).unwrap());
        assert!(
            rss < RSS_LIMIT_BYTES,
            "node {id} holds {rss} bytes after the flood"
        );
        wait_for("the value on every node", Duration::from_secs(30), || {
            let r = cluster.request("GET", id, "/v1/kv/ordinary?consistency=local", None);
            r.ok().filter(|r| r.status == 200 && r.body == "served")
        });
    }
}
