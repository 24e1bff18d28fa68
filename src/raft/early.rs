//! A follower's buffer of early `Append`s: ones of the current term whose `prev_log_index` lies
//! beyond its log's end, because the network delivered a pipelined `Append` before the one it
//! continues.
//!
//! Rejecting such an `Append` is correct but costly: the leader falls back to probing and sends
//! again everything it had in flight, though the missing `Append` is usually only a moment late.
//! So a follower keeps a few of them and steps each again, as if it had just arrived, once its
//! log reaches its `prev_log_index`. Safety is untouched: a kept `Append` is answered only when it
//! is stepped for real (an acknowledgement, after the persist of what it appended, or a
//! rejection), and stepping a message later than it arrived is what a slower network would have
//! done. The buffer only holds `Append`s of one term from that term's one leader, and is emptied
//! whenever the term changes.
//!
//! Only once it has accepted an `Append` of the term does a follower keep any: before that, an
//! `Append` beyond its log's end is a new leader's probe (sent from the leader's log end), and
//! nothing will fill the gap until the follower rejects it.
//!
//! If the missing `Append` was lost, the gap never fills by itself: after
//! [`EARLY_APPEND_WAIT_TICKS`] ticks the follower rejects every kept `Append` (as it would have
//! at once without the buffer) and keeps none, and the leader probes from its log's end.

use super::message::Body;
use super::node::Raft;
use super::types::{Entry, Index, NodeId, Term};

/// Follower ticks an early `Append` may wait for the gap before it is rejected, so that a lost
/// `Append` costs the leader a round trip and not the whole buffer's worth of ticks.
pub(super) const EARLY_APPEND_WAIT_TICKS: u32 = 2;

/// One `Append` kept for later.
#[derive(Clone, Debug)]
pub(super) struct EarlyAppend {
    pub(super) from: NodeId,
    pub(super) prev_log_index: Index,
    pub(super) prev_log_term: Term,
    pub(super) entries: Vec<Entry>,
    pub(super) leader_commit: Index,
}

/// The kept `Append`s of one term.
///
/// Invariant: `appends.len() <= Config::max_early_appends`; every kept `Append` is of `term`,
/// ascending by `prev_log_index`, at most one per `prev_log_index`; none is kept unless
/// `pipelining`.
#[derive(Debug, Default)]
pub(super) struct EarlyAppends {
    term: Term,
    /// An `Append` of `term` was accepted: the leader may be pipelining to us. Before that an
    /// `Append` beyond the log's end is the leader's probe, which nothing else will follow
    /// until it is answered, so it is rejected at once.
    pipelining: bool,
    appends: Vec<EarlyAppend>,
    /// Follower ticks since the gap was last reported or partly filled.
    waited_ticks: u32,
}

impl EarlyAppends {
    /// True if no `Append` is kept.
    pub(super) fn is_empty(&self) -> bool {
        self.appends.is_empty()
    }

    /// Forgets every kept `Append` (an installed snapshot).
    pub(super) fn clear(&mut self) {
        self.appends.clear();
        self.waited_ticks = 0;
    }

    /// Starts over in `term`: nothing kept, nothing accepted yet.
    pub(super) fn new_term(&mut self, term: Term) {
        self.clear();
        self.term = term;
        self.pipelining = false;
    }

    /// Notes that an `Append` of `term` was accepted.
    pub(super) fn accepted(&mut self, term: Term) {
        if term != self.term {
            self.new_term(term);
        }
        self.pipelining = true;
    }

    /// Keeps `append` of `term` if there is room (`limit`). A duplicate (the same
    /// `prev_log_index`) keeps the one carrying more entries. Gives `append` back if it was not
    /// kept.
    fn keep(&mut self, term: Term, append: EarlyAppend, limit: usize) -> Result<(), EarlyAppend> {
        if term != self.term || !self.pipelining {
            return Err(append);
        }
        let at = self
            .appends
            .partition_point(|a| a.prev_log_index < append.prev_log_index);
        if let Some(same) = self.appends.get_mut(at) {
            if same.prev_log_index == append.prev_log_index {
                if append.entries.len() > same.entries.len() {
                    *same = append;
                }
                return Ok(());
            }
        }
        if self.appends.len() >= limit {
            return Err(append);
        }
        self.appends.insert(at, append);
        Ok(())
    }

    /// Takes the kept `Append` of `term` with the lowest `prev_log_index`, if the log now reaches
    /// it (`last_index`).
    fn take_ready(&mut self, term: Term, last_index: Index) -> Option<EarlyAppend> {
        if term != self.term {
            self.new_term(term);
            return None;
        }
        let first = self.appends.first()?;
        if first.prev_log_index > last_index {
            return None;
        }
        self.waited_ticks = 0;
        Some(self.appends.remove(0))
    }
}

impl Raft {
    /// Keeps an `Append` whose `prev_log_index` is beyond this follower's log end, if the buffer
    /// has room. Gives it back if it must be stepped (and so rejected) at once.
    pub(super) fn keep_early_append(&mut self, append: EarlyAppend) -> Result<(), EarlyAppend> {
        debug_assert!(append.prev_log_index > self.log.last_index());
        match self.cfg.max_early_appends {
            0 => Err(append),
            limit => self.early.keep(self.term, append, limit),
        }
    }

    /// Steps again every kept `Append` the log now reaches, lowest `prev_log_index` first (each
    /// may extend the log for the next).
    pub(super) fn replay_early_appends(&mut self) {
        while let Some(a) = self.early.take_ready(self.term, self.log.last_index()) {
            self.step_append(
                a.from,
                a.prev_log_index,
                a.prev_log_term,
                a.entries,
                a.leader_commit,
            );
        }
    }

    /// A follower's tick: reports a gap that did not fill in time by rejecting the oldest kept
    /// `Append`, so the leader probes from this log's end (and the kept ones follow the probe).
    pub(super) fn tick_early_appends(&mut self) {
        if self.early.is_empty() || self.early.term != self.term {
            return;
        }
        self.early.waited_ticks += 1;
        if self.early.waited_ticks < EARLY_APPEND_WAIT_TICKS {
            return;
        }
        // Each kept Append gets the answer it would have had: the leader acts on the one that
        // matches what it now waits for (its probe, or its oldest Append in flight) and drops
        // the others as stale. Answering only one could leave a probe unanswered for good.
        let kept = std::mem::take(&mut self.early.appends);
        self.early.clear();
        for a in kept {
            self.reject_beyond_log_end(a.from, a.prev_log_index);
        }
    }

    /// Rejects an `Append` whose `prev_log_index` is beyond the log's end: the leader retries
    /// from the log's end.
    pub(super) fn reject_beyond_log_end(&mut self, to: NodeId, prev_log_index: Index) {
        let hint = super::message::ConflictHint {
            conflict_term: None,
            first_index: self.log.last_index() + 1,
        };
        self.send_after_persist(
            to,
            Body::AppendResponse {
                success: false,
                index: prev_log_index,
                hint: Some(hint),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn early(prev: Index, len: usize) -> EarlyAppend {
        let entries = (prev + 1..=prev + len as Index)
            .map(|index| Entry {
                index,
                term: 2,
                payload: super::super::types::Payload::Noop,
            })
            .collect();
        EarlyAppend {
            from: 1,
            prev_log_index: prev,
            prev_log_term: 2,
            entries,
            leader_commit: 0,
        }
    }

    #[test]
    fn kept_in_index_order_within_the_limit_and_duplicates_merged() {
        let mut b = EarlyAppends::default();
        assert!(
            b.keep(2, early(20, 5), 2).is_err(),
            "nothing accepted yet: a probe"
        );
        b.accepted(2);
        assert!(b.keep(2, early(20, 5), 2).is_ok());
        assert!(b.keep(2, early(10, 5), 2).is_ok());
        // A duplicate takes no room; the longer of the two stays.
        assert!(b.keep(2, early(10, 8), 2).is_ok());
        assert!(b.keep(2, early(10, 1), 2).is_ok());
        let refused = b.keep(2, early(30, 5), 2).expect_err("full");
        assert_eq!(refused.prev_log_index, 30, "given back to be rejected");
        assert_eq!(b.appends.len(), 2);
        assert!(b.take_ready(2, 9).is_none(), "the gap is still open");
        let first = b.take_ready(2, 10).expect("reached");
        assert_eq!((first.prev_log_index, first.entries.len()), (10, 8));
        assert!(b.take_ready(2, 19).is_none());
        assert_eq!(b.take_ready(2, 25).map(|a| a.prev_log_index), Some(20));
    }

    #[test]
    fn a_new_term_empties_the_buffer() {
        let mut b = EarlyAppends::default();
        b.accepted(2);
        assert!(b.keep(2, early(10, 1), 4).is_ok());
        assert!(b.take_ready(3, 100).is_none());
        assert!(b.is_empty());
        assert!(
            b.keep(3, early(10, 1), 4).is_err(),
            "term 3 has accepted nothing"
        );
        b.accepted(3);
        assert!(b.keep(3, early(10, 1), 4).is_ok());
        b.accepted(4);
        assert!(b.is_empty(), "only the newest term's appends are kept");
    }
}
