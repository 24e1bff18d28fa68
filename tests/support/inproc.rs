//! In-process clusters: several `Replicator` actors in one actix system, each with its own data
//! directory, log writer thread and ZeroMQ bridge on loopback ports. Must be used inside a running
//! actix `System`. Also included by path from `benches/cluster.rs`, so it reaches the config
//! writer and the machine claim through `super::config` and `super::machine` (which both the test
//! crates and the bench declare).
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use actix::{Actor, Addr};
use raftkv::cluster::{Envelope, Outbox};
use raftkv::raft::{Message, NodeId, Role};
use raftkv::replicator::{
    Answer, ClientError, GetMetrics, GetState, GetStatus, NodeStatus, Propose, Replicator, Stop,
};
use raftkv::state::{Command, Request};
use tempfile::TempDir;
use tokio::sync::broadcast;

use super::config::{self, NodePorts};
use super::machine;

/// One running replicator and the handles a test needs.
pub struct InProcNode {
    pub addr: Addr<Replicator>,
    /// The node's own thread, when the cluster runs one per node.
    arbiter: Option<actix::Arbiter>,
    pub outbox: Outbox<Message>,
    /// Kept only so that [`InProcCluster::tap`] can subscribe after the actor started.
    tap: Option<broadcast::Receiver<Envelope<Message>>>,
}

/// `n` replicators of one config, started and stopped by id.
pub struct InProcCluster {
    pub dir: TempDir,
    pub config_path: PathBuf,
    pub n: u64,
    pub ports: Vec<NodePorts>,
    /// Whether nodes copy their inbound envelopes for [`InProcCluster::tap`] (costs a clone per
    /// message; benchmarks turn it off).
    pub taps: bool,
    /// Whether each node runs on its own thread (an actix `Arbiter`), as separate processes
    /// would, instead of all sharing the test's thread.
    pub threads: bool,
    nodes: Vec<Option<InProcNode>>,
    /// Last: given back once the nodes are gone.
    _share: machine::Share,
}

impl InProcCluster {
    /// Writes a config for `n` nodes in a new temp dir; starts nothing.
    pub fn configure(n: u64, extra: &str) -> Self {
        let share = machine::share();
        let dir = tempfile::tempdir().expect("temp dir");
        let (config_path, ports) = config::write_config(dir.path(), n, extra);
        InProcCluster {
            dir,
            config_path,
            n,
            ports,
            taps: true,
            threads: false,
            nodes: (0..n).map(|_| None).collect(),
            _share: share,
        }
    }

    /// Writes the config and starts every node.
    pub fn start(n: u64) -> Self {
        let mut cluster = Self::configure(n, "");
        for id in 1..=n {
            cluster.start_node(id);
        }
        cluster
    }

    /// Builds node `id` with `Replicator::new(id, config_path)` and starts its actor.
    pub fn start_node(&mut self, id: NodeId) {
        assert!(self.nodes[slot(id)].is_none(), "node {id} already runs");
        let replicator = Replicator::new(id, &self.config_path)
            .unwrap_or_else(|e| panic!("build node {id}: {e}"));
        let outbox = replicator.outbox();
        let tap = self.taps.then(|| replicator.inbox());
        let (addr, arbiter) = if self.threads {
            let arbiter = actix::Arbiter::new();
            let addr = Replicator::start_in_arbiter(&arbiter.handle(), move |_| replicator);
            (addr, Some(arbiter))
        } else {
            (replicator.start(), None)
        };
        self.nodes[slot(id)] = Some(InProcNode {
            addr,
            arbiter,
            outbox,
            tap,
        });
    }

    /// Stops node `id` and waits until it is fully down (its raft port free, its log synced).
    pub async fn stop_node(&mut self, id: NodeId) {
        let node = self.nodes[slot(id)].take().expect("node runs");
        node.addr
            .send(Stop)
            .await
            .unwrap_or_else(|e| panic!("stop node {id}: {e}"));
        if let Some(arbiter) = node.arbiter {
            arbiter.stop();
            let _ = arbiter.join();
        }
    }

    /// Stops every running node (the bridges' threads and sockets would outlive the test).
    pub async fn stop_all(&mut self) {
        for id in 1..=self.n {
            if self.is_running(id) {
                self.stop_node(id).await;
            }
        }
    }

    /// Blocks node `id`'s thread for `how_long`, as a stopped process (SIGSTOP) or a long GC pause
    /// would: its actor runs nothing meanwhile, while its bridge (a thread of its own) goes on
    /// receiving. Returns once the pause has begun. Needs `threads`.
    pub async fn pause(&self, id: NodeId, how_long: Duration) {
        let arbiter = self.node(id).arbiter.as_ref().expect("pause needs threads");
        let (began, begun) = tokio::sync::oneshot::channel();
        arbiter.spawn(async move {
            let _ = began.send(());
            std::thread::sleep(how_long);
        });
        begun.await.expect("the node's thread runs the pause");
    }

    pub fn is_running(&self, id: NodeId) -> bool {
        self.nodes[slot(id)].is_some()
    }

    fn node(&self, id: NodeId) -> &InProcNode {
        self.nodes[slot(id)]
            .as_ref()
            .unwrap_or_else(|| panic!("node {id} is not running"))
    }

    pub fn addr(&self, id: NodeId) -> Addr<Replicator> {
        self.node(id).addr.clone()
    }

    pub fn outbox(&self, id: NodeId) -> Outbox<Message> {
        self.node(id).outbox.clone()
    }

    /// Every envelope node `id` receives from now on.
    pub fn tap(&self, id: NodeId) -> broadcast::Receiver<Envelope<Message>> {
        self.node(id)
            .tap
            .as_ref()
            .expect("taps are on")
            .resubscribe()
    }

    pub async fn status(&self, id: NodeId) -> NodeStatus {
        self.addr(id).send(GetStatus).await.expect("node answers")
    }

    /// Node `id`'s metrics, with the gauges that copy its state set.
    pub async fn metrics(&self, id: NodeId) -> raftkv::metrics::NodeMetrics {
        self.addr(id).send(GetMetrics).await.expect("node answers")
    }

    /// The whole state machine of node `id` as JSON.
    pub async fn state(&self, id: NodeId) -> serde_json::Value {
        self.addr(id).send(GetState).await.expect("node answers")
    }

    /// Proposes `command` on node `id` (no session).
    pub async fn propose(&self, id: NodeId, command: Command) -> Result<Answer, ClientError> {
        self.addr(id)
            .send(Propose(Request::new(command)))
            .await
            .expect("node answers")
    }

    /// Waits until one running node leads and a majority of all nodes follow it.
    pub async fn wait_for_leader(&self, timeout: Duration) -> NodeId {
        let deadline = Instant::now() + timeout;
        loop {
            let mut statuses = Vec::new();
            for id in (1..=self.n).filter(|&id| self.is_running(id)) {
                statuses.push(self.status(id).await);
            }
            let leader = statuses
                .iter()
                .find(|s| s.role == Role::Leader)
                .map(|s| s.id);
            if let Some(leader) = leader {
                let following = statuses.iter().filter(|s| s.leader == Some(leader)).count() as u64;
                if following * 2 > self.n {
                    return leader;
                }
            }
            assert!(Instant::now() < deadline, "no leader within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Node `id`'s transaction log lines.
    pub fn txlog(&self, id: NodeId) -> Vec<String> {
        std::fs::read_to_string(config::txlog_path(self.dir.path(), id))
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

fn slot(id: NodeId) -> usize {
    usize::try_from(id - 1).expect("small id")
}
