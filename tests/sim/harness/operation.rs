//! What the simulated operator does (see `operator`): its settings, its operations on a
//! configuration, and its choice of the next one.

use raftkv::raft::{Membership, NodeId};
use rand::rngs::StdRng;
use rand::RngExt;

/// How often and how the operator changes the membership.
#[derive(Clone, Debug)]
pub struct OperatorConfig {
    /// An operation comes every half tick to this many ticks.
    pub gap_ticks_max: u64,
    /// A refused operation is tried again after up to this many ticks.
    pub retry_ticks_max: u64,
    /// Attempts at one operation before the operator gives up on it.
    pub attempts_max: u32,
    /// Probability that a newly elected leader gets an operation at once, before it can have
    /// committed anything (rapid changes right after elections).
    pub after_election_ratio: f64,
    /// Relative weights of the operations: add a learner, promote a learner, remove a voter,
    /// remove the leader, demote a voter, remove a learner, replace a voter.
    pub weights: [u32; 7],
    /// Below this many voters the operator removes or demotes one only one time in ten, and
    /// never the last one.
    pub voters_min: usize,
    /// Probability that the network is cut the moment a leader proposes a change (see
    /// `cut_after_change`): the setting of Ongaro's 2015 bug report, where a change reaches a
    /// minority only and another leader is elected without it. 0 in random runs.
    pub cut_after_change_ratio: f64,
}

impl OperatorConfig {
    /// A random operator: some busy, some patient.
    pub fn random(rng: &mut StdRng) -> Self {
        let mut weights = [0; 7];
        for w in &mut weights {
            *w = rng.random_range(1..=10);
        }
        OperatorConfig {
            gap_ticks_max: rng.random_range(5..=60),
            retry_ticks_max: rng.random_range(1..=5),
            attempts_max: rng.random_range(3..=30),
            after_election_ratio: [0.0, 0.2, 0.8][rng.random_range(0..3)],
            weights,
            voters_min: 3,
            cut_after_change_ratio: 0.0,
        }
    }
}

/// One membership operation, in terms of node ids; turned into a configuration only when
/// proposed, from the leader's configuration of that moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    AddLearner(NodeId),
    Promote(NodeId),
    /// Removes a voter (possibly the leader) or a learner.
    Remove(NodeId),
    /// Makes a voter (possibly the leader) a learner.
    Demote(NodeId),
    /// Promotes learner `promote` and removes voter `remove` in one change: two voters change,
    /// which the core refuses (`Invalid`).
    Replace {
        remove: NodeId,
        promote: NodeId,
    },
}

impl Op {
    /// The configuration this operation makes of `m`, or `None` if it no longer applies
    /// (another change already did it, or undid what it needs).
    pub fn apply(self, m: &Membership) -> Option<Membership> {
        let (mut voters, mut learners) = (m.voters.clone(), m.learners.clone());
        match self {
            Op::AddLearner(id) if !m.contains(id) => learners.push(id),
            Op::Promote(id) if m.is_learner(id) => {
                learners.retain(|&l| l != id);
                voters.push(id);
            }
            Op::Remove(id) if m.contains(id) => {
                voters.retain(|&v| v != id);
                learners.retain(|&l| l != id);
            }
            Op::Demote(id) if m.is_voter(id) => {
                voters.retain(|&v| v != id);
                learners.push(id);
            }
            Op::Replace { remove, promote } if m.is_voter(remove) && m.is_learner(promote) => {
                voters.retain(|&v| v != remove);
                learners.retain(|&l| l != promote);
                voters.push(promote);
            }
            _ => return None,
        }
        Some(Membership::new(voters, learners))
    }

    /// A random operation on `m`, led by `leader`, among the nodes `ids`, keeping
    /// `voters_min` voters most of the time and at least one always.
    pub fn pick(
        rng: &mut StdRng,
        cfg: &OperatorConfig,
        ids: &[NodeId],
        leader: NodeId,
        m: &Membership,
    ) -> Option<Op> {
        let outsiders: Vec<NodeId> = ids.iter().copied().filter(|&id| !m.contains(id)).collect();
        let others: Vec<NodeId> = m.voters.iter().copied().filter(|&v| v != leader).collect();
        let shrink =
            m.voters.len() > cfg.voters_min || (m.voters.len() > 1 && rng.random_bool(0.1));
        let mut weights = cfg.weights;
        let learners = !m.learners.is_empty();
        let possible = [
            !outsiders.is_empty(),
            learners,
            shrink && !others.is_empty(),
            shrink,
            shrink,
            learners,
            learners,
        ];
        for (w, ok) in weights.iter_mut().zip(possible) {
            if !ok {
                *w = 0;
            }
        }
        let total: u32 = weights.iter().sum();
        if total == 0 {
            return None;
        }
        let mut pick = rng.random_range(0..total);
        let kind = weights.iter().position(|&w| {
            let hit = pick < w;
            pick = pick.saturating_sub(w);
            hit
        })?;
        let one = |rng: &mut StdRng, ids: &[NodeId]| ids[rng.random_range(0..ids.len())];
        Some(match kind {
            0 => Op::AddLearner(one(rng, &outsiders)),
            1 => Op::Promote(one(rng, &m.learners)),
            2 => Op::Remove(one(rng, &others)),
            3 => Op::Remove(leader),
            4 => Op::Demote(one(rng, &m.voters)),
            5 => Op::Remove(one(rng, &m.learners)),
            _ => Op::Replace {
                remove: one(rng, &m.voters),
                promote: one(rng, &m.learners),
            },
        })
    }
}

/// Why the operator acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    /// Its regular turn, which schedules the next: retry the pending operation or start one.
    Periodic,
    /// Only retry the pending operation.
    Retry,
    /// A leader was just elected: retry the pending operation or start one.
    AfterElection,
}

/// The operator's memory: the operation it is trying and how often it tried it.
#[derive(Clone, Copy, Debug, Default)]
pub struct OperatorState {
    pub(super) pending: Option<(Op, u32)>,
}
