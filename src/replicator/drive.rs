//! Carrying out the core's output in the order of safety: send, persist, then acknowledge; apply;
//! answer.

use std::time::Instant;

use actix::prelude::*;

use super::messages::Answer;
use super::{Replicator, Unsynced, EXIT_STORAGE_FAILURE};
use crate::cluster::Envelope;
use crate::raft::{Body, Message, NodeId, Output, Role};

/// Applies the next chunk of committed entries ([`Replicator::apply_some`]).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct ApplyMore;

/// Committed entries applied in one actor turn, at most: about 2 ms of work in a release build,
/// so a backlog of thousands never holds ticks and heartbeats for long.
const APPLY_CHUNK_ENTRIES: usize = 256;

/// Runs [`Replicator::drive`] once the mailbox has been worked through.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Drive;

/// Stops the node after an environmental failure: continuing could acknowledge what is not durable.
pub(super) fn fatal(ctx: &mut Context<Replicator>, why: &str) {
    log::error!("fatal: {why}; stopping the node");
    ctx.stop();
    System::current().stop_with_code(EXIT_STORAGE_FAILURE);
}

impl Replicator {
    /// Asks for a [`Replicator::drive`] after the messages already queued are handled, so that all
    /// the work of one mailbox turn shares one output batch (and one fsync).
    pub(super) fn schedule_drive(&mut self, ctx: &mut Context<Self>) {
        if !self.drive_scheduled {
            self.drive_scheduled = true;
            ctx.notify(Drive);
        }
    }

    /// Takes the core's output and carries it out.
    pub(super) fn drive(&mut self, ctx: &mut Context<Self>) {
        self.drive_scheduled = false;
        let mut out = self.raft.take_output();
        if out.is_empty() {
            return;
        }
        self.defer_commit_hint(&mut out);
        self.log_heartbeats(&out.messages);
        // A log prefix alone is its own batch (`compact_store`); promises then wait on it.
        let needs_persist = out.hard_state.is_some() || !out.entries.is_empty();
        for (to, msg) in out.messages {
            self.send(to, msg);
        }
        if let Some((index, term)) = out.log_prefix {
            // An installed snapshot: the stored log restarts after it, before the entries below.
            self.compact_store(index, term, ctx);
        }
        if needs_persist {
            let last = out.entries.last().map(|e| (e.index, e.term));
            let batch_id = self.open_batch(last, out.messages_after_persist);
            let hard_state = out.hard_state.or(self.deferred_hard_state.take());
            if let Err(e) = self.writer().submit(batch_id, hard_state, out.entries) {
                fatal(ctx, &format!("log writer: {e}"));
                return;
            }
        } else if !out.messages_after_persist.is_empty() {
            // Nothing new to persist, but an earlier batch may still be in flight: these promises
            // rest on it too, so they wait for it.
            match self.unsynced.back_mut() {
                Some(batch) => batch.after_persist.extend(out.messages_after_persist),
                None => {
                    for (to, msg) in out.messages_after_persist {
                        self.send(to, msg);
                    }
                }
            }
        }
        if !out.snapshot_sends.is_empty() {
            self.send_snapshot_chunks(out.snapshot_sends, ctx);
        }
        if !out.snapshot_chunks.is_empty() {
            self.receive_snapshot_chunks(out.snapshot_chunks, ctx);
        }
        self.count_committed(&out.committed);
        self.to_apply.extend(out.committed);
        for read in out.reads {
            self.waiters.read_indexed(read.id, read.index);
        }
        self.apply_some(ctx);
        self.log_role_change();
        self.follow_membership();
    }

    /// Numbers the next write-thread batch and remembers what waits on it being durable.
    pub(super) fn open_batch(
        &mut self,
        last: Option<(crate::raft::Index, crate::raft::Term)>,
        after_persist: Vec<(NodeId, Message)>,
    ) -> u64 {
        let batch_id = self.next_batch_id;
        self.next_batch_id += 1;
        self.unsynced.push_back(Unsynced {
            batch_id,
            last,
            after_persist,
        });
        batch_id
    }

    pub(super) fn writer(&self) -> &crate::storage::GroupCommit<crate::storage::FileStore> {
        self.writer
            .as_ref()
            .expect("the writer runs while the actor does")
    }

    /// Applies at most [`APPLY_CHUNK_ENTRIES`] of the committed entries waiting, answers what
    /// they complete, and asks for another turn if more wait. Applying thousands of entries in
    /// one go kept the actor from its ticks and its inbox for hundreds of milliseconds: a leader
    /// sent no heartbeat meanwhile and lost its followers. In chunks, ticks and peer messages
    /// are handled between them; applying falls behind committing for a moment instead.
    pub(super) fn apply_some(&mut self, ctx: &mut Context<Self>) {
        self.apply_scheduled = false;
        if self.pending_install.is_some() {
            // A snapshot is about to replace the state: what waits is applied after, if at all.
            return;
        }
        if !self.to_apply.is_empty() {
            let n = self.to_apply.len().min(APPLY_CHUNK_ENTRIES);
            let chunk: Vec<crate::raft::Entry> = self.to_apply.drain(..n).collect();
            if let Err(e) = self.apply(&chunk) {
                fatal(ctx, &format!("transaction log: {e}"));
                return;
            }
            if !self.to_apply.is_empty() && !self.apply_scheduled {
                self.apply_scheduled = true;
                ctx.notify(ApplyMore);
            }
        }
        self.serve_reads_applied();
        self.maybe_snapshot(ctx);
    }

    /// Answers the reads waiting for what is now applied.
    pub(super) fn serve_reads_applied(&mut self) {
        let state = &self.state;
        self.waiters
            .serve_reads(state.applied_index(), |command| Answer {
                index: state.applied_index(),
                result: state
                    .read(command)
                    .expect("only read commands are queued as reads"),
            });
    }

    /// A hard state that differs from the last one written only in `commit`, with no entries
    /// beside it, promises nothing: the commit index is a hint that a restarted node clamps and
    /// learns again from the leader. Syncing it on its own doubled the fsyncs per commit (one for
    /// the entry, one for the commit index that followed); it now rides along with the next batch
    /// that has to be written anyway.
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

    fn apply(&mut self, entries: &[crate::raft::Entry]) -> Result<(), crate::state::TxLogError> {
        let started = Instant::now();
        let results = self.state.apply_batch(entries, &mut self.txlog)?;
        self.metrics
            .apply_duration
            .observe(started.elapsed().as_secs_f64());
        self.metrics.proposals_applied.inc_by(entries.len() as u64);
        self.publish_revision();
        for (entry, result) in entries.iter().zip(results) {
            self.waiters.applied(entry.index, entry.term, || Answer {
                index: entry.index,
                result,
            });
        }
        Ok(())
    }

    /// Counts entries newly known committed and, on the leader, times each from its proposal.
    fn count_committed(&self, committed: &[crate::raft::Entry]) {
        let (Some(first), Some(last)) = (committed.first(), committed.last()) else {
            return;
        };
        self.metrics
            .proposals_committed
            .inc_by(committed.len() as u64);
        for (index, term, proposed) in self.waiters.proposed_between(first.index, last.index) {
            // Invariant: committed entries are consecutive, so an index finds its entry.
            let entry = &committed[(index - first.index) as usize];
            debug_assert_eq!(entry.index, index);
            // Another term's entry at the index is not this proposal's: it was lost.
            if entry.term == term {
                self.metrics
                    .proposal_commit_duration
                    .observe(proposed.elapsed().as_secs_f64());
            }
        }
    }

    /// The writer made batches through `batch_id` durable: release their promises. The caller
    /// drives the core afterwards.
    pub(super) fn on_durable(&mut self, batch_id: u64) {
        while self
            .unsynced
            .front()
            .is_some_and(|b| b.batch_id <= batch_id)
        {
            let batch = self.unsynced.pop_front().expect("checked above");
            for (to, msg) in batch.after_persist {
                self.send(to, msg);
            }
            if let Some((index, term)) = batch.last {
                self.raft.persisted(index, term);
            }
        }
    }

    fn send(&mut self, to: NodeId, msg: Message) {
        self.next_msg_id += 1;
        let envelope = Envelope {
            pid: to,
            msg_id: self.next_msg_id,
            msg,
        };
        // The cluster layer drops (and counts) rather than block when a peer's queue is full;
        // Raft tolerates the loss.
        if let Err(e) = self.outbox.send(envelope) {
            log::warn!("node {}: cannot send to {to}: {e}", self.id);
        }
    }

    /// The visible heartbeat "tick": a live leader shows it; it stops without a quorum.
    fn log_heartbeats(&self, messages: &[(NodeId, Message)]) {
        if log::log_enabled!(log::Level::Debug)
            && messages
                .iter()
                .any(|(_, m)| matches!(m.body, Body::Heartbeat { .. }))
        {
            let s = self.raft.status();
            log::debug!(
                "tick: leader {} term {} commit {}",
                self.id,
                s.term,
                s.commit_index
            );
        }
    }

    fn log_role_change(&mut self) {
        let s = self.raft.status();
        let now = (s.role, s.term, s.leader);
        if now != self.last_seen {
            if now.2 != self.last_seen.2 && now.2.is_some() {
                self.metrics.leader_changes_seen.inc();
            }
            // A campaign starts with a pre-vote, or directly as a candidate on TimeoutNow.
            let campaign = match (self.last_seen.0, now.0) {
                (Role::PreCandidate, Role::PreCandidate) => false,
                (_, Role::PreCandidate) => true,
                (before, Role::Candidate) => {
                    before != Role::PreCandidate && before != Role::Candidate
                }
                _ => false,
            };
            if campaign {
                self.metrics.elections_started.inc();
            }
            // Only an election timeout starts a pre-vote; a transfer goes straight to candidate.
            if now.0 == Role::PreCandidate && self.last_seen.0 != Role::PreCandidate {
                self.metrics.election_timeouts.inc();
            }
            match s.role {
                Role::Leader => log::info!("node {}: became leader in term {}", self.id, s.term),
                role => log::info!(
                    "node {}: {role} in term {}, leader {}",
                    self.id,
                    s.term,
                    s.leader.map_or("unknown".to_string(), |l| l.to_string())
                ),
            }
            self.last_seen = now;
            self.publish_term(s.term);
        }
    }
}

impl Handler<ApplyMore> for Replicator {
    type Result = ();

    fn handle(&mut self, _: ApplyMore, ctx: &mut Context<Self>) {
        self.apply_some(ctx);
    }
}

impl Handler<Drive> for Replicator {
    type Result = ();

    fn handle(&mut self, _: Drive, ctx: &mut Context<Self>) {
        self.drive(ctx);
    }
}
