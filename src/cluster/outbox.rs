//! The node's side of outbound traffic: encode once, then hand the frame to each destination's
//! bounded queue without ever waiting. The set of queues follows the peer set
//! ([`super::ClusterHandle::set_peers`]).

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc::{self, error::TrySendError};

use super::counters::{Counter, Counters};
use super::envelope::{Envelope, BROADCAST};
use super::error::OutboxError;
use super::faults::Faults;
use super::wire;
use crate::raft::NodeId;

/// Cheap, cloneable sender of envelopes to peers. `send` never blocks: a full queue drops.
pub struct Outbox<M> {
    inner: Arc<Inner>,
    _msg: PhantomData<fn(M)>,
}

struct Inner {
    my_id: NodeId,
    /// One bounded queue per current peer (this node excluded), drained by that peer's socket
    /// task. Written only when the peer set changes; `send` holds a read lock while it queues,
    /// so a broadcast sees one peer set, never half of a change.
    queues: RwLock<BTreeMap<NodeId, mpsc::Sender<Bytes>>>,
    counters: Counters,
    faults: Faults,
}

impl<M> Clone for Outbox<M> {
    fn clone(&self) -> Self {
        Outbox {
            inner: Arc::clone(&self.inner),
            _msg: PhantomData,
        }
    }
}

impl<M> Outbox<M> {
    /// An outbox with no peers yet; [`Outbox::update_queues`] adds them.
    pub(super) fn new(my_id: NodeId, counters: Counters, faults: Faults) -> Self {
        Outbox {
            inner: Arc::new(Inner {
                my_id,
                queues: RwLock::default(),
                counters,
                faults,
            }),
            _msg: PhantomData,
        }
    }

    /// Changes the queues under the write lock: every `send` that starts after this returns
    /// sees the change. A dropped queue loses what it held, as a lossy network would.
    pub(super) fn update_queues<R>(
        &self,
        change: impl FnOnce(&mut BTreeMap<NodeId, mpsc::Sender<Bytes>>) -> R,
    ) -> R {
        let mut queues = self.inner.write_queues();
        let result = change(&mut queues);
        debug_assert!(
            !queues.contains_key(&self.inner.my_id),
            "a node has no queue to itself"
        );
        result
    }

    /// This node's id, stamped into every frame as the sender.
    pub fn my_id(&self) -> NodeId {
        self.inner.my_id
    }

    /// The peers this outbox can address now, ascending.
    pub fn peers(&self) -> Vec<NodeId> {
        self.inner.read_queues().keys().copied().collect()
    }
}

impl Inner {
    // The map is replaced entry by entry under the lock and each step leaves it valid, so a
    // panic elsewhere while it was held is no reason to refuse it.
    fn read_queues(&self) -> RwLockReadGuard<'_, BTreeMap<NodeId, mpsc::Sender<Bytes>>> {
        self.queues.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_queues(&self) -> RwLockWriteGuard<'_, BTreeMap<NodeId, mpsc::Sender<Bytes>>> {
        self.queues.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<M: Serialize> Outbox<M> {
    /// Queues `envelope` for `envelope.pid`, or for every peer when it is [`BROADCAST`].
    ///
    /// Returns how many peers it was queued for: fewer than addressed when a queue was full or
    /// the fault switch blocks a peer (both counted). Delivery is best effort, as Raft expects.
    pub fn send(&self, envelope: Envelope<M>) -> Result<usize, OutboxError> {
        let inner = &*self.inner;
        let queues = inner.read_queues();
        if envelope.pid == BROADCAST {
            let frame = wire::encode(inner.my_id, envelope.msg_id, &envelope.msg)?;
            let mut queued = 0;
            for (&peer, queue) in queues.iter() {
                queued += usize::from(self.push(peer, queue, frame.clone())?);
            }
            Ok(queued)
        } else {
            let queue = queues
                .get(&envelope.pid)
                .ok_or(OutboxError::UnknownPeer(envelope.pid))?;
            let frame = wire::encode(inner.my_id, envelope.msg_id, &envelope.msg)?;
            Ok(usize::from(self.push(envelope.pid, queue, frame)?))
        }
    }

    fn push(
        &self,
        peer: NodeId,
        queue: &mpsc::Sender<Bytes>,
        frame: Bytes,
    ) -> Result<bool, OutboxError> {
        let counters = &self.inner.counters;
        if self.inner.faults.is_blocked(peer) {
            counters.incr(Counter::DroppedFaultOut);
            return Ok(false);
        }
        match queue.try_send(frame) {
            Ok(()) => Ok(true),
            Err(TrySendError::Full(_)) => {
                counters.incr(Counter::DroppedQueueFull);
                Ok(false)
            }
            Err(TrySendError::Closed(_)) => Err(OutboxError::Closed),
        }
    }
}
