//! The handle's side of a peer-set change: the outbox's queues, the senders the guard and the
//! receive loop accept, and the fault switch change at once, under the caller; the bridge
//! thread is then told which links to start and stop ([`super::links`]).

use std::collections::{BTreeMap, BTreeSet};

use tokio::sync::{mpsc, watch};

use super::envelope::BROADCAST;
use super::error::ClusterError;
use super::faults::Faults;
use super::links::LinkCommand;
use super::outbox::Outbox;
use crate::config::Address;
use crate::raft::NodeId;

/// The peers a bridge talks to now. Invariant (between calls to `set`): `addrs`, the outbox's
/// queues, `senders` and the fault switch all name the same ids, this node's never among them.
pub(super) struct PeerSet {
    pub my_id: NodeId,
    pub addrs: BTreeMap<NodeId, Address>,
    pub peer_queue_len: usize,
    /// Read by the guard (hellos, and closing a removed member's connections) and by the
    /// receive loop (each frame's sender).
    pub senders: watch::Sender<BTreeSet<NodeId>>,
    /// To the bridge thread. Unbounded so that a change never waits on the bridge: commands
    /// are few (two per changed peer, at a membership change) and the bridge drains them at once.
    pub links: mpsc::UnboundedSender<LinkCommand>,
}

/// Refuses the ids no node may have.
pub(super) fn check_ids(peers: &BTreeMap<NodeId, Address>) -> Result<(), ClusterError> {
    match peers.keys().find(|&&id| id == 0 || id == BROADCAST) {
        Some(&id) => Err(ClusterError::ReservedId(id)),
        None => Ok(()),
    }
}

impl PeerSet {
    /// Makes `peers` (this node's own entry ignored) the set: see
    /// [`super::ClusterHandle::set_peers`].
    pub(super) fn set<M>(
        &mut self,
        peers: &BTreeMap<NodeId, Address>,
        outbox: &Outbox<M>,
        faults: &Faults,
    ) -> Result<(), ClusterError> {
        check_ids(peers)?;
        let new: BTreeMap<NodeId, Address> = peers
            .iter()
            .filter(|(&id, _)| id != self.my_id)
            .map(|(&id, addr)| (id, addr.clone()))
            .collect();
        let (removed, started) = self.changes(&new);
        // Before the queues: by the time a new peer can be sent to, its answers are accepted.
        let ids: BTreeSet<NodeId> = new.keys().copied().collect();
        self.senders.send_if_modified(|senders| {
            let changed = *senders != ids;
            senders.clone_from(&ids);
            changed
        });
        faults.set_peers(ids.iter().copied());
        let mut commands = Vec::with_capacity(removed.len() + started.len());
        outbox.update_queues(|queues| {
            for &peer in &removed {
                queues.remove(&peer);
                commands.push(LinkCommand::Stop { peer });
            }
            for (peer, addr) in started {
                let (tx, rx) = mpsc::channel(self.peer_queue_len);
                // Replacing an address's queue drops what it held for the old address.
                queues.insert(peer, tx);
                commands.push(LinkCommand::Start {
                    peer,
                    addr,
                    queue: rx,
                });
            }
        });
        for command in commands {
            // Err: the bridge is shut down. The queue's receiver is dropped with the command,
            // so the outbox answers `Closed` for the peer, as for every other.
            let _ = self.links.send(command);
        }
        self.addrs = new;
        debug_assert!(outbox.peers().iter().eq(self.addrs.keys()));
        Ok(())
    }

    /// The peers in the set now but not in `new`, and those of `new` that are not in the set
    /// now at the same address (new, or moved).
    fn changes(&self, new: &BTreeMap<NodeId, Address>) -> (Vec<NodeId>, Vec<(NodeId, Address)>) {
        let removed = self
            .addrs
            .keys()
            .filter(|id| !new.contains_key(id))
            .copied()
            .collect();
        let started = new
            .iter()
            .filter(|(id, addr)| self.addrs.get(id) != Some(addr))
            .map(|(&id, addr)| (id, addr.clone()))
            .collect();
        (removed, started)
    }
}
