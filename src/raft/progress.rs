//! The leader's view of one follower's replication (thesis §3.5 and etcd's flow control).

use std::collections::VecDeque;

use super::types::Index;

/// How the leader currently sends to a follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The follower's match point is unknown: one `Append` at a time until one succeeds.
    Probe,
    /// Steady state: `Append`s are pipelined optimistically, up to `max_inflight_msgs`.
    Replicate,
    /// The follower needs entries the leader has compacted away: a snapshot is sent, one chunk
    /// at a time, and no `Append` until the follower reports it installed (§7).
    Snapshot,
}

/// Replication state of one follower, kept by the leader.
///
/// Invariant: `match_index < next_index`, and every index in `inflight` is `>= next_index - 1`'s
/// predecessors in send order (ascending).
#[derive(Clone, Debug)]
pub(crate) struct Progress {
    pub(crate) match_index: Index,
    pub(crate) next_index: Index,
    pub(crate) mode: Mode,
    /// Probe mode: an `Append` is outstanding; wait for an answer (or a heartbeat answer) first.
    pub(crate) probe_sent: bool,
    /// Replicate mode: the last index carried by each unacknowledged `Append`, oldest first.
    pub(crate) inflight: VecDeque<Index>,
    /// Heard from since the last CheckQuorum round.
    pub(crate) recent_active: bool,
    /// `match_index` when this follower last answered a heartbeat: if it has not moved by the
    /// next answer, the oldest `Append` in flight was probably lost.
    pub(crate) heartbeat_match: Index,
    /// Highest ReadIndex round this follower has acknowledged.
    pub(crate) read_seq_acked: u64,
    /// Snapshot mode: the snapshot being sent (0 until the first chunk leaves) and the bytes of
    /// it the follower has confirmed.
    pub(crate) snapshot_index: Index,
    pub(crate) snapshot_offset: u64,
    /// Snapshot mode: the bytes the follower last said it holds of that snapshot, which may be
    /// below `snapshot_offset`: a follower that crashed lost its partial file, and a stale
    /// acknowledgement from before the crash may have moved `snapshot_offset` past it.
    pub(crate) snapshot_reported: u64,
    /// Snapshot mode: a chunk was acknowledged since the last heartbeat answer.
    pub(crate) snapshot_progressed: bool,
    /// Snapshot mode: the last heartbeat round already passed without progress.
    pub(crate) snapshot_stalled: bool,
}

impl Progress {
    pub(crate) fn new(next_index: Index) -> Self {
        Progress {
            match_index: 0,
            next_index,
            mode: Mode::Probe,
            probe_sent: false,
            inflight: VecDeque::new(),
            recent_active: false,
            heartbeat_match: 0,
            read_seq_acked: 0,
            snapshot_index: 0,
            snapshot_offset: 0,
            snapshot_reported: 0,
            snapshot_progressed: false,
            snapshot_stalled: false,
        }
    }

    /// True when nothing more may be sent until an answer arrives.
    pub(crate) fn is_paused(&self, max_inflight: usize) -> bool {
        match self.mode {
            Mode::Probe => self.probe_sent,
            Mode::Replicate => self.inflight.len() >= max_inflight,
            Mode::Snapshot => true,
        }
    }

    /// Records that an `Append` ending at `last` was sent.
    pub(crate) fn sent(&mut self, last: Index, carried_entries: bool) {
        match self.mode {
            Mode::Probe => self.probe_sent = true,
            Mode::Replicate => {
                if carried_entries {
                    self.next_index = last + 1;
                    self.inflight.push_back(last);
                }
            }
            Mode::Snapshot => {}
        }
    }

    /// A follower confirmed its log matches through `index`. Returns true if that is news.
    pub(crate) fn acknowledge(&mut self, index: Index) -> bool {
        while self.inflight.front().is_some_and(|&i| i <= index) {
            self.inflight.pop_front();
        }
        if index <= self.match_index {
            return false;
        }
        self.match_index = index;
        self.next_index = self.next_index.max(index + 1);
        if self.mode != Mode::Replicate {
            self.become_replicate();
        }
        true
    }

    /// Starts sending a snapshot: nothing else goes to this follower until it acknowledges one.
    pub(crate) fn become_snapshot(&mut self) {
        self.mode = Mode::Snapshot;
        self.probe_sent = false;
        self.inflight.clear();
        self.snapshot_index = 0;
        self.snapshot_offset = 0;
        self.snapshot_reported = 0;
        self.snapshot_progressed = true;
        self.snapshot_stalled = false;
    }

    pub(crate) fn become_replicate(&mut self) {
        self.mode = Mode::Replicate;
        self.next_index = self.match_index + 1;
        self.probe_sent = false;
        self.inflight.clear();
    }

    /// Falls back to probing from `next`, which is kept above the known match point.
    pub(crate) fn become_probe(&mut self, next: Index) {
        self.mode = Mode::Probe;
        self.next_index = next.max(self.match_index + 1);
        self.probe_sent = false;
        self.inflight.clear();
    }
}
