//! What the bridge did with every frame, for tests, metrics and the operator.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::raft::NodeId;

/// A cheap, cloneable view of one bridge's counters. Counts only grow.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    cells: Arc<Cells>,
}

#[derive(Debug, Default)]
struct Cells {
    sent: AtomicU64,
    received: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_unreachable: AtomicU64,
    dropped_decode: AtomicU64,
    dropped_unknown_sender: AtomicU64,
    dropped_oversized: AtomicU64,
    dropped_inbox_full: AtomicU64,
    dropped_fault_out: AtomicU64,
    dropped_fault_in: AtomicU64,
    connects: AtomicU64,
    reconnects: AtomicU64,
    dropped_auth: AtomicU64,
    dropped_replay: AtomicU64,
    guard_protocol: AtomicU64,
    guard_timeout: AtomicU64,
    guard_evicted: AtomicU64,
    guard_refused: AtomicU64,
    /// Bytes by peer: one entry per peer ever sent to or heard from, so at most the peers a
    /// node had (an unauthenticated sender is never counted here).
    /// Written only the first time a peer is seen: every frame after takes the read lock, so
    /// the bridge's tasks never wait on one another here.
    peer_bytes: RwLock<BTreeMap<NodeId, PeerCells>>,
}

#[derive(Debug, Default)]
struct PeerCells {
    sent: AtomicU64,
    received: AtomicU64,
}

/// Bytes exchanged with one peer, as sealed frames on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerBytes {
    /// Bytes of the frames handed to this peer's socket.
    pub sent: u64,
    /// Bytes of the authenticated frames from this peer delivered to the inbox.
    pub received: u64,
}

/// The counters at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Frames handed to a peer's ZeroMQ socket (per destination: a broadcast to 4 peers is 4).
    pub sent: u64,
    /// Envelopes delivered to the inbox.
    pub received: u64,
    /// Outbound frames dropped because the peer's queue was full.
    pub dropped_queue_full: u64,
    /// Outbound frames dropped because the peer could not be reached, failed, or stalled.
    pub dropped_unreachable: u64,
    /// Inbound frames that were not exactly one well-formed envelope.
    pub dropped_decode: u64,
    /// Inbound envelopes whose sender id is not a peer.
    pub dropped_unknown_sender: u64,
    /// Inbound frames larger than the limit.
    pub dropped_oversized: u64,
    /// Inbound envelopes dropped because the inbox was full or no longer read.
    pub dropped_inbox_full: u64,
    /// Outbound envelopes dropped by the test-only fault switch.
    pub dropped_fault_out: u64,
    /// Inbound envelopes dropped by the test-only fault switch.
    pub dropped_fault_in: u64,
    /// Outbound connections made: the first to each peer and every one made again.
    pub connects: u64,
    /// Outbound connections made again after an earlier connection to the same peer was lost.
    pub reconnects: u64,
    /// Inbound frames or connections refused by authentication: no secret of ours, a forged
    /// or damaged frame, one sealed for another cluster or node, or a connection whose first frame
    /// is not a member's hello.
    pub dropped_auth: u64,
    /// Inbound frames that were authentic but not newer than one already accepted from their
    /// sender (replayed, or from an older session).
    pub dropped_replay: u64,
    /// Inbound connections closed for breaking the ZeroMQ protocol (greeting, READY, frame
    /// flags, multi-part messages). Oversized frames count in `dropped_oversized`.
    pub guard_protocol: u64,
    /// Inbound connections closed for not authenticating within the handshake timeout.
    pub guard_timeout: u64,
    /// Pending inbound connections closed to make room (per-source or total bound).
    pub guard_evicted: u64,
    /// Inbound connections closed on accept because the connection bound was reached.
    pub guard_refused: u64,
}

/// Names a counter for [`Counters::add`].
#[derive(Clone, Copy, Debug)]
pub(super) enum Counter {
    Sent,
    Received,
    DroppedQueueFull,
    DroppedUnreachable,
    DroppedDecode,
    DroppedUnknownSender,
    DroppedOversized,
    DroppedInboxFull,
    DroppedFaultOut,
    DroppedFaultIn,
    Connects,
    Reconnects,
    DroppedAuth,
    DroppedReplay,
    GuardProtocol,
    GuardTimeout,
    GuardEvicted,
    GuardRefused,
}

impl Counters {
    /// Reads every counter (each read is atomic; the set is not one atomic snapshot).
    pub fn snapshot(&self) -> CounterSnapshot {
        let c = &self.cells;
        let get = |cell: &AtomicU64| cell.load(Ordering::Relaxed);
        CounterSnapshot {
            sent: get(&c.sent),
            received: get(&c.received),
            dropped_queue_full: get(&c.dropped_queue_full),
            dropped_unreachable: get(&c.dropped_unreachable),
            dropped_decode: get(&c.dropped_decode),
            dropped_unknown_sender: get(&c.dropped_unknown_sender),
            dropped_oversized: get(&c.dropped_oversized),
            dropped_inbox_full: get(&c.dropped_inbox_full),
            dropped_fault_out: get(&c.dropped_fault_out),
            dropped_fault_in: get(&c.dropped_fault_in),
            connects: get(&c.connects),
            reconnects: get(&c.reconnects),
            dropped_auth: get(&c.dropped_auth),
            dropped_replay: get(&c.dropped_replay),
            guard_protocol: get(&c.guard_protocol),
            guard_timeout: get(&c.guard_timeout),
            guard_evicted: get(&c.guard_evicted),
            guard_refused: get(&c.guard_refused),
        }
    }

    pub(super) fn add(&self, counter: Counter, n: u64) {
        let c = &self.cells;
        let cell = match counter {
            Counter::Sent => &c.sent,
            Counter::Received => &c.received,
            Counter::DroppedQueueFull => &c.dropped_queue_full,
            Counter::DroppedUnreachable => &c.dropped_unreachable,
            Counter::DroppedDecode => &c.dropped_decode,
            Counter::DroppedUnknownSender => &c.dropped_unknown_sender,
            Counter::DroppedOversized => &c.dropped_oversized,
            Counter::DroppedInboxFull => &c.dropped_inbox_full,
            Counter::DroppedFaultOut => &c.dropped_fault_out,
            Counter::DroppedFaultIn => &c.dropped_fault_in,
            Counter::Connects => &c.connects,
            Counter::Reconnects => &c.reconnects,
            Counter::DroppedAuth => &c.dropped_auth,
            Counter::DroppedReplay => &c.dropped_replay,
            Counter::GuardProtocol => &c.guard_protocol,
            Counter::GuardTimeout => &c.guard_timeout,
            Counter::GuardEvicted => &c.guard_evicted,
            Counter::GuardRefused => &c.guard_refused,
        };
        cell.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes exchanged with each peer so far, by peer id.
    pub fn peer_bytes(&self) -> BTreeMap<NodeId, PeerBytes> {
        // The map holds plain numbers: a panic elsewhere cannot leave it inconsistent.
        let map = self.cells.peer_bytes.read();
        let map = map.unwrap_or_else(PoisonError::into_inner);
        map.iter()
            .map(|(&id, c)| {
                let bytes = PeerBytes {
                    sent: c.sent.load(Ordering::Relaxed),
                    received: c.received.load(Ordering::Relaxed),
                };
                (id, bytes)
            })
            .collect()
    }

    pub(super) fn add_sent_bytes(&self, peer: NodeId, n: usize) {
        self.with_peer(peer, |c| c.sent.fetch_add(n as u64, Ordering::Relaxed));
    }

    pub(super) fn add_received_bytes(&self, peer: NodeId, n: usize) {
        self.with_peer(peer, |c| c.received.fetch_add(n as u64, Ordering::Relaxed));
    }

    fn with_peer(&self, peer: NodeId, f: impl FnOnce(&PeerCells) -> u64) {
        let lock = &self.cells.peer_bytes;
        if let Some(cells) = lock
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&peer)
        {
            f(cells);
            return;
        }
        let mut map = lock.write().unwrap_or_else(PoisonError::into_inner);
        f(map.entry(peer).or_default());
    }

    pub(super) fn incr(&self, counter: Counter) {
        self.add(counter, 1);
    }
}
