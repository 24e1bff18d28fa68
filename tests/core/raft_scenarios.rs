//! Scenario tests that read like a transcript (in the spirit of etcd's interaction tests): each file
//! in `tests/testdata/` is a script of commands on an in-memory cluster, each followed by exactly what
//! it must produce — every message delivered or dropped, every batch persisted and applied, every
//! change of role. When behaviour changes on purpose, regenerate with
//! `RAFT_SCENARIOS_REWRITE=1 cargo test --test core raft_scenarios` and review the diff.
//!
//! Commands (node ids are 1-based):
//! - `cluster <n> [pre_vote=<bool>] [check_quorum=<bool>] [max_entries=<n>] [max_inflight=<n>]`
//!   starts a fresh cluster (PreVote and CheckQuorum default to on);
//! - `tick <id> [<n>]` advances one node's clock (nothing is delivered);
//! - `campaign <id>` ticks one node until its election timeout fires, then stabilizes;
//! - `heartbeat <id>` ticks one node for a heartbeat interval, then stabilizes;
//! - `propose <id> <data>`, `read <id> <request id>`, `transfer <leader> <target>`;
//! - `isolate <id>`, `heal <id>`; `round` (one exchange), `stabilize` (until quiet);
//! - `status`, `logs`.

use std::path::PathBuf;

use crate::support::raft::cluster::{Cluster, Event};
use crate::support::raft::{describe, transcript};
use bytes::Bytes;
use raftkv::raft::{Config, NodeId};

/// The cluster a script works on, created by its `cluster` command.
#[derive(Default)]
struct Script {
    cluster: Option<Cluster>,
}

impl Script {
    fn exec(&mut self, line: &str) -> String {
        let words: Vec<&str> = line.split_whitespace().collect();
        match self.try_exec(&words) {
            Ok(text) => text,
            Err(e) => format!("error: {e}"),
        }
    }

    fn try_exec(&mut self, words: &[&str]) -> Result<String, String> {
        let (&cmd, args) = words.split_first().ok_or("empty command")?;
        if cmd == "cluster" {
            self.cluster = Some(new_cluster(args)?);
            return Ok(String::new());
        }
        let c = self.cluster.as_mut().ok_or("no cluster yet")?;
        let id = |i: usize| -> Result<NodeId, String> {
            let word = args
                .get(i)
                .ok_or(format!("`{cmd}` needs argument {}", i + 1))?;
            word.parse().map_err(|_| format!("not a number: {word}"))
        };
        let events = match cmd {
            "tick" => {
                let node = id(0)?;
                let n = if args.len() > 1 { id(1)? } else { 1 };
                (0..n).flat_map(|_| c.tick(node)).collect()
            }
            "campaign" => c.campaign(id(0)?),
            "heartbeat" => {
                let node = id(0)?;
                let mut events = Vec::new();
                for _ in 0..c.node(node).config().heartbeat_interval_ticks {
                    events.extend(c.tick(node));
                }
                events.extend(c.stabilize());
                events
            }
            "propose" => {
                let data = args.get(1).ok_or("`propose` needs data")?.to_string();
                return Ok(match c.node_mut(id(0)?).propose(Bytes::from(data)) {
                    Ok((index, term)) => format!("index={index} term={term}"),
                    Err(e) => format!("refused: {e}"),
                });
            }
            "read" => {
                return Ok(match c.node_mut(id(0)?).read_index(id(1)?) {
                    Ok(()) => "ok".to_string(),
                    Err(e) => format!("refused: {e}"),
                })
            }
            "transfer" => {
                return Ok(match c.node_mut(id(0)?).transfer_leadership(id(1)?) {
                    Ok(()) => "ok".to_string(),
                    Err(e) => format!("refused: {e}"),
                })
            }
            "isolate" => {
                c.isolate(id(0)?);
                Vec::new()
            }
            "heal" => {
                c.heal(id(0)?);
                Vec::new()
            }
            "round" => c.round(),
            "stabilize" => c.stabilize(),
            "status" => return Ok(status(c)),
            "logs" => return Ok(logs(c)),
            _ => return Err(format!("unknown command `{cmd}`")),
        };
        Ok(render(&events))
    }
}

fn new_cluster(args: &[&str]) -> Result<Cluster, String> {
    let (n, options) = args.split_first().ok_or("`cluster` needs a size")?;
    let n: u64 = n.parse().map_err(|_| format!("bad size {n}"))?;
    let mut tweaks: Vec<(String, String)> = Vec::new();
    for opt in options {
        let (k, v) = opt
            .split_once('=')
            .ok_or(format!("expected key=value: {opt}"))?;
        tweaks.push((k.to_string(), v.to_string()));
    }
    // Validate once here so the tuning closure below cannot fail.
    apply(Config::new(1, vec![1]), &tweaks)?;
    Ok(Cluster::new(n, |cfg| {
        apply(cfg, &tweaks).expect("validated above")
    }))
}

fn apply(mut cfg: Config, tweaks: &[(String, String)]) -> Result<Config, String> {
    for (k, v) in tweaks {
        let bad = || format!("bad value for {k}: {v}");
        match k.as_str() {
            "pre_vote" => cfg.pre_vote = v.parse().map_err(|_| bad())?,
            "check_quorum" => cfg.check_quorum = v.parse().map_err(|_| bad())?,
            "max_entries" => cfg.max_entries_per_msg = v.parse().map_err(|_| bad())?,
            "max_inflight" => cfg.max_inflight_msgs = v.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown option {k}")),
        }
    }
    Ok(cfg)
}

fn render(events: &[Event]) -> String {
    let lines: Vec<String> = events.iter().map(describe::event).collect();
    lines.join("\n")
}

fn status(c: &Cluster) -> String {
    let lines: Vec<String> = c
        .ids()
        .into_iter()
        .map(|id| format!("n{id} {}", describe::status(&c.node(id).status())))
        .collect();
    lines.join("\n")
}

fn logs(c: &Cluster) -> String {
    let lines: Vec<String> = c
        .logs()
        .iter()
        .zip(c.ids())
        .map(|(log, id)| format!("n{id} {}", describe::entries(log)))
        .collect();
    lines.join("\n")
}

fn run(name: &str) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "testdata", name]
        .iter()
        .collect();
    let mut script = Script::default();
    transcript::check(&path, |line| script.exec(line));
}

#[test]
fn scenario_election() {
    run("election.txt");
}

#[test]
fn scenario_replication_after_partition() {
    run("replication.txt");
}

#[test]
fn scenario_prevote_and_check_quorum() {
    run("prevote_check_quorum.txt");
}

#[test]
fn scenario_read_index_and_transfer() {
    run("read_index_transfer.txt");
}
