//! Log compaction and InstallSnapshot (§7; thesis ch. 5).
//!
//! The core never holds snapshot bytes. The caller takes snapshots of its state machine and
//! tells the core with [`Raft::compact`]; a leader that finds a follower's next entry compacted
//! away asks the caller, through `Output::snapshot_sends`, to send chunks of its newest snapshot
//! one at a time ([`Raft::send_snapshot_chunk`] wraps each in a message of the current term). A
//! follower hands each chunk to its caller (`Output::snapshot_chunks`), which stores the chunks
//! that continue what it holds and answers with [`Raft::snapshot_received`]; once it holds the
//! whole snapshot durably it calls [`Raft::install_snapshot`], and the core acknowledges the
//! snapshot's index to the leader after the log prefix is persisted, like any append.
//!
//! Loss, duplication and reordering: chunks carry their offset, and the follower keeps only the
//! one continuing its bytes; the leader moves on only when an acknowledgement shows progress
//! and sends the awaited chunk again after a heartbeat round without any. A new leader starts
//! its own transfer (another snapshot, offset 0), which the follower takes as a fresh start.

use bytes::Bytes;

use super::config::InjectedBug;
use super::membership::MembershipEntry;
use super::message::Body;
use super::node::Raft;
use super::output::{SnapshotChunk, SnapshotSend};
use super::progress::Mode;
use super::types::{Index, NodeId, Role, Term};

/// One chunk of a snapshot for [`Raft::send_snapshot_chunk`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkOut {
    /// The snapshot covers every entry through `index`, whose term is `term`.
    pub index: Index,
    pub term: Term,
    /// Where in the snapshot's bytes `data` starts.
    pub offset: u64,
    pub data: Bytes,
    /// True for the last chunk.
    pub done: bool,
}

impl Raft {
    /// Forgets the entries through `index`: the caller holds a durable snapshot covering them.
    /// Followers that still need them will be sent a snapshot. Panics if `index` was not applied:
    /// a snapshot can only hold applied state.
    pub fn compact(&mut self, index: Index) {
        assert!(
            index <= self.applied,
            "cannot compact through {index}: only {} is applied",
            self.applied
        );
        self.log.compact(index);
        self.compact_config(index);
    }

    /// Leader: sends `to` one chunk of a snapshot, if `to` is still waiting for one.
    pub fn send_snapshot_chunk(&mut self, to: NodeId, chunk: ChunkOut) {
        if self.role != Role::Leader {
            return;
        }
        let Some(pr) = self.progress_mut(to) else {
            return;
        };
        if pr.mode != Mode::Snapshot {
            return;
        }
        if pr.snapshot_index != chunk.index {
            pr.snapshot_index = chunk.index;
            pr.snapshot_offset = 0;
            pr.snapshot_reported = 0;
        }
        self.send(
            to,
            Body::Snapshot {
                index: chunk.index,
                snapshot_term: chunk.term,
                offset: chunk.offset,
                data: chunk.data,
                done: chunk.done,
            },
        );
    }

    /// Follower: tells the leader `to` how much of snapshot `index` is held (`next_offset` bytes;
    /// 0 to start again).
    pub fn snapshot_received(&mut self, to: NodeId, index: Index, next_offset: u64) {
        self.send(to, Body::SnapshotAck { index, next_offset });
    }

    /// Follower: installs a snapshot of everything through `(index, term)`, which the caller
    /// holds durably. Returns false when it brings nothing new (it is at or below the commit
    /// index, or this node leads); then the caller discards it. On true the caller replaces its
    /// state machine with the snapshot's before applying anything later, and drops whatever
    /// committed entries it had not applied yet: the snapshot supersedes them.
    pub fn install_snapshot(
        &mut self,
        from: NodeId,
        index: Index,
        term: Term,
        membership: MembershipEntry,
    ) -> bool {
        if index <= self.commit || self.role == Role::Leader {
            return false;
        }
        // Invariant kept: applied <= commit < index, so nothing applied is lost.
        let kept = self.log.install(index, term);
        self.install_config(index, kept, membership);
        // Entries waiting to be written that the snapshot covers must not reach the store,
        // whose log now starts after `index`; with no matching suffix nothing pending survives.
        if kept {
            self.out.entries.retain(|e| e.index > index);
        } else {
            self.out.entries.clear();
        }
        self.out.log_prefix = Some((index, term));
        // Kept early appends were judged against the old log; the leader sends again what the
        // snapshot does not cover.
        self.early.clear();
        self.commit = index;
        self.applied = index;
        self.persisted = if kept {
            self.persisted.max(index)
        } else {
            index
        };
        self.acknowledge_append(from, index);
        true
    }

    /// Follower: a chunk from the leader (already followed by `step`).
    pub(super) fn handle_snapshot(&mut self, from: NodeId, chunk: ChunkOut) {
        if chunk.index <= self.commit {
            // Nothing we lack: say how far we match, like a duplicate append (the leader may have
            // missed our acknowledgement of an installed snapshot).
            self.acknowledge_append(from, self.commit);
            return;
        }
        self.out.snapshot_chunks.push(SnapshotChunk {
            from,
            index: chunk.index,
            term: chunk.term,
            offset: chunk.offset,
            data: chunk.data,
            done: chunk.done,
        });
    }

    /// Leader: a follower's word on the snapshot it is receiving.
    pub(super) fn handle_snapshot_ack(&mut self, from: NodeId, index: Index, next_offset: u64) {
        if self.role != Role::Leader {
            return;
        }
        let Some(pr) = self.progress_mut(from) else {
            return;
        };
        pr.recent_active = true;
        if pr.mode != Mode::Snapshot || index != pr.snapshot_index {
            return;
        }
        pr.snapshot_reported = next_offset;
        // Only progress (or a request to start over) moves the transfer: a duplicated or
        // reordered acknowledgement would otherwise resend chunks the follower already holds.
        if next_offset > pr.snapshot_offset || next_offset == 0 {
            pr.snapshot_offset = next_offset;
            pr.snapshot_progressed = true;
            self.out.snapshot_sends.push(SnapshotSend {
                to: from,
                index,
                offset: next_offset,
            });
        }
    }

    /// Leader: `peer` needs entries before our log's first: switch it to snapshots.
    pub(super) fn start_snapshot(&mut self, peer: NodeId) {
        let prefix = self.log.prev_index();
        let bug = self.bug(InjectedBug::SkipSnapshot);
        let Some(pr) = self.progress_mut(peer) else {
            return;
        };
        if bug {
            pr.acknowledge(prefix);
            return;
        }
        pr.become_snapshot();
        self.out.snapshot_sends.push(SnapshotSend {
            to: peer,
            index: 0,
            offset: 0,
        });
    }

    /// Leader, on a heartbeat answer from `peer` in snapshot mode: if no chunk was acknowledged
    /// for a whole round, the chunk or its answer was lost; ask for it again.
    pub(super) fn retry_snapshot(&mut self, peer: NodeId) {
        let Some(pr) = self.progress_mut(peer) else {
            return;
        };
        if std::mem::take(&mut pr.snapshot_progressed) {
            pr.snapshot_stalled = false;
            return;
        }
        // A second round without progress while the follower says it holds less than we await:
        // it crashed, and an acknowledgement from before the crash arrived late. Awaiting our
        // offset would never end: resume from its word (if that word was only a reordered old
        // one, its answer moves us forward again).
        if std::mem::replace(&mut pr.snapshot_stalled, true) {
            pr.snapshot_offset = pr.snapshot_offset.min(pr.snapshot_reported);
        }
        let send = SnapshotSend {
            to: peer,
            index: pr.snapshot_index,
            offset: pr.snapshot_offset,
        };
        self.out.snapshot_sends.push(send);
    }
}
