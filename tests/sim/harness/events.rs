//! The simulator's agenda: events ordered by virtual time, ties broken by scheduling order so that
//! a run is a pure function of its seed.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use raftkv::raft::{Message, NodeId};

use super::operation::Turn;

/// Something that happens at a point of virtual time.
#[derive(Debug)]
pub enum Event {
    /// A node's clock ticks (it keeps ticking while the node is down, doing nothing).
    Tick(NodeId),
    /// A message arrives at `to`.
    Deliver {
        from: NodeId,
        to: NodeId,
        msg: Message,
    },
    /// The disk finished syncing the write batch numbered `batch` on `node`.
    Synced { node: NodeId, batch: u64 },
    /// The snapshot write numbered `seq` on `node` is synced and renamed into place.
    SnapshotWritten { node: NodeId, seq: u64 },
    /// A crashed node comes back, if it is still down from its crash number `crash`.
    Restart { node: NodeId, crash: u64 },
    /// A paused node's process runs again, if it is still in its pause number `pause`.
    Resume { node: NodeId, pause: u64 },
    /// The fault generator's turn.
    Chaos,
    /// The clients' turn.
    Client,
    /// The operator's turn to change the membership.
    Operator(Turn),
}

struct Scheduled {
    at_us: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at_us, self.seq) == (other.at_us, other.seq)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    // Reversed: `BinaryHeap` is a max-heap and the earliest event must come out first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at_us, other.seq).cmp(&(self.at_us, self.seq))
    }
}

/// A deterministic priority queue of events.
#[derive(Default)]
pub struct EventQueue {
    heap: BinaryHeap<Scheduled>,
    next_seq: u64,
}

impl EventQueue {
    /// Schedules `event` at `at_us`; events at the same time run in scheduling order.
    pub fn push(&mut self, at_us: u64, event: Event) {
        self.next_seq += 1;
        self.heap.push(Scheduled {
            at_us,
            seq: self.next_seq,
            event,
        });
    }

    /// The earliest event and its time.
    pub fn pop(&mut self) -> Option<(u64, Event)> {
        self.heap.pop().map(|s| (s.at_us, s.event))
    }

    /// The time of the earliest event.
    pub fn peek_time(&self) -> Option<u64> {
        self.heap.peek().map(|s| s.at_us)
    }
}
