//! Linearizable reads by ReadIndex (thesis §6.4): record the commit index, confirm leadership with a
//! heartbeat round acknowledged by a majority, then serve once applied through that index.
//!
//! With `lease_reads` (thesis §6.4.1) the leader skips the round while its lease holds: a majority
//! acknowledged a heartbeat round sent less than [`Config::lease_ticks`] ago on the lease clock.
//! Each of those followers refuses votes and pre-votes for a minimum election timeout after it
//! heard the round (`in_leader_lease`), so no other leader can be elected before the lease ends,
//! provided that:
//! - tick periods differ between nodes by less than `lease_ticks` allows for (a fifth);
//! - the host reports stalls (`Raft::note_stall`) before it steps what arrived during them, so the
//!   lease clock never falls behind real time by more than the margin;
//! - a node that restarts refuses votes for its first election timeout (`boot_quiet`);
//! - no leadership transfer is under way (`lease_void_until`): its votes override the lease.
//!
//! [`Config::lease_ticks`]: super::config::Config::lease_ticks

use std::collections::VecDeque;

use super::config::InjectedBug;
use super::message::Body;
use super::node::{Raft, ReadError};
use super::output::ReadState;
use super::types::{Index, NodeId, Role};

/// A read waiting for its heartbeat round. `from` is `None` for this node's own clients.
#[derive(Clone, Copy, Debug)]
struct PendingRead {
    from: Option<NodeId>,
    id: u64,
    index: Index,
    /// The heartbeat round whose majority acknowledgement confirms this read.
    seq: u64,
}

/// The leader's reads in flight, bounded by `max`.
///
/// Invariant: `pending` is sorted by `seq`; `seq` only grows, across terms too.
#[derive(Debug)]
pub(super) struct ReadQueue {
    max: usize,
    seq: u64,
    round_wanted: bool,
    /// Reads that arrived before this leader committed an entry of its term: its commit index may
    /// still lag the previous leader's, so no read index can be chosen yet.
    awaiting_commit: Vec<(Option<NodeId>, u64)>,
    pending: VecDeque<PendingRead>,
    /// Heartbeat rounds of this term and the lease clock when each was first sent, oldest first
    /// (lease reads only).
    rounds: VecDeque<(u64, u64)>,
}

/// Rounds remembered for the lease at most: older ones only date an expired lease.
const ROUNDS_KEPT: usize = 256;

impl ReadQueue {
    pub(super) fn new(max: usize) -> Self {
        ReadQueue {
            max,
            seq: 0,
            round_wanted: false,
            awaiting_commit: Vec::new(),
            pending: VecDeque::new(),
            rounds: VecDeque::new(),
        }
    }

    /// A new leadership: rounds of an earlier term date no lease of this one.
    pub(super) fn new_term(&mut self) {
        self.rounds.clear();
    }

    /// Starts a new heartbeat round.
    pub(super) fn next_round(&mut self) {
        self.seq += 1;
    }

    /// Heartbeats of the current round leave now, at `clock` on the lease clock.
    pub(super) fn sent_round(&mut self, clock: u64) {
        if self.rounds.back().is_none_or(|&(seq, _)| seq != self.seq) {
            if self.rounds.len() == ROUNDS_KEPT {
                self.rounds.pop_front();
            }
            self.rounds.push_back((self.seq, clock));
        }
    }

    /// When round `seq` was first sent; forgets the rounds before it.
    fn round_sent_at(&mut self, seq: u64) -> Option<u64> {
        while self.rounds.front().is_some_and(|&(s, _)| s < seq) {
            self.rounds.pop_front();
        }
        self.rounds
            .front()
            .filter(|&&(s, _)| s == seq)
            .map(|&(_, clock)| clock)
    }

    /// The round number the latest heartbeats carry.
    pub(super) fn current_seq(&self) -> u64 {
        self.seq
    }

    fn len(&self) -> usize {
        self.awaiting_commit.len() + self.pending.len()
    }

    fn push(&mut self, from: Option<NodeId>, id: u64, index: Index) {
        self.pending.push_back(PendingRead {
            from,
            id,
            index,
            seq: self.seq + 1,
        });
        self.round_wanted = true;
    }
}

impl Raft {
    pub(super) fn start_read(&mut self, from: Option<NodeId>, id: u64) -> Result<(), ReadError> {
        if self.reads.len() >= self.reads.max {
            return Err(ReadError::Busy);
        }
        if self.log.term(self.commit) == Some(self.term) {
            let commit = self.commit;
            if self.holds_read_lease() {
                self.answer_read(from, id, Some(commit));
                return Ok(());
            }
            if self.bug(InjectedBug::ReadIndexWithoutHeartbeat) {
                self.answer_read(from, id, Some(commit));
                return Ok(());
            }
            self.reads.push(from, id, commit);
        } else {
            self.reads.awaiting_commit.push((from, id));
        }
        Ok(())
    }

    /// True while this leader's lease holds (module docs), so a read needs no heartbeat round.
    fn holds_read_lease(&mut self) -> bool {
        if !self.cfg.lease_reads
            || self.role != Role::Leader
            || self.transfer.is_some()
            || self.lease_clock < self.lease_void_until
        {
            return false;
        }
        let confirmed = self.quorum_value(self.reads.seq, |p| p.read_seq_acked);
        let lease_ticks = self.cfg.lease_ticks();
        let lease_clock = self.lease_clock;
        self.reads
            .round_sent_at(confirmed)
            .is_some_and(|sent| lease_clock < sent + lease_ticks)
    }

    pub(super) fn handle_remote_read(&mut self, from: NodeId, id: u64) {
        let accepted = self.role == Role::Leader && self.start_read(Some(from), id).is_ok();
        if !accepted {
            self.send(from, Body::ReadIndexResponse { id, index: None });
        }
    }

    /// The leader committed its first entry of the term: reads that waited can now be indexed.
    pub(super) fn on_first_commit_in_term(&mut self) {
        let commit = self.commit;
        for (from, id) in std::mem::take(&mut self.reads.awaiting_commit) {
            self.reads.push(from, id, commit);
        }
    }

    /// Starts one heartbeat round for all reads that arrived since the last one.
    pub(super) fn flush_reads(&mut self) {
        if self.reads.round_wanted {
            self.reads.round_wanted = false;
            self.reads.next_round();
            self.broadcast_heartbeats();
        }
        self.confirm_reads();
    }

    /// Answers every read whose round a majority (this leader included) has acknowledged.
    pub(super) fn confirm_reads(&mut self) {
        if self.reads.pending.is_empty() {
            return;
        }
        let confirmed = self.quorum_value(self.reads.seq, |p| p.read_seq_acked);
        while let Some(read) = self.reads.pending.front().copied() {
            if read.seq > confirmed {
                break;
            }
            self.reads.pending.pop_front();
            self.answer_read(read.from, read.id, Some(read.index));
        }
    }

    /// Fails every read in flight: leadership is lost, so none can be confirmed any more.
    pub(super) fn fail_pending_reads(&mut self) {
        let pending: Vec<_> = self
            .reads
            .pending
            .drain(..)
            .map(|r| (r.from, r.id))
            .collect();
        let waiting = std::mem::take(&mut self.reads.awaiting_commit);
        self.reads.round_wanted = false;
        for (from, id) in pending.into_iter().chain(waiting) {
            self.answer_read(from, id, None);
        }
    }

    fn answer_read(&mut self, from: Option<NodeId>, id: u64, index: Option<Index>) {
        match from {
            None => self.out.reads.push(ReadState { id, index }),
            Some(peer) => self.send(peer, Body::ReadIndexResponse { id, index }),
        }
    }
}
