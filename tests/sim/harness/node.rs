//! One simulated node: a core, its disk and its applied state.

use raftkv::raft::{Entry, NodeId, Raft, Role, Sequencer, Status, Term};

use super::process::Pause;
use super::rules::NodeRules;
use super::state::AppliedState;
use super::storage::Storage;

/// A node of the simulated cluster. While it is down, only its disk exists.
pub struct SimNode {
    pub id: NodeId,
    /// `None` while the node is down.
    pub raft: Option<Raft>,
    pub storage: Storage,
    /// The applied state. Lost in a crash; a restart rebuilds it from the newest durable snapshot
    /// and the log after it; an installed snapshot replaces it.
    pub state: AppliedState,
    /// The entries applied since `state` was last rebuilt from a snapshot (or from scratch), in
    /// order: what scenarios inspect.
    pub applied: Vec<Entry>,
    /// How many times this node crashed.
    pub crashes: u64,
    /// While its process is stopped: what it missed and what waits for it.
    pub paused: Option<Pause>,
    /// How many times its process was paused.
    pub pauses: u64,
    /// This node's tick period (clocks drift apart a little; a clock fault changes it).
    pub tick_period_us: u64,
    /// The tick period it was configured with, which the liveness phase restores.
    pub nominal_tick_period_us: u64,
    /// The role and term last observed, to trace changes.
    pub last_role: Option<(Role, Term)>,
    /// What the checks of Figure 2's rules remember of it.
    pub rules: NodeRules,
    /// Orders its outputs' sends and writes, as in the replicator (`raftkv::raft::Sequencer`).
    pub sequencer: Sequencer,
}

impl SimNode {
    /// True if the node is running.
    pub fn is_up(&self) -> bool {
        self.raft.is_some()
    }

    /// The core's status, if the node is up.
    pub fn status(&self) -> Option<Status> {
        self.raft.as_ref().map(Raft::status)
    }

    /// The running core. Panics if the node is down: scenario tests know which nodes they crashed.
    pub fn raft(&self) -> &Raft {
        self.raft.as_ref().expect("node is up")
    }
}
