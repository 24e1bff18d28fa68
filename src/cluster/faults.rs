//! A test-only switch that cuts traffic to and from chosen peers, as a network partition would.
//! The node exposes it only when the config sets `test_faults = true`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::error::ClusterError;
use crate::raft::NodeId;

/// Cloneable handle; every clone controls the same bridge. Blocking a peer drops (and counts)
/// every envelope to it and from it until it is unblocked.
#[derive(Clone, Debug)]
pub struct Faults {
    /// One flag per peer, fixed at start: lock-free on the hot path.
    blocked: Arc<BTreeMap<NodeId, AtomicBool>>,
}

impl Faults {
    pub(super) fn new(peers: impl IntoIterator<Item = NodeId>) -> Self {
        let blocked = peers
            .into_iter()
            .map(|id| (id, AtomicBool::new(false)))
            .collect();
        Faults {
            blocked: Arc::new(blocked),
        }
    }

    /// Drops all traffic to and from `peer`.
    pub fn block(&self, peer: NodeId) -> Result<(), ClusterError> {
        self.set(peer, true)
    }

    /// Lets traffic to and from `peer` flow again.
    pub fn unblock(&self, peer: NodeId) -> Result<(), ClusterError> {
        self.set(peer, false)
    }

    /// Blocks every peer: this node is cut off from the cluster.
    pub fn isolate(&self) {
        self.blocked
            .values()
            .for_each(|f| f.store(true, Ordering::Relaxed));
    }

    /// Unblocks every peer.
    pub fn heal(&self) {
        self.blocked
            .values()
            .for_each(|f| f.store(false, Ordering::Relaxed));
    }

    /// True when traffic with `peer` is currently dropped.
    pub fn is_blocked(&self, peer: NodeId) -> bool {
        self.blocked
            .get(&peer)
            .is_some_and(|f| f.load(Ordering::Relaxed))
    }

    fn set(&self, peer: NodeId, blocked: bool) -> Result<(), ClusterError> {
        let flag = self
            .blocked
            .get(&peer)
            .ok_or(ClusterError::UnknownPeer(peer))?;
        flag.store(blocked, Ordering::Relaxed);
        Ok(())
    }
}
