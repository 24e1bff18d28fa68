//! What a step asks its caller to do. The core performs no I/O; this is its only effect.

use bytes::Bytes;

use super::message::Message;
use super::types::{Entry, HardState, Index, NodeId, Term};

/// The batch of work produced since the last [`crate::raft::Raft::take_output`].
///
/// **Ordering contract** (the caller must honour it; the safety of the whole node rests on it):
/// 1. `messages` may be sent at once, even before the writes below are durable (a leader may
///    replicate to followers while its own write is in flight; it counts itself only once told).
/// 2. `hard_state`, `log_prefix` and `entries` must be written durably (fsynced), in that order
///    and in the order batches were taken. `log_prefix: Some((i, t))` comes from an installed
///    snapshot: the stored log must start right after `(i, t)`, keeping stored entries after `i`
///    only if the stored entry at `i` has term `t` (§7). `entries` replace the stored log from
///    `entries[0].index` on: delete every stored entry at or after that index, then append.
/// 3. Only after (2) — for this batch and every earlier one — may `messages_after_persist` be sent
///    (votes, acknowledgements: they promise durability), and then the caller reports the batch with
///    [`crate::raft::Raft::persisted`] passing the last entry's index and term.
/// 4. `committed` entries may be applied at once, in order; they are already durable locally.
/// 5. A `reads` item with `index: Some(i)` may be answered once the state machine has applied `i`.
/// 6. `snapshot_sends` (leader) ask the caller to send a chunk of its snapshot with
///    [`crate::raft::Raft::send_snapshot_chunk`]; `snapshot_chunks` (follower) are chunks to store.
///    Once a follower's caller holds a whole snapshot *durably*, it calls
///    [`crate::raft::Raft::install_snapshot`]; if that returns true, the caller's state machine
///    becomes the snapshot's before it applies anything in a later `committed`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub hard_state: Option<HardState>,
    pub log_prefix: Option<(Index, Term)>,
    pub entries: Vec<Entry>,
    pub messages: Vec<(NodeId, Message)>,
    pub messages_after_persist: Vec<(NodeId, Message)>,
    pub committed: Vec<Entry>,
    pub reads: Vec<ReadState>,
    pub snapshot_sends: Vec<SnapshotSend>,
    pub snapshot_chunks: Vec<SnapshotChunk>,
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
            && self.log_prefix.is_none()
            && self.snapshot_sends.is_empty()
            && self.snapshot_chunks.is_empty()
    }

    /// True when the batch holds something to make durable.
    pub fn needs_persist(&self) -> bool {
        self.hard_state.is_some() || self.log_prefix.is_some() || !self.entries.is_empty()
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

/// Leader: send `to` the chunk of a snapshot starting at `offset`. `index` names the snapshot the
/// follower is receiving (0: none yet, start with the newest). If that snapshot is no longer
/// held, start the newest from offset 0. An offset at or past the end asks for the final chunk
/// again (an empty one with `done`), so a lost last answer is repaired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotSend {
    pub to: NodeId,
    pub index: Index,
    pub offset: u64,
}

/// Follower: a chunk of the snapshot of everything through `index` (term `term`) from the leader
/// `from`. The caller keeps chunks that continue what it holds of this snapshot (offset 0 starts
/// it afresh), ignores the rest, and answers with [`crate::raft::Raft::snapshot_received`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotChunk {
    pub from: NodeId,
    pub index: Index,
    pub term: Term,
    pub offset: u64,
    pub data: Bytes,
    pub done: bool,
}
