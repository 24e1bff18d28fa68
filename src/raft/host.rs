//! The host's half of the [`Output`] ordering contract, without I/O: in which order a node sends,
//! writes and acknowledges what one output holds, and which promises wait for which write.
//!
//! The replicator carries the steps out with its log writer thread and its peer links; the
//! simulator with its simulated disk and network. Both take the order from [`Sequencer`], so the
//! simulator's safety checks judge the order the real node uses, not a copy of it.

use std::collections::VecDeque;

use super::message::Message;
use super::output::{Output, ReadState, SnapshotChunk, SnapshotSend};
use super::types::{Entry, HardState, Index, NodeId, Term};

/// What a host does for [`Sequencer`]: the I/O. Each call may fail; the first failure stops the
/// sequence and is returned (the replicator stops the node, the simulator reports a violation).
pub trait Host {
    type Error;

    /// Sends one message.
    fn send(&mut self, to: NodeId, msg: Message) -> Result<(), Self::Error>;

    /// Asks the disk to drop the stored log through `(index, term)` (an installed snapshot), in
    /// order with the writes, as batch `batch`. Returns false if nothing is to be done (the
    /// store is compacted that far already); the batch number is then not used.
    fn compact(&mut self, batch: u64, index: Index, term: Term) -> Result<bool, Self::Error>;

    /// Queues batch `batch` for the disk: the hard state, then `entries` (which replace the stored
    /// log from their first index on). The host later calls [`Sequencer::synced`] once the batch
    /// and every one before it are durable.
    fn write(
        &mut self,
        batch: u64,
        hard_state: Option<HardState>,
        entries: Vec<Entry>,
    ) -> Result<(), Self::Error>;

    /// Tells the core that entries through `(index, term)` are durable
    /// ([`crate::raft::Raft::persisted`]).
    fn persisted(&mut self, index: Index, term: Term) -> Result<(), Self::Error>;
}

/// What is left of an output once its messages and writes are under way; the host handles it in
/// its own way (apply, answer reads, move snapshot chunks), as the contract's items 4 to 6 allow.
#[derive(Debug, Default)]
pub struct Rest {
    pub committed: Vec<Entry>,
    pub reads: Vec<ReadState>,
    pub snapshot_sends: Vec<SnapshotSend>,
    pub snapshot_chunks: Vec<SnapshotChunk>,
}

/// A batch handed to the disk and not yet reported durable.
#[derive(Debug)]
struct Unsynced {
    batch: u64,
    /// The last entry the batch writes, to report with `persisted`.
    last: Option<(Index, Term)>,
    /// Messages that promise what this batch (and every earlier one) makes durable.
    after_persist: Vec<(NodeId, Message)>,
}

/// Orders one node's outputs: numbers the disk batches, holds back the messages that promise
/// durability until their batch is synced, and defers commit-only hard states. (`Default` is a
/// sequencer for an empty disk; a host lends its own out with `std::mem::take`.)
#[derive(Debug, Default)]
pub struct Sequencer {
    next_batch: u64,
    unsynced: VecDeque<Unsynced>,
    /// The term and vote of the last hard state handed to the disk.
    written_term_vote: (Term, Option<NodeId>),
    /// A newer hard state that changes only the commit index, waiting for the next write.
    deferred_hard_state: Option<HardState>,
}

impl Sequencer {
    /// A sequencer for a node whose disk holds `hard_state`; its first batch is numbered
    /// `first_batch` (a host that numbers batches across restarts passes its next number).
    pub fn new(hard_state: HardState, first_batch: u64) -> Self {
        Sequencer {
            next_batch: first_batch,
            unsynced: VecDeque::new(),
            written_term_vote: (hard_state.term, hard_state.vote),
            deferred_hard_state: None,
        }
    }

    /// Carries out the contract's items 1 to 3 for `out`, in this order: the messages that
    /// promise nothing leave at once; an installed snapshot's log prefix is its own batch; the
    /// hard state and entries are the next batch; the messages that promise durability wait for
    /// the last batch opened (sent now if every earlier batch is durable already).
    pub fn carry_out<H: Host>(&mut self, mut out: Output, host: &mut H) -> Result<Rest, H::Error> {
        self.defer_commit_hint(&mut out);
        for (to, msg) in out.messages {
            host.send(to, msg)?;
        }
        if let Some((index, term)) = out.log_prefix {
            if host.compact(self.next_batch, index, term)? {
                self.open(None, Vec::new());
            }
        }
        if out.hard_state.is_some() || !out.entries.is_empty() {
            let last = out.entries.last().map(|e| (e.index, e.term));
            let batch = self.open(last, out.messages_after_persist);
            let hard_state = out.hard_state.or(self.deferred_hard_state.take());
            host.write(batch, hard_state, out.entries)?;
        } else if !out.messages_after_persist.is_empty() {
            // Nothing new to write, but an earlier batch may still be in flight: these promises
            // rest on it too, so they wait for it.
            match self.unsynced.back_mut() {
                Some(pending) => pending.after_persist.extend(out.messages_after_persist),
                None => {
                    for (to, msg) in out.messages_after_persist {
                        host.send(to, msg)?;
                    }
                }
            }
        }
        Ok(Rest {
            committed: out.committed,
            reads: out.reads,
            snapshot_sends: out.snapshot_sends,
            snapshot_chunks: out.snapshot_chunks,
        })
    }

    /// The disk made every batch through `batch` durable: sends what each promised, then reports
    /// its entries to the core (item 3), batch by batch in order.
    pub fn synced<H: Host>(&mut self, batch: u64, host: &mut H) -> Result<(), H::Error> {
        while self.unsynced.front().is_some_and(|b| b.batch <= batch) {
            let done = self.unsynced.pop_front().expect("checked above");
            for (to, msg) in done.after_persist {
                host.send(to, msg)?;
            }
            if let Some((index, term)) = done.last {
                host.persisted(index, term)?;
            }
        }
        Ok(())
    }

    /// Numbers a batch the host writes outside [`Sequencer::carry_out`] (a compaction after a
    /// local snapshot), so that later promises wait for it too.
    pub fn open_own_batch(&mut self) -> u64 {
        self.open(None, Vec::new())
    }

    /// True while a batch waits for its sync.
    #[cfg(test)]
    fn has_unsynced(&self) -> bool {
        !self.unsynced.is_empty()
    }

    /// True if batch `batch` is unsynced and messages wait on it.
    pub fn promises(&self, batch: u64) -> bool {
        self.unsynced
            .iter()
            .any(|b| b.batch == batch && !b.after_persist.is_empty())
    }

    fn open(&mut self, last: Option<(Index, Term)>, after_persist: Vec<(NodeId, Message)>) -> u64 {
        let batch = self.next_batch;
        self.next_batch += 1;
        self.unsynced.push_back(Unsynced {
            batch,
            last,
            after_persist,
        });
        batch
    }

    /// A hard state that differs from the last one written only in `commit`, with no entries
    /// beside it, promises nothing: the commit index is a hint that a restarted node clamps and
    /// learns again from the leader. Syncing it on its own doubled the fsyncs per commit (one for
    /// the entry, one for the commit index that followed); it rides with the next batch instead.
    fn defer_commit_hint(&mut self, out: &mut Output) {
        let Some(hs) = out.hard_state else { return };
        if out.entries.is_empty() && (hs.term, hs.vote) == self.written_term_vote {
            self.deferred_hard_state = out.hard_state.take();
        } else {
            // Written with this batch, and newer than anything deferred.
            self.written_term_vote = (hs.term, hs.vote);
            self.deferred_hard_state = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::{Body, Payload};

    /// Records every call, in order.
    #[derive(Default)]
    struct Tape {
        calls: Vec<String>,
        compacted_to: Index,
    }

    impl Host for Tape {
        type Error = ();

        fn send(&mut self, to: NodeId, msg: Message) -> Result<(), ()> {
            let what = match msg.body {
                Body::VoteResponse { .. } => "vote",
                Body::AppendResponse { .. } => "ack",
                _ => "append",
            };
            self.calls.push(format!("send {what} to {to}"));
            Ok(())
        }

        fn compact(&mut self, batch: u64, index: Index, _: Term) -> Result<bool, ()> {
            if index <= self.compacted_to {
                return Ok(false);
            }
            self.compacted_to = index;
            self.calls.push(format!("compact {batch} through {index}"));
            Ok(true)
        }

        fn write(
            &mut self,
            batch: u64,
            hs: Option<HardState>,
            entries: Vec<Entry>,
        ) -> Result<(), ()> {
            let commit = hs.map(|h| h.commit);
            self.calls.push(format!(
                "write {batch}: commit {commit:?}, {} entries",
                entries.len()
            ));
            Ok(())
        }

        fn persisted(&mut self, index: Index, term: Term) -> Result<(), ()> {
            self.calls.push(format!("persisted {index}@{term}"));
            Ok(())
        }
    }

    fn msg(body: Body) -> Message {
        Message { term: 1, body }
    }

    fn ack() -> Message {
        msg(Body::AppendResponse {
            success: true,
            index: 1,
            hint: None,
        })
    }

    fn entry(index: Index) -> Entry {
        Entry {
            index,
            term: 1,
            payload: Payload::Noop,
        }
    }

    fn hs(commit: Index) -> HardState {
        HardState {
            term: 1,
            vote: Some(2),
            commit,
        }
    }

    #[test]
    fn promises_wait_for_their_batch_and_every_earlier_one() {
        let mut seq = Sequencer::new(hs(0), 1);
        let mut tape = Tape::default();
        let first = Output {
            entries: vec![entry(1)],
            messages: vec![(
                3,
                msg(Body::Heartbeat {
                    commit: 0,
                    read_seq: 0,
                }),
            )],
            messages_after_persist: vec![(2, ack())],
            ..Output::default()
        };
        seq.carry_out(first, &mut tape).unwrap();
        // Nothing to write: the promise rests on batch 1, still unsynced.
        let second = Output {
            messages_after_persist: vec![(3, ack())],
            ..Output::default()
        };
        seq.carry_out(second, &mut tape).unwrap();
        assert!(seq.promises(1));
        assert_eq!(
            tape.calls,
            ["send append to 3", "write 1: commit None, 1 entries"]
        );
        seq.synced(1, &mut tape).unwrap();
        assert_eq!(
            tape.calls[2..],
            ["send ack to 2", "send ack to 3", "persisted 1@1"]
        );
        assert!(!seq.has_unsynced());
        // Every batch durable: a promise with nothing to write leaves at once.
        let third = Output {
            messages_after_persist: vec![(2, ack())],
            ..Output::default()
        };
        seq.carry_out(third, &mut tape).unwrap();
        assert_eq!(tape.calls.last().unwrap(), "send ack to 2");
    }

    #[test]
    fn a_commit_only_hard_state_rides_with_the_next_write() {
        let mut seq = Sequencer::new(hs(0), 7);
        let mut tape = Tape::default();
        let hint = Output {
            hard_state: Some(hs(4)),
            ..Output::default()
        };
        seq.carry_out(hint, &mut tape).unwrap();
        assert!(tape.calls.is_empty(), "a commit hint alone is not written");
        let entries = Output {
            entries: vec![entry(5)],
            ..Output::default()
        };
        seq.carry_out(entries, &mut tape).unwrap();
        assert_eq!(tape.calls, ["write 7: commit Some(4), 1 entries"]);
        // A new vote is written at once, and drops the older deferred hint.
        seq.carry_out(
            Output {
                hard_state: Some(hs(5)),
                ..Output::default()
            },
            &mut tape,
        )
        .unwrap();
        let vote = HardState {
            term: 2,
            vote: Some(3),
            commit: 5,
        };
        seq.carry_out(
            Output {
                hard_state: Some(vote),
                messages_after_persist: vec![(3, msg(Body::VoteResponse { granted: true }))],
                ..Output::default()
            },
            &mut tape,
        )
        .unwrap();
        assert_eq!(tape.calls[1], "write 8: commit Some(5), 0 entries");
        assert_eq!(tape.calls.len(), 2, "the vote waits for its write");
        // Batch 7 is durable with batch 8: its entry is reported first, then the vote leaves.
        seq.synced(8, &mut tape).unwrap();
        assert_eq!(tape.calls[2..], ["persisted 5@1", "send vote to 3"]);
    }

    #[test]
    fn an_installed_snapshot_prefix_is_a_batch_of_its_own_before_the_entries() {
        let mut seq = Sequencer::new(hs(0), 1);
        let mut tape = Tape::default();
        let install = Output {
            log_prefix: Some((10, 1)),
            entries: vec![entry(11)],
            messages_after_persist: vec![(2, ack())],
            ..Output::default()
        };
        seq.carry_out(install, &mut tape).unwrap();
        assert_eq!(
            tape.calls,
            ["compact 1 through 10", "write 2: commit None, 1 entries"]
        );
        // The compaction alone being durable releases nothing of batch 2.
        seq.synced(1, &mut tape).unwrap();
        assert_eq!(tape.calls.len(), 2);
        seq.synced(2, &mut tape).unwrap();
        assert_eq!(tape.calls[2..], ["send ack to 2", "persisted 11@1"]);
        // A prefix the store already passed opens no batch: the promise leaves at once.
        let stale = Output {
            log_prefix: Some((5, 1)),
            messages_after_persist: vec![(2, ack())],
            ..Output::default()
        };
        seq.carry_out(stale, &mut tape).unwrap();
        assert_eq!(tape.calls.last().unwrap(), "send ack to 2");
        assert!(!seq.has_unsynced());
    }
}
