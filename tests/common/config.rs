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

/// Ports the OS says are free right now (held until all are chosen, so they are distinct).
pub fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// One node's raft, http and text ports.
#[derive(Clone, Copy, Debug)]
pub struct NodePorts {
    pub raft: u16,
    pub http: u16,
    pub text: u16,
}

/// Writes `<dir>/cluster.toml` for `n` nodes on free ports, with `extra` lines appended to
/// `[cluster]`; returns its path and the ports of nodes 1..=n.
pub fn write_config(dir: &Path, n: u64, extra: &str) -> (PathBuf, Vec<NodePorts>) {
    let ports: Vec<NodePorts> = free_ports(3 * n as usize)
        .chunks(3)
        .map(|c| NodePorts {
            raft: c[0],
            http: c[1],
            text: c[2],
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
             text = \"127.0.0.1:{}\"\n",
            i + 1,
            p.raft,
            p.http,
            p.text
        ));
    }
    let path = dir.join("cluster.toml");
    std::fs::write(&path, text).expect("write config");
    (path, ports)
}

/// Node `id`'s transaction log file under a cluster dir.
pub fn txlog_path(dir: &Path, id: u64) -> PathBuf {
    dir.join("logs").join(format!("node-{id}.log"))
}
