//! What a step asks its caller to do. The core performs no I/O; this is its only effect.

use super::message::Message;
use super::types::{Entry, HardState, Index, NodeId};

/// The batch of work produced since the last [`crate::raft::Raft::take_output`].
///
/// **Ordering contract** (the caller must honour it; the safety of the whole node rests on it):
/// 1. `messages` may be sent at once, even before the writes below are durable (a leader may
///    replicate to followers while its own write is in flight; it counts itself only once told).
/// 2. `hard_state` and `entries` must be written durably (fsynced), in the order batches were taken.
///    `entries` replace the stored log from `entries[0].index` on: delete every stored entry at or
///    after that index, then append.
/// 3. Only after (2) — for this batch and every earlier one — may `messages_after_persist` be sent
///    (votes, acknowledgements: they promise durability), and then the caller reports the batch with
///    [`crate::raft::Raft::persisted`] passing the last entry's index and term.
/// 4. `committed` entries may be applied at once, in order; they are already durable locally.
/// 5. A `reads` item with `index: Some(i)` may be answered once the state machine has applied `i`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub hard_state: Option<HardState>,
    pub entries: Vec<Entry>,
    pub messages: Vec<(NodeId, Message)>,
    pub messages_after_persist: Vec<(NodeId, Message)>,
    pub committed: Vec<Entry>,
    pub reads: Vec<ReadState>,
}

impl Output {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.hard_state.is_none()
            && self.entries.is_empty()
            && self.messages.is_empty()
            && self.messages_after_persist.is_empty()
            && self.committed.is_empty()
            && self.reads.is_empty()
    }

    /// True when the batch holds something to make durable.
    pub fn needs_persist(&self) -> bool {
        self.hard_state.is_some() || !self.entries.is_empty()
    }
}

/// The outcome of a linearizable read request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadState {
    /// The caller's request id, as given to [`crate::raft::Raft::read_index`].
    pub id: u64,
    /// `Some(i)`: serve the read once applied through `i`. `None`: leadership could not be
    /// confirmed (lost, or leader unknown); the caller fails the read with "retry".
    pub index: Option<Index>,
}
