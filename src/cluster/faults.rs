//! A test-only switch that cuts traffic to and from chosen peers, as a network partition would.
//! The node exposes it only when the config sets `test_faults = true`.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use super::error::ClusterError;
use crate::raft::NodeId;

/// Cloneable handle; every clone controls the same bridge. Blocking a peer drops (and counts)
/// every envelope to it and from it until it is unblocked.
#[derive(Clone, Debug)]
pub struct Faults {
    switch: Arc<RwLock<Switch>>,
}

#[derive(Debug, Default)]
struct Switch {
    /// One flag per current peer; follows the peer set (`set_peers`).
    blocked: BTreeMap<NodeId, bool>,
    /// Set by `isolate`, cleared by `heal`: a peer learned while it is set starts blocked, so
    /// an isolated node stays cut off from members added during the partition.
    isolated: bool,
}

impl Faults {
    /// A switch with no peers yet; [`Faults::set_peers`] adds them.
    pub(super) fn new() -> Self {
        Faults {
            switch: Arc::default(),
        }
    }

    /// Follows a change of the peer set: flags of peers still present are kept, new peers
    /// start unblocked (blocked while isolated), removed peers are forgotten.
    pub(super) fn set_peers(&self, peers: impl IntoIterator<Item = NodeId>) {
        let mut switch = self.write();
        let isolated = switch.isolated;
        let blocked = peers
            .into_iter()
            .map(|id| (id, switch.blocked.get(&id).copied().unwrap_or(isolated)))
            .collect();
        switch.blocked = blocked;
    }

    /// Drops all traffic to and from `peer`.
    pub fn block(&self, peer: NodeId) -> Result<(), ClusterError> {
        self.set(peer, true)
    }

    /// Lets traffic to and from `peer` flow again.
    pub fn unblock(&self, peer: NodeId) -> Result<(), ClusterError> {
        self.set(peer, false)
    }

    /// Blocks every peer, including those added later until [`Faults::heal`]: this node is cut
    /// off from the cluster.
    pub fn isolate(&self) {
        let mut switch = self.write();
        switch.isolated = true;
        switch.blocked.values_mut().for_each(|b| *b = true);
    }

    /// Unblocks every peer.
    pub fn heal(&self) {
        let mut switch = self.write();
        switch.isolated = false;
        switch.blocked.values_mut().for_each(|b| *b = false);
    }

    /// True when traffic with `peer` is currently dropped.
    pub fn is_blocked(&self, peer: NodeId) -> bool {
        self.read().blocked.get(&peer).copied().unwrap_or(false)
    }

    fn set(&self, peer: NodeId, blocked: bool) -> Result<(), ClusterError> {
        let mut switch = self.write();
        let flag = switch
            .blocked
            .get_mut(&peer)
            .ok_or(ClusterError::UnknownPeer(peer))?;
        *flag = blocked;
        Ok(())
    }

    // The switch holds plain flags: a panic while holding the lock leaves nothing half-updated.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Switch> {
        self.switch.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Switch> {
        self.switch.write().unwrap_or_else(PoisonError::into_inner)
    }
}
