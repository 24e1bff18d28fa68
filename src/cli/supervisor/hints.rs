//! What the supervisor prints once the cluster is up: where each node listens, the leader, and a few
//! commands to try next.

use std::path::Path;
use std::time::{Duration, Instant};

use super::painter::Painter;
use crate::cli::client;
use crate::config::Config;

/// How long to wait for a first leader before saying there is none yet.
const LEADER_WAIT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// `node1 listens on http://... (raft ..., text ..., grpc ...)`, one line per node; a node
/// without a gRPC address shows none.
pub fn print_addresses(painter: &Painter, config: &Config) {
    for p in config.peers() {
        let grpc = p
            .grpc
            .as_ref()
            .map(|g| format!(", grpc {g}"))
            .unwrap_or_default();
        painter.say(&format!(
            "{} listens on http://{} (raft {}, text {}{grpc})",
            Painter::node_name(p.id),
            p.http,
            p.raft,
            p.text
        ));
    }
}

/// On a thread of its own (it blocks on HTTP): waits for a leader, then prints it and the hints.
pub fn spawn_leader_watch(painter: Painter, config: Config, config_arg: Option<&Path>) {
    let flag = config_arg
        .map(|p| format!(" --config {}", p.display()))
        .unwrap_or_default();
    std::thread::spawn(move || match wait_for_leader(&config) {
        Some((leader, term)) => {
            let http = config
                .node(leader)
                .map(|p| p.http.to_string())
                .unwrap_or_default();
            painter.say(&format!(
                "leader: {} (http://{http}), term {term}",
                Painter::node_name(leader)
            ));
            for line in try_next(&config, leader, &flag) {
                painter.say(&line);
            }
        }
        None => painter.say(&format!(
            "no leader after {}s: is a majority of nodes up? (see their output above)",
            LEADER_WAIT.as_secs()
        )),
    });
}

/// Polls every node's status until one says it leads; its id and term.
fn wait_for_leader(config: &Config) -> Option<(u64, u64)> {
    let agent = client::agent(Duration::from_millis(500));
    let deadline = Instant::now() + LEADER_WAIT;
    while Instant::now() < deadline {
        for p in config.peers() {
            let status: Option<serde_json::Value> = agent
                .get(&format!("http://{}/v1/status", p.http))
                .call()
                .ok()
                .filter(|r| r.status() == 200)
                .and_then(|mut r| r.body_mut().read_to_vec().ok())
                .and_then(|body| serde_json::from_slice(&body).ok());
            if let Some(s) = status.filter(|s| s["role"] == "leader") {
                return Some((s["id"].as_u64()?, s["term"].as_u64().unwrap_or_default()));
            }
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    None
}

/// A few commands worth trying, with the same `--config` as the supervisor.
fn try_next(config: &Config, leader: u64, flag: &str) -> Vec<String> {
    let follower = config.ids().into_iter().find(|&id| id != leader);
    let first_http = config.peers().first().map(|p| p.http.to_string());
    let mut lines = vec![
        "try next:".to_string(),
        format!("  raftkv put mykey \"this is awesome\"{flag}"),
        format!("  raftkv get mykey{flag}"),
        format!("  raftkv member list{flag}"),
    ];
    if let Some(f) = follower {
        lines.push(format!(
            "  raftkv cluster stop {f}{flag}    # then get mykey again; `cluster start {f}` brings it back"
        ));
    }
    if let Some(http) = first_http {
        lines.push(format!("  curl -L http://{http}/sCreate -XPOST -d 1"));
    }
    lines.push(format!("  raftkv bench --clients 16 --duration 5s{flag}"));
    lines.push("Ctrl-C stops every node.".into());
    lines
}
