//! The messages Raft peers exchange. Plain serde types: the node encodes them as MessagePack.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::types::{Entry, Index, Term};

/// A message between two cores. The sender's id travels beside it (in the node's envelope).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The sender's term; for `PreVote` the term it *would* campaign in.
    pub term: Term,
    pub body: Body,
}

/// The kinds of messages. Every request names what the receiver needs to judge it; every response
/// carries enough to be matched to what it answers without per-request state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// RequestVote (§5.2); `transfer` is set when campaigning on a leader's `TimeoutNow`, which
    /// overrides the followers' leader lease (thesis §3.10).
    Vote {
        last_log_index: Index,
        last_log_term: Term,
        transfer: bool,
    },
    VoteResponse {
        granted: bool,
    },
    /// A pre-vote: would you vote for me in `term`? The receiver changes no state (thesis §9.6).
    PreVote {
        last_log_index: Index,
        last_log_term: Term,
    },
    PreVoteResponse {
        granted: bool,
    },
    /// AppendEntries (§5.3).
    Append {
        prev_log_index: Index,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: Index,
    },
    /// Answer to `Append`. On success `index` is the last index known to match the leader's log.
    /// On rejection `index` is the rejected `prev_log_index` and `hint` lets the leader skip a whole
    /// conflicting term at once.
    AppendResponse {
        success: bool,
        index: Index,
        hint: Option<ConflictHint>,
    },
    /// Leader liveness and commit propagation; `read_seq` confirms leadership for ReadIndex.
    Heartbeat {
        commit: Index,
        read_seq: u64,
    },
    HeartbeatResponse {
        read_seq: u64,
    },
    /// Leadership transfer: start an election now, bypassing the pre-vote (thesis §3.10).
    TimeoutNow,
    /// A follower asks the leader for a read index on behalf of its client request `id`.
    ReadIndex {
        id: u64,
    },
    /// The leader's answer: serve request `id` once applied up to `index`. `None`: the leader
    /// could not take the read (for example it is stepping down); the follower fails the request.
    ReadIndexResponse {
        id: u64,
        index: Option<Index>,
    },
    /// InstallSnapshot (§7), one chunk: bytes `[offset, offset + data.len())` of the leader's
    /// snapshot of everything through `index` (whose entry has `snapshot_term`). `done` marks the
    /// last chunk. Sent one at a time; the follower answers every chunk with `SnapshotAck`.
    Snapshot {
        index: Index,
        snapshot_term: Term,
        offset: u64,
        data: Bytes,
        done: bool,
    },
    /// The follower holds bytes `[0, next_offset)` of snapshot `index` and wants the rest (0:
    /// start again). Once it has installed the snapshot it answers with `AppendResponse` instead.
    SnapshotAck {
        index: Index,
        next_offset: u64,
    },
}

/// Where a follower's log diverges from an `Append`'s `prev_log_index` (fast backtracking, §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictHint {
    /// The term of the follower's entry at `prev_log_index`, or `None` when its log is shorter.
    pub conflict_term: Option<Term>,
    /// The first index of `conflict_term` in the follower's log, or its last index + 1.
    pub first_index: Index,
}
