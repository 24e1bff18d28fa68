//! Clients waiting on the log: proposals until their entry applies, reads until their index applies.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use tokio::sync::oneshot;

use super::messages::{Answer, ClientError};
use crate::raft::{Index, Term};
use crate::state::Command;

/// Where a waiting client's answer goes.
pub(super) type Reply = oneshot::Sender<Result<Answer, ClientError>>;

struct Proposal {
    term: Term,
    /// When it was accepted, for `raftkv_server_proposal_commit_duration_seconds`.
    proposed: Instant,
    deadline: Instant,
    reply: Reply,
}

struct PendingRead {
    command: Command,
    deadline: Instant,
    reply: Reply,
}

/// Every client request in flight on this node, each with a deadline.
///
/// Invariant: a reply is sent at most once: every entry leaves its map before it is answered.
#[derive(Default)]
pub(super) struct Waiters {
    proposals: BTreeMap<Index, Proposal>,
    /// Linearizable reads waiting for the leader's read index.
    reads_unindexed: HashMap<u64, PendingRead>,
    /// Reads with a read index, waiting for the state machine to apply through it.
    reads_indexed: BTreeMap<Index, Vec<PendingRead>>,
}

impl Waiters {
    pub(super) fn len(&self) -> usize {
        self.proposals.len()
            + self.reads_unindexed.len()
            + self.reads_indexed.values().map(Vec::len).sum::<usize>()
    }

    /// Proposals waiting for their entry to apply.
    pub(super) fn proposals_len(&self) -> usize {
        self.proposals.len()
    }

    /// The proposals waiting at `first..=last`: index, term and when each was accepted.
    pub(super) fn proposed_between(
        &self,
        first: Index,
        last: Index,
    ) -> impl Iterator<Item = (Index, Term, Instant)> + '_ {
        self.proposals
            .range(first..=last)
            .map(|(&index, p)| (index, p.term, p.proposed))
    }

    pub(super) fn add_proposal(
        &mut self,
        index: Index,
        term: Term,
        deadline: Instant,
        reply: Reply,
    ) {
        let old = self.proposals.insert(
            index,
            Proposal {
                term,
                proposed: Instant::now(),
                deadline,
                reply,
            },
        );
        // An index is proposed again only after a leader change truncated the first entry from
        // this node's log. That does not make it lost: another node may still hold it and, as
        // a later leader, commit it. So its fate is unknown, not "dropped" (which promises the
        // client it never took effect).
        if let Some(old) = old {
            let _ = old.reply.send(Err(ClientError::Timeout));
        }
    }

    /// The entry at `index` with `term` was applied with `answer`'s result.
    pub(super) fn applied(&mut self, index: Index, term: Term, answer: impl FnOnce() -> Answer) {
        if let Some(p) = self.proposals.remove(&index) {
            let result = if p.term == term {
                Ok(answer())
            } else {
                Err(ClientError::Dropped)
            };
            let _ = p.reply.send(result);
        }
    }

    pub(super) fn add_read(&mut self, id: u64, command: Command, deadline: Instant, reply: Reply) {
        self.reads_unindexed.insert(
            id,
            PendingRead {
                command,
                deadline,
                reply,
            },
        );
    }

    /// The read `id` may be served once `index` is applied (`None`: it failed).
    pub(super) fn read_indexed(&mut self, id: u64, index: Option<Index>) {
        let Some(read) = self.reads_unindexed.remove(&id) else {
            return;
        };
        match index {
            Some(index) => self.reads_indexed.entry(index).or_default().push(read),
            None => {
                let _ = read.reply.send(Err(ClientError::NoLeader));
            }
        }
    }

    /// Serves every read whose index is applied, using `serve` to read the state.
    pub(super) fn serve_reads(
        &mut self,
        applied: Index,
        mut serve: impl FnMut(&Command) -> Answer,
    ) {
        while let Some(entry) = self.reads_indexed.first_entry() {
            if *entry.key() > applied {
                break;
            }
            for read in entry.remove() {
                let _ = read.reply.send(Ok(serve(&read.command)));
            }
        }
    }

    /// Fails everything past its deadline with [`ClientError::Timeout`]. Returns how many.
    pub(super) fn expire(&mut self, now: Instant) -> usize {
        let mut expired = 0;
        self.proposals.retain(|_, p| {
            let keep = p.deadline > now;
            if !keep {
                expired += 1;
            }
            keep
        });
        // Dropping a reply sender makes the receiver see a closed channel, reported as a timeout.
        let before = self.reads_unindexed.len();
        self.reads_unindexed.retain(|_, r| r.deadline > now);
        expired += before - self.reads_unindexed.len();
        for reads in self.reads_indexed.values_mut() {
            let before = reads.len();
            reads.retain(|r| r.deadline > now);
            expired += before - reads.len();
        }
        self.reads_indexed.retain(|_, reads| !reads.is_empty());
        expired
    }

    /// Fails every waiter (the node is stopping).
    pub(super) fn fail_all(&mut self, err: ClientError) {
        for (_, p) in std::mem::take(&mut self.proposals) {
            let _ = p.reply.send(Err(err.clone()));
        }
        for (_, r) in std::mem::take(&mut self.reads_unindexed) {
            let _ = r.reply.send(Err(err.clone()));
        }
        for (_, reads) in std::mem::take(&mut self.reads_indexed) {
            for r in reads {
                let _ = r.reply.send(Err(err.clone()));
            }
        }
    }
}
