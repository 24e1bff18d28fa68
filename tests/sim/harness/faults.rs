//! Scripted faults: crashes, restarts, partitions and healing. The random fault generator
//! (`chaos`) and the named scenarios both use these.

use raftkv::raft::{NodeId, Raft};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::cluster::Sim;
use super::trace::What;
use super::violation::Violation;

impl Sim {
    /// Crashes node `id`: its core and applied state vanish, and so do the writes its disk had not
    /// synced (unless the disk configuration lets a prefix of them survive).
    pub fn crash(&mut self, id: NodeId) -> Result<(), Violation> {
        let node = &mut self.nodes[id as usize - 1];
        if node.raft.take().is_none() {
            return Ok(());
        }
        node.applied.clear();
        node.crashes += 1;
        node.last_role = None;
        let unsynced = node.storage.unsynced_len();
        let ratio = self.cfg.disk.keep_unsynced_ratio;
        let keep = if unsynced > 0 && ratio > 0.0 && self.rng.random_bool(ratio) {
            self.rng.random_range(0..=unsynced)
        } else {
            0
        };
        let (kept, lost) = node.storage.crash(keep);
        self.stats.crashes += 1;
        self.stats.unsynced_batches_lost += lost as u64;
        let what = What::Crash {
            node: id,
            lost_batches: lost,
        };
        self.trace.push(self.now_us, what);
        self.checker.on_crash(id);
        for hs in kept {
            if let Some(vote) = hs.vote {
                self.checker.on_vote(id, hs.term, vote)?;
            }
        }
        Ok(())
    }

    /// Restarts node `id` from what its disk holds; it re-applies its log from the start.
    pub fn restart(&mut self, id: NodeId) -> Result<(), Violation> {
        let node = &mut self.nodes[id as usize - 1];
        if node.is_up() {
            return Ok(());
        }
        let restored = node.storage.restored();
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
            .voters()
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
