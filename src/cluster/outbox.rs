//! The node's side of outbound traffic: encode once, then hand the frame to each destination's
//! bounded queue without ever waiting.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

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
    /// One bounded queue per peer (this node excluded), drained by that peer's socket task.
    queues: BTreeMap<NodeId, mpsc::Sender<Bytes>>,
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

impl<M: Serialize> Outbox<M> {
    pub(super) fn new(
        my_id: NodeId,
        queues: BTreeMap<NodeId, mpsc::Sender<Bytes>>,
        counters: Counters,
        faults: Faults,
    ) -> Self {
        debug_assert!(
            !queues.contains_key(&my_id),
            "a node has no queue to itself"
        );
        Outbox {
            inner: Arc::new(Inner {
                my_id,
                queues,
                counters,
                faults,
            }),
            _msg: PhantomData,
        }
    }

    /// Queues `envelope` for `envelope.pid`, or for every peer when it is [`BROADCAST`].
    ///
    /// Returns how many peers it was queued for: fewer than addressed when a queue was full or
    /// the fault switch blocks a peer (both counted). Delivery is best effort, as Raft expects.
    pub fn send(&self, envelope: Envelope<M>) -> Result<usize, OutboxError> {
        let inner = &*self.inner;
        if envelope.pid != BROADCAST && !inner.queues.contains_key(&envelope.pid) {
            return Err(OutboxError::UnknownPeer(envelope.pid));
        }
        let frame = wire::encode(inner.my_id, envelope.msg_id, &envelope.msg)?;
        if envelope.pid == BROADCAST {
            let mut queued = 0;
            for (&peer, queue) in &inner.queues {
                queued += usize::from(self.push(peer, queue, frame.clone())?);
            }
            Ok(queued)
        } else {
            let queue = &inner.queues[&envelope.pid];
            Ok(usize::from(self.push(envelope.pid, queue, frame)?))
        }
    }

    /// This node's id, stamped into every frame as the sender.
    pub fn my_id(&self) -> NodeId {
        self.inner.my_id
    }

    /// The peers this outbox can address, ascending.
    pub fn peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.inner.queues.keys().copied()
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
