//! The virtual network: per-message loss, duplication and random delay (hence reordering), and
//! per-link cuts that make symmetric, one-way and arbitrary partitions.

use raftkv::raft::NodeId;
use rand::rngs::StdRng;
use rand::RngExt;

use super::config::NetConfig;

/// What becomes of one sent message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Lost,
    /// Delivered after this many microseconds.
    Delivered(u64),
    /// Delivered twice, after each delay.
    Duplicated(u64, u64),
}

/// Links and their behaviour. A cut link drops what it carries at delivery time, so a message in
/// flight when a partition starts is lost, and one sent just before it heals may still arrive.
pub struct Network {
    pub cfg: NetConfig,
    nodes: usize,
    /// `cut[from * nodes + to]` (ids are 1-based, indexes 0-based).
    cut: Vec<bool>,
}

impl Network {
    /// A fully connected network of `nodes`.
    pub fn new(cfg: NetConfig, nodes: usize) -> Self {
        Network {
            cfg,
            nodes,
            cut: vec![false; nodes * nodes],
        }
    }

    fn slot(&self, from: NodeId, to: NodeId) -> usize {
        (from as usize - 1) * self.nodes + (to as usize - 1)
    }

    /// True if messages from `from` to `to` are dropped.
    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.cut[self.slot(from, to)]
    }

    /// Cuts the one-way link `from → to`.
    pub fn cut_one_way(&mut self, from: NodeId, to: NodeId) {
        let slot = self.slot(from, to);
        self.cut[slot] = true;
    }

    /// Splits the cluster: nodes talk only within their group. `group_of[i]` is node `i + 1`'s group.
    pub fn split(&mut self, group_of: &[usize]) {
        assert_eq!(group_of.len(), self.nodes, "one group per node");
        for a in 0..self.nodes {
            for b in 0..self.nodes {
                if group_of[a] != group_of[b] {
                    self.cut[a * self.nodes + b] = true;
                }
            }
        }
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.cut.iter_mut().for_each(|c| *c = false);
    }

    /// Draws the fate of an append's answer: held back `late_us` with `late_answer_ratio`.
    pub fn answer_fate(&self, rng: &mut StdRng, late_us: std::ops::RangeInclusive<u64>) -> Fate {
        let ratio = self.cfg.late_answer_ratio;
        if ratio > 0.0 && rng.random_bool(ratio) {
            return Fate::Delivered(rng.random_range(late_us));
        }
        self.fate(rng)
    }

    /// Draws the fate of one message.
    pub fn fate(&self, rng: &mut StdRng) -> Fate {
        if self.cfg.loss_ratio > 0.0 && rng.random_bool(self.cfg.loss_ratio) {
            return Fate::Lost;
        }
        let first = self.delay(rng);
        if self.cfg.duplicate_ratio > 0.0 && rng.random_bool(self.cfg.duplicate_ratio) {
            return Fate::Duplicated(first, self.delay(rng));
        }
        Fate::Delivered(first)
    }

    fn delay(&self, rng: &mut StdRng) -> u64 {
        let cfg = &self.cfg;
        if cfg.long_delay_ratio > 0.0 && rng.random_bool(cfg.long_delay_ratio) {
            return rng
                .random_range(cfg.delay_us_max..=cfg.long_delay_us_max.max(cfg.delay_us_max));
        }
        rng.random_range(cfg.delay_us_min..=cfg.delay_us_max)
    }
}
