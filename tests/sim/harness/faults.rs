//! Scripted faults: crashes, restarts, partitions and healing. The random fault generator
//! (`chaos`) and the named scenarios both use these.

use raftkv::raft::{NodeId, Raft, Sequencer};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::cluster::Sim;
use super::state::AppliedState;
use super::trace::What;
use super::violation::Violation;

impl Sim {
    /// Crashes node `id`: its core and applied state vanish, and so do the writes its disk had not
    /// synced (unless the disk configuration lets a prefix of them survive), the snapshot files
    /// not yet renamed into place, and the partial file of a snapshot being received.
    pub fn crash(&mut self, id: NodeId) -> Result<(), Violation> {
        let node = &mut self.nodes[id as usize - 1];
        if node.raft.take().is_none() {
            return Ok(());
        }
        node.state = AppliedState::default();
        node.applied.clear();
        // A stopped process dies with what waited for it.
        node.paused = None;
        let (writes_lost, partial_lost) = node.storage.snapshots.crash();
        self.stats.snapshot_writes_lost += writes_lost as u64;
        self.stats.snapshot_transfers_interrupted += partial_lost as u64;
        node.crashes += 1;
        node.last_role = None;
        let unsynced = node.storage.unsynced_len();
        let ratio = self.cfg.disk.keep_unsynced_ratio;
        let keep = if unsynced > 0 && ratio > 0.0 && self.rng.random_bool(ratio) {
            self.rng.random_range(0..=unsynced)
        } else {
            0
        };
        let torn_ratio = self.cfg.disk.torn_tail_ratio;
        let records = node.storage.unsynced_batch(keep).map_or(0, |b| b.records());
        // A tear keeps some records of the batch, not all (that would be a whole batch kept).
        let torn = if records > 1 && torn_ratio > 0.0 && self.rng.random_bool(torn_ratio) {
            self.rng.random_range(1..records)
        } else {
            0
        };
        let (kept, lost) = node.storage.crash(keep, torn);
        self.stats.torn_batches += (torn > 0) as u64;
        self.stats.crashes += 1;
        self.stats.unsynced_batches_lost += lost as u64;
        let what = What::Crash {
            node: id,
            lost_batches: lost,
        };
        self.trace.push(self.now_us, what);
        let durable_term = self.nodes[id as usize - 1].storage.durable.hard_state.term;
        self.checker.on_crash(id, durable_term);
        for hs in kept {
            if let Some(vote) = hs.vote {
                self.checker.on_vote(id, hs.term, vote)?;
            }
        }
        let storage = &self.nodes[id as usize - 1].storage;
        self.checker.check_snapshot_cover(id, storage)?;
        self.check_all_commits_durable()
    }

    /// Restarts node `id` from what its disk holds: the state of its newest durable snapshot (if
    /// any), then it re-applies the log after it.
    pub fn restart(&mut self, id: NodeId) -> Result<(), Violation> {
        let node = &mut self.nodes[id as usize - 1];
        if node.is_up() {
            return Ok(());
        }
        let (mut restored, snapshot) = node.storage.restore();
        let state = match snapshot {
            None => AppliedState::default(),
            Some(file) => {
                let decoded = AppliedState::decode_snapshot(&file.bytes);
                let (state, membership) = decoded.map_err(|why| Violation::Contract {
                    node: id,
                    why: format!("its snapshot through {} does not decode: {why}", file.index),
                })?;
                // The log starts right after the snapshot: its configuration is the base.
                restored.membership = Some(membership);
                state
            }
        };
        self.checker.on_restore(id, &state)?;
        self.checker.check_snapshot_cover(id, &node.storage)?;
        node.state = state;
        let hs = restored.hard_state;
        node.sequencer = Sequencer::new(hs, node.storage.next_batch());
        let rng = StdRng::seed_from_u64(self.rng.random());
        let raft = Raft::new(self.cfg.core_config(id), restored, Box::new(rng)).map_err(|e| {
            Violation::Contract {
                node: id,
                why: format!("refused to restart from its own disk: {e}"),
            }
        })?;
        node.raft = Some(raft);
        self.stats.restarts += 1;
        self.trace.push(self.now_us, What::Restart(id));
        self.drive(id)
    }

    /// Makes node `id`'s clock tick every `period_us` (clock skew) from its next tick on.
    pub fn set_tick_period_us(&mut self, id: NodeId, period_us: u64) {
        self.nodes[id as usize - 1].tick_period_us = period_us;
    }

    /// Cuts `id` off from every other node, both ways.
    pub fn isolate(&mut self, id: NodeId) {
        self.split(&[id]);
    }

    /// Splits the cluster in two: `side` and everyone else. Other cuts stay as they are.
    pub fn split(&mut self, side: &[NodeId]) {
        let group_of: Vec<usize> = self
            .cfg
            .ids()
            .iter()
            .map(|id| side.contains(id) as usize)
            .collect();
        self.net.split(&group_of);
        let mask = side.iter().fold(0u64, |m, id| m | 1 << (id - 1));
        self.stats.partitions += 1;
        self.trace.push(self.now_us, What::Split(mask));
    }

    /// Cuts the one-way link `from → to`: `to` stops hearing `from`.
    pub fn cut_one_way(&mut self, from: NodeId, to: NodeId) {
        self.net.cut_one_way(from, to);
        self.stats.partitions += 1;
        self.trace.push(self.now_us, What::CutOneWay { from, to });
    }

    /// Cuts both directions between `a` and `b`.
    pub fn cut_both(&mut self, a: NodeId, b: NodeId) {
        self.cut_one_way(a, b);
        self.cut_one_way(b, a);
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.net.heal();
        self.stats.heals += 1;
        self.trace.push(self.now_us, What::Heal);
    }
}
