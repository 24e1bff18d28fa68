//! How a simulated node carries out its core's output — the `Output` ordering contract, step by
//! step — and shows every effect to the checker.

use raftkv::raft::{Body, Entry, HardState, Host, Index, Message, NodeId, Rest, Role, Term};
use rand::RngExt;

use super::cluster::Sim;
use super::config::TICK_US;
use super::events::Event;
use super::network::Fate;
use super::rules::Delivering;
use super::storage::Write;
use super::trace::{Brief, What};
use super::violation::Violation;

impl Sim {
    /// Takes the output of node `id`'s core and carries it out, in the order the node's
    /// `Sequencer` sets — the replicator's own (`raftkv::raft::Host`).
    pub(super) fn drive(&mut self, id: NodeId) -> Result<(), Violation> {
        let Some(raft) = self.nodes[id as usize - 1].raft.as_mut() else {
            return Ok(());
        };
        let out = raft.take_output();
        let mut grants = out.messages.iter().chain(&out.messages_after_persist);
        if grants.any(|(_, m)| matches!(m.body, Body::VoteResponse { granted: true })) {
            let rules = &mut self.nodes[id as usize - 1].rules;
            rules.granted_at = Some(rules.ticks);
        }
        // Contracts 1 to 3: messages that promise nothing leave at once; writes go to the disk
        // in order; promises leave once their batch and all before it are synced (`on_synced`).
        let mut sequencer = std::mem::take(&mut self.nodes[id as usize - 1].sequencer);
        let carried = sequencer.carry_out(out, &mut SimHost { sim: self, id });
        self.nodes[id as usize - 1].sequencer = sequencer;
        let Rest {
            committed,
            reads,
            snapshot_sends,
            snapshot_chunks,
        } = carried?;
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
        let fate = if matches!(msg.body, Body::AppendResponse { .. }) {
            let timeout_us = self.cfg.core.election_timeout_ticks_max as u64 * TICK_US;
            self.net
                .answer_fate(&mut self.rng, timeout_us..=4 * timeout_us)
        } else {
            self.net.fate(&mut self.rng)
        };
        match fate {
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

    /// Queues batch `batch` on `id`'s disk, synced after a drawn delay.
    fn write_batch(&mut self, id: NodeId, batch: u64, write: Write) {
        let delay_us = self.sync_delay_us();
        let at_us = self.now_us + delay_us;
        let node = &mut self.nodes[id as usize - 1];
        let at_us = node.storage.write(batch, write, at_us);
        self.queue.push(at_us, Event::Synced { node: id, batch });
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
        let promises = node.sequencer.promises(batch);
        let Some(batch) = node.storage.sync(batch, promises) else {
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
        let mut sequencer = std::mem::take(&mut self.nodes[id as usize - 1].sequencer);
        let released = sequencer.synced(batch.seq, &mut SimHost { sim: self, id });
        self.nodes[id as usize - 1].sequencer = sequencer;
        released?;
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
        // A message of an older term may change nothing the leader counts (§5.1).
        let counted = (msg.term < before).then(|| self.leader_counts(to));
        let kept = msg.clone();
        let raft = self.nodes[to as usize - 1].raft.as_mut().expect("up");
        raft.step(from, msg);
        self.delivering = Some(Delivering { term: kept.term });
        let result = self.drive(to);
        self.delivering = None;
        result?;
        if let Some(counted) = counted {
            self.check_stale_ignored((from, to), &kept, counted)?;
        }
        self.check_delivered((from, to), &kept, before)
    }

    /// What leader `id` counts toward commits: its term and every member's match index (none
    /// if it is not a leader).
    fn leader_counts(&self, id: NodeId) -> Option<(Term, Vec<Option<Index>>)> {
        let raft = self.nodes[id as usize - 1].raft.as_ref()?;
        let st = raft.status();
        if st.role != Role::Leader {
            return None;
        }
        let matches = self.nodes.iter().map(|n| raft.match_index(n.id)).collect();
        Some((st.term, matches))
    }

    /// A leader stepped a message of an older term: still leading the same term, it must count
    /// every follower as before.
    fn check_stale_ignored(
        &self,
        (from, to): (NodeId, NodeId),
        msg: &Message,
        counted: Option<(Term, Vec<Option<Index>>)>,
    ) -> Result<(), Violation> {
        let (Some(before), Some(after)) = (counted, self.leader_counts(to)) else {
            return Ok(());
        };
        if before.0 != after.0 || before.1 == after.1 {
            return Ok(());
        }
        let why = format!(
            "leader in term {} changed its match indexes from {:?} to {:?} on a {:?} of term {} \
             from {from}",
            after.0,
            before.1,
            after.1,
            Brief::of(msg),
            msg.term
        );
        Err(Violation::TermRule { node: to, why })
    }
}

/// The simulated node's I/O, for its `Sequencer`: the network, the disk, the core.
struct SimHost<'a> {
    sim: &'a mut Sim,
    id: NodeId,
}

impl Host for SimHost<'_> {
    type Error = Violation;

    fn send(&mut self, to: NodeId, msg: Message) -> Result<(), Violation> {
        self.sim.emit(self.id, to, msg)
    }

    fn compact(&mut self, batch: u64, index: Index, term: Term) -> Result<bool, Violation> {
        let written = &self.sim.nodes[self.id as usize - 1].storage.written;
        if index <= written.prev_index {
            return Ok(false);
        }
        self.sim
            .write_batch(self.id, batch, (None, Some((index, term)), Vec::new()));
        Ok(true)
    }

    fn write(
        &mut self,
        batch: u64,
        hard_state: Option<HardState>,
        entries: Vec<Entry>,
    ) -> Result<(), Violation> {
        let id = self.id;
        if let Some(first) = entries.first() {
            let node = &self.sim.nodes[id as usize - 1];
            let log = node.raft.as_ref().expect("driven nodes are up").log();
            let Some(prev_term) = log.term(first.index - 1) else {
                let why = format!("wrote entries from {} past its log's end", first.index);
                return Err(Violation::Contract { node: id, why });
            };
            let before = &node.storage.written;
            self.sim
                .checker
                .on_append(id, &entries, prev_term, before, log)?;
        }
        self.sim.write_batch(id, batch, (hard_state, None, entries));
        Ok(())
    }

    fn persisted(&mut self, index: Index, term: Term) -> Result<(), Violation> {
        let raft = self.sim.nodes[self.id as usize - 1].raft.as_mut();
        raft.expect("a down node has no pending syncs")
            .persisted(index, term);
        Ok(())
    }
}
