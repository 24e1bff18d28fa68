//! How a simulated node carries out its core's output — the `Output` ordering contract, step by
//! step — and shows every effect to the checker.

use raftkv::raft::{Body, Entry, HardState, Index, Message, NodeId, Output, Role, Term};
use rand::RngExt;

use super::cluster::Sim;
use super::events::Event;
use super::network::Fate;
use super::rules::Delivering;
use super::trace::{Brief, What};
use super::violation::Violation;

impl Sim {
    /// Takes the output of node `id`'s core and carries it out.
    pub(super) fn drive(&mut self, id: NodeId) -> Result<(), Violation> {
        let Some(raft) = self.nodes[id as usize - 1].raft.as_mut() else {
            return Ok(());
        };
        let Output {
            hard_state,
            log_prefix,
            entries,
            messages,
            messages_after_persist,
            committed,
            reads,
            snapshot_sends,
            snapshot_chunks,
        } = raft.take_output();
        let mut grants = messages.iter().chain(&messages_after_persist);
        if grants.any(|(_, m)| matches!(m.body, Body::VoteResponse { granted: true })) {
            let rules = &mut self.nodes[id as usize - 1].rules;
            rules.granted_at = Some(rules.ticks);
        }
        // Contract 1: these may leave at once, before anything is durable.
        for (to, msg) in messages {
            self.emit(id, to, msg)?;
        }
        // Contracts 2 and 3: write in order; promises leave once this batch and all before it
        // are synced (see `on_synced`).
        let hard_state = self.defer_commit_hint(id, hard_state, &entries);
        let write = (hard_state, log_prefix, entries);
        self.persist(id, write, messages_after_persist)?;
        // Contract 4: committed entries are applied at once.
        self.apply(id, committed)?;
        self.observe(id)?;
        // Contract 5: a read is answered at an index; serving it waits for the apply (not modelled:
        // the index is what linearizability depends on).
        for read in reads {
            self.stats.reads_answered += read.index.is_some() as u64;
            self.checker.on_read_answered(id, read)?;
        }
        // Contract 6: chunks to send and chunks received (see `snapshot`); both make messages,
        // which the next output carries.
        let sent = self.send_snapshot_chunks(id, snapshot_sends)?;
        let received = self.receive_snapshot_chunks(id, snapshot_chunks)?;
        self.maybe_snapshot(id)?;
        if sent || received {
            self.drive(id)?;
        }
        Ok(())
    }

    /// Sends one message through the network, after checking what it promises.
    pub(super) fn emit(&mut self, from: NodeId, to: NodeId, msg: Message) -> Result<(), Violation> {
        let storage = &self.nodes[from as usize - 1].storage;
        self.checker.on_sent(from, to, &msg, storage)?;
        self.stats.messages_sent += 1;
        match msg.body {
            Body::PreVote { .. }
            | Body::PreVoteResponse { .. }
            | Body::Vote { .. }
            | Body::VoteResponse { .. } => self.stats.election_messages += 1,
            Body::AppendResponse { success: false, .. } => self.stats.append_rejections += 1,
            Body::Append { ref entries, .. } => self.stats.entries_sent += entries.len() as u64,
            Body::Snapshot { .. } => self.stats.snapshot_chunks_sent += 1,
            _ => {}
        }
        if let Some(recorded) = self.recorded.as_mut() {
            recorded.push((from, to, msg.clone()));
        }
        match self.net.fate(&mut self.rng) {
            Fate::Lost => self.stats.messages_lost += 1,
            Fate::Delivered(delay_us) => {
                self.queue
                    .push(self.now_us + delay_us, Event::Deliver { from, to, msg });
            }
            Fate::Duplicated(first_us, second_us) => {
                self.stats.messages_duplicated += 1;
                let copy = msg.clone();
                self.queue
                    .push(self.now_us + first_us, Event::Deliver { from, to, msg });
                let msg = copy;
                self.queue
                    .push(self.now_us + second_us, Event::Deliver { from, to, msg });
            }
        }
        Ok(())
    }

    fn persist(
        &mut self,
        id: NodeId,
        (hard_state, log_prefix, entries): (Option<HardState>, Option<(Index, Term)>, Vec<Entry>),
        after_persist: Vec<(NodeId, Message)>,
    ) -> Result<(), Violation> {
        let node = &mut self.nodes[id as usize - 1];
        if let Some((index, term)) = log_prefix {
            // The entries of this batch follow the prefix: compare them with the log it leaves.
            node.storage.written.install(index, term);
        }
        if let Some(first) = entries.first() {
            let log = node.raft.as_ref().expect("driven nodes are up").log();
            let Some(prev_term) = log.term(first.index - 1) else {
                let why = format!("wrote entries from {} past its log's end", first.index);
                return Err(Violation::Contract { node: id, why });
            };
            let before = &node.storage.written;
            self.checker
                .on_append(id, &entries, prev_term, before, log)?;
        }
        let writes = hard_state.is_some() || log_prefix.is_some() || !entries.is_empty();
        if !writes {
            if after_persist.is_empty() {
                return Ok(());
            }
            if !node.storage.has_unsynced() {
                // Everything this batch could promise is durable already.
                for (to, msg) in after_persist {
                    self.emit(id, to, msg)?;
                }
                return Ok(());
            }
        }
        // A batch with nothing to write completes with the batch before it.
        let delay_us = if writes { self.sync_delay_us() } else { 0 };
        let node = &mut self.nodes[id as usize - 1];
        let at_us = self.now_us + delay_us;
        let (batch, at_us) =
            node.storage
                .write(hard_state, log_prefix, entries, after_persist, at_us);
        self.queue.push(at_us, Event::Synced { node: id, batch });
        Ok(())
    }

    /// As the replicator's `defer_commit_hint`: a hard state that changes only the commit index,
    /// with no entries beside it, promises nothing and is not written on its own; the newest
    /// such hint rides with the next batch that writes entries or a new term or vote.
    fn defer_commit_hint(
        &mut self,
        id: NodeId,
        hard_state: Option<HardState>,
        entries: &[Entry],
    ) -> Option<HardState> {
        let node = &mut self.nodes[id as usize - 1];
        match hard_state {
            Some(hs) if entries.is_empty() && (hs.term, hs.vote) == node.written_term_vote => {
                node.deferred_hard_state = Some(hs);
                None
            }
            Some(hs) => {
                node.written_term_vote = (hs.term, hs.vote);
                node.deferred_hard_state = None;
                Some(hs)
            }
            None if !entries.is_empty() => node.deferred_hard_state.take(),
            None => None,
        }
    }

    pub(super) fn sync_delay_us(&mut self) -> u64 {
        let disk = &self.cfg.disk;
        if disk.slow_sync_ratio > 0.0 && self.rng.random_bool(disk.slow_sync_ratio) {
            return self
                .rng
                .random_range(disk.sync_us_max..=disk.slow_sync_us_max.max(disk.sync_us_max));
        }
        self.rng.random_range(disk.sync_us_min..=disk.sync_us_max)
    }

    /// The disk of `id` finished syncing `batch`: send what it promised, tell the core.
    pub(super) fn on_synced(&mut self, id: NodeId, batch: u64) -> Result<(), Violation> {
        if self.sync_fails(id, batch)? {
            return Ok(());
        }
        let node = &mut self.nodes[id as usize - 1];
        let Some(batch) = node.storage.sync(batch) else {
            return Ok(());
        };
        self.stats.syncs += 1;
        self.trace.push(
            self.now_us,
            What::Synced {
                node: id,
                batch: batch.seq,
            },
        );
        if let Some(hs) = batch.hard_state {
            if let Some(vote) = hs.vote {
                self.checker.on_vote(id, hs.term, vote)?;
            }
        }
        let storage = &self.nodes[id as usize - 1].storage;
        self.checker.check_snapshot_cover(id, storage)?;
        let last = batch.last();
        for (to, msg) in batch.after_persist {
            self.emit(id, to, msg)?;
        }
        if let Some((index, term)) = last {
            let raft = self.nodes[id as usize - 1].raft.as_mut();
            raft.expect("a down node has no pending syncs")
                .persisted(index, term);
        }
        self.drive(id)
    }

    /// While the faults run, the sync of `batch` may fail. The real node's writer then reports
    /// the error and the replicator stops the node (`fatal`) before anything of the batch is
    /// promised; here that is a crash, which keeps what the disk may have kept of the batch,
    /// and a restart after a while, as a supervisor would. Returns true if it failed.
    fn sync_fails(&mut self, id: NodeId, batch: u64) -> Result<bool, Violation> {
        let ratio = self.cfg.disk.sync_fail_ratio;
        if ratio == 0.0
            || self.chaos.is_none()
            || !self.nodes[id as usize - 1].storage.is_next_sync(batch)
            || self.up_nodes().len() < 2
            || !self.rng.random_bool(ratio)
        {
            return Ok(false);
        }
        let chaos = self.chaos.clone().expect("checked above");
        self.stats.sync_failures += 1;
        self.trace.push(self.now_us, What::SyncFailed(id));
        self.crash_for_a_while(id, &chaos)
    }

    fn apply(&mut self, id: NodeId, committed: Vec<Entry>) -> Result<(), Violation> {
        if committed.is_empty() {
            return Ok(());
        }
        let keys = self.cfg.snapshot.keys;
        let node = &mut self.nodes[id as usize - 1];
        let commit = node.status().map_or(0, |s| s.commit_index);
        for e in committed {
            node.state.apply(&e, keys);
            let digest = node.state.digest;
            self.checker
                .on_apply(id, &e, digest, commit, &node.storage.durable)?;
            node.applied.push(e);
        }
        Ok(())
    }

    /// Checks the node's state after its step and traces role changes.
    fn observe(&mut self, id: NodeId) -> Result<(), Violation> {
        let Some(st) = self.nodes[id as usize - 1].status() else {
            return Ok(());
        };
        let before = self.nodes[id as usize - 1].last_role;
        let changed = before != Some((st.role, st.term));
        if changed {
            self.check_role_change(before, &st)?;
        }
        let node = &mut self.nodes[id as usize - 1];
        let raft = node.raft.as_ref().expect("up");
        if changed {
            node.last_role = Some((st.role, st.term));
            let (role, term) = (st.role, st.term);
            self.trace.push(
                self.now_us,
                What::Role {
                    node: id,
                    role,
                    term,
                },
            );
            self.checker.check_campaign(&st, raft)?;
        }
        self.checker
            .on_status(&st, raft.log(), &node.storage.written)?;
        if st.role != Role::Leader {
            return Ok(());
        }
        let raft = self.nodes[id as usize - 1].raft.as_ref().expect("up");
        for follower in &self.nodes {
            let Some(index) = raft.match_index(follower.id).filter(|_| follower.id != id) else {
                continue;
            };
            let leader = (id, st.term, raft.log());
            self.checker
                .check_match_index(leader, follower.id, index, &follower.storage)?;
        }
        if changed {
            // A leader in a new term: newly elected.
            self.on_new_leader();
        }
        Ok(())
    }

    pub(super) fn deliver(
        &mut self,
        from: NodeId,
        to: NodeId,
        msg: Message,
    ) -> Result<(), Violation> {
        let brief = Brief::of(&msg);
        if self.net.is_cut(from, to) {
            self.stats.messages_cut += 1;
            let what = What::Dropped {
                from,
                to,
                msg: brief,
            };
            self.trace.push(self.now_us, what);
            return Ok(());
        }
        if !self.nodes[to as usize - 1].is_up() {
            self.stats.messages_to_down_nodes += 1;
            let what = What::Dropped {
                from,
                to,
                msg: brief,
            };
            self.trace.push(self.now_us, what);
            return Ok(());
        }
        if let Some(pause) = self.nodes[to as usize - 1].paused.as_mut() {
            // It waits in the stopped process's inbox.
            pause.inbox.push((from, msg));
            return Ok(());
        }
        self.step_delivered(from, to, msg)
    }

    /// Steps a message that reached a running node.
    pub(super) fn step_delivered(
        &mut self,
        from: NodeId,
        to: NodeId,
        msg: Message,
    ) -> Result<(), Violation> {
        let Some(raft) = self.nodes[to as usize - 1].raft.as_mut() else {
            return Ok(());
        };
        self.stats.messages_delivered += 1;
        let what = What::Deliver {
            from,
            to,
            msg: Brief::of(&msg),
        };
        self.trace.push(self.now_us, what);
        let before = raft.status().term;
        let kept = msg.clone();
        raft.step(from, msg);
        self.delivering = Some(Delivering { term: kept.term });
        let result = self.drive(to);
        self.delivering = None;
        result?;
        self.check_delivered((from, to), &kept, before)
    }
}
