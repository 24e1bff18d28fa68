//! Carrying out the core's output in the order of safety: send, persist, then acknowledge; apply;
//! answer.

use std::time::Instant;

use actix::prelude::*;

use super::messages::Answer;
use super::{Replicator, EXIT_STORAGE_FAILURE};
use crate::cluster::{Envelope, Outbox};
use crate::raft::{self, Body, Entry, HardState, Index, Message, NodeId, Raft, Role, Term};
use crate::storage::{FileStore, GroupCommit};

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

    /// Takes the core's output and carries it out, in the order [`raft::Sequencer`] sets (the
    /// one the simulator checks).
    pub(super) fn drive(&mut self, ctx: &mut Context<Self>) {
        self.drive_scheduled = false;
        let out = self.raft.take_output();
        if out.is_empty() {
            return;
        }
        self.log_heartbeats(&out.messages);
        let mut sequencer = std::mem::take(&mut self.sequencer);
        let carried = sequencer.carry_out(out, &mut self.host());
        self.sequencer = sequencer;
        let rest = match carried {
            Ok(rest) => rest,
            Err(why) => return fatal(ctx, &why),
        };
        if !rest.snapshot_sends.is_empty() {
            self.send_snapshot_chunks(rest.snapshot_sends, ctx);
        }
        if !rest.snapshot_chunks.is_empty() {
            self.receive_snapshot_chunks(rest.snapshot_chunks, ctx);
        }
        self.count_committed(&rest.committed);
        self.to_apply.extend(rest.committed);
        for read in rest.reads {
            self.waiters.read_indexed(read.id, read.index);
        }
        self.apply_some(ctx);
        self.log_role_change();
        self.follow_membership();
    }

    /// The I/O side of [`raft::Sequencer`]: the peer links, the log writer, the core.
    fn host(&mut self) -> NodeHost<'_> {
        NodeHost {
            id: self.id,
            outbox: &self.outbox,
            next_msg_id: &mut self.next_msg_id,
            writer: self
                .writer
                .as_ref()
                .expect("the writer runs while the actor does"),
            store_prefix: &mut self.store_prefix,
            raft: &mut self.raft,
        }
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
    pub(super) fn on_durable(&mut self, batch_id: u64, ctx: &mut Context<Self>) {
        let mut sequencer = std::mem::take(&mut self.sequencer);
        let synced = sequencer.synced(batch_id, &mut self.host());
        self.sequencer = sequencer;
        if let Err(why) = synced {
            fatal(ctx, &why);
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

/// The replicator's fields [`raft::Sequencer`] does its I/O through, borrowed apart from the
/// sequencer itself.
struct NodeHost<'a> {
    id: NodeId,
    outbox: &'a Outbox<Message>,
    next_msg_id: &'a mut u64,
    writer: &'a GroupCommit<FileStore>,
    /// The stored log's prefix: what the writer has been asked to compact through.
    store_prefix: &'a mut Index,
    raft: &'a mut Raft,
}

impl raft::Host for NodeHost<'_> {
    /// Why the node must stop.
    type Error = String;

    fn send(&mut self, to: NodeId, msg: Message) -> Result<(), String> {
        *self.next_msg_id += 1;
        let envelope = Envelope {
            pid: to,
            msg_id: *self.next_msg_id,
            msg,
        };
        // The cluster layer drops (and counts) rather than block when a peer's queue is full;
        // Raft tolerates the loss.
        if let Err(e) = self.outbox.send(envelope) {
            log::warn!("node {}: cannot send to {to}: {e}", self.id);
        }
        Ok(())
    }

    fn compact(&mut self, batch: u64, index: Index, term: Term) -> Result<bool, String> {
        if index <= *self.store_prefix {
            return Ok(false);
        }
        *self.store_prefix = index;
        let submitted = self.writer.submit_compact(batch, index, term);
        submitted.map_err(|e| format!("log writer: {e}"))?;
        Ok(true)
    }

    fn write(
        &mut self,
        batch: u64,
        hard_state: Option<HardState>,
        entries: Vec<Entry>,
    ) -> Result<(), String> {
        let submitted = self.writer.submit(batch, hard_state, entries);
        submitted.map_err(|e| format!("log writer: {e}"))
    }

    fn persisted(&mut self, index: Index, term: Term) -> Result<(), String> {
        self.raft.persisted(index, term);
        Ok(())
    }
}
