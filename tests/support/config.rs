//! The config file every test cluster runs with: free loopback ports, short timeouts, data and
//! transaction logs under one temp dir. Self-contained (no `super::`), so the benchmark can include
//! it by path as well.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// The test clusters' timing: fast elections, so a suite with many leader changes stays short.
pub const TICK_MS: u64 = 10;
pub const HEARTBEAT_INTERVAL_MS: u64 = 30;
pub const ELECTION_TIMEOUT_MIN_MS: u64 = 150;
pub const ELECTION_TIMEOUT_MAX_MS: u64 = 300;
pub const REQUEST_TIMEOUT_MS: u64 = 2000;
pub const MAX_VALUE_BYTES: u64 = 65536;

/// Loopback ports that are free right now and outside the kernel's ephemeral range, distinct
/// across calls in this process.
///
/// A port the OS hands out for `bind(0)` comes from the ephemeral range, and so do the source
/// ports of outgoing connections: between choosing a port and the node binding it, a node's
/// reconnect attempts or a client could take it. Outside that range only another process that
/// chose the same number can, and each process starts its walk at a different place.
pub fn free_ports(count: usize) -> Vec<u16> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let Some((low, span)) = quiet_ports() else {
        return ephemeral_ports(count);
    };
    let start = std::process::id().wrapping_mul(7919) % span;
    let mut ports = Vec::with_capacity(count);
    for _ in 0..span {
        if ports.len() == count {
            break;
        }
        let port = low + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = u16::try_from(port).expect("quiet ports are below 65536");
        // Skips a port that a service on this machine or another test process holds.
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            ports.push(port);
        }
    }
    assert_eq!(
        ports.len(),
        count,
        "not enough free ports outside the ephemeral range"
    );
    ports
}

/// The first port and the size of a range the kernel never hands out on its own: below the
/// ephemeral range (from 10000), else above it; `None` if neither has 1000 ports.
fn quiet_ports() -> Option<(u32, u32)> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok();
    let (eph_low, eph_high) = range
        .as_deref()
        .and_then(|r| {
            let mut it = r.split_whitespace().map(|n| n.parse::<u32>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999));
    if eph_low >= 11_000 {
        Some((10_000, eph_low - 10_000))
    } else if eph_high <= 64_535 {
        Some((eph_high + 1, 65_535 - eph_high))
    } else {
        None
    }
}

/// The fallback: ports the OS says are free (held until all are chosen, so they are distinct).
fn ephemeral_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// One node's raft, http, text and gRPC ports.
#[derive(Clone, Copy, Debug)]
pub struct NodePorts {
    pub raft: u16,
    pub http: u16,
    pub text: u16,
    /// The etcd v3 gRPC API: written into every peer, so each test cluster has one.
    pub grpc: u16,
}

/// Writes `<dir>/cluster.toml` for `n` nodes on free ports, with `extra` lines appended to
/// `[cluster]`; returns its path and the ports of nodes 1..=n.
pub fn write_config(dir: &Path, n: u64, extra: &str) -> (PathBuf, Vec<NodePorts>) {
    let ports: Vec<NodePorts> = free_ports(4 * n as usize)
        .chunks(4)
        .map(|c| NodePorts {
            raft: c[0],
            http: c[1],
            text: c[2],
            grpc: c[3],
        })
        .collect();
    let mut text = format!(
        "[cluster]\ntick_ms = {TICK_MS}\nheartbeat_interval_ms = {HEARTBEAT_INTERVAL_MS}\n\
         election_timeout_min_ms = {ELECTION_TIMEOUT_MIN_MS}\n\
         election_timeout_max_ms = {ELECTION_TIMEOUT_MAX_MS}\ndata_dir = {:?}\nlog_dir = {:?}\n\
         max_value_bytes = {MAX_VALUE_BYTES}\nrequest_timeout_ms = {REQUEST_TIMEOUT_MS}\n{extra}\n",
        dir.join("data"),
        dir.join("logs"),
    );
    for (i, p) in ports.iter().enumerate() {
        text.push_str(&format!(
            "\n[[peers]]\nid = {}\nraft = \"127.0.0.1:{}\"\nhttp = \"127.0.0.1:{}\"\n\
             text = \"127.0.0.1:{}\"\ngrpc = \"127.0.0.1:{}\"\n",
            i + 1,
            p.raft,
            p.http,
            p.text,
            p.grpc
        ));
    }
    let path = dir.join("cluster.toml");
    std::fs::write(&path, text).expect("write config");
    // Every node of the cluster reads the default secret file, `<data_dir>/cluster.secret`.
    raftkv::config::secret::write_new_secret(&dir.join("data").join("cluster.secret"))
        .expect("write the cluster secret");
    (path, ports)
}

/// Node `id`'s transaction log file under a cluster dir.
pub fn txlog_path(dir: &Path, id: u64) -> PathBuf {
    dir.join("logs").join(format!("node-{id}.log"))
}
