//! Membership changes (thesis ch. 4), scripted: a learner catches up by snapshot and is
//! promoted, a leader removes itself and hands off, and the race of Ongaro's 2015 report on
//! single-server changes, which the rules must win.
//!
//! The race ([`change_race`]): a leader A of a 4-voter configuration C0 starts a change C1 that
//! reaches only its own side of a partition; the others elect B, which at once starts another
//! change C2. C1 and C2 each differ from C0 by one voter, but from each other by two, and their
//! majorities need not overlap: if B committed C2 with a majority that A's side can do
//! without, A could later be elected by a majority of C1 that never saw B's entries, and
//! overwrite them. The rule that a leader first commits an entry of its own term under C0 (the
//! erratum) stops B: C0's majority needs a node of A's side. Each seed picks one of the
//! report's three cases, the nodes' roles and the network's timing.

use raftkv::raft::{ChangeError, Index, Membership, NodeId, Role};
use rand::RngExt;

use super::{commit_on, elect, elect_in, leader_in, scripted, ELECTION_BOUND_TICKS};
use crate::sim::harness::{Sim, SimConfig, Violation};

/// Ticks a script waits for a change to be accepted and committed before giving up.
const CHANGE_BOUND_TICKS: u64 = 60;

/// A cluster of `nodes` ids whose first `voters` are the initial configuration.
pub fn config(seed: u64, nodes: usize, voters: usize) -> SimConfig {
    let mut cfg = SimConfig::reliable(seed, nodes);
    cfg.initial_voters = voters;
    cfg
}

/// Proposes `next` at `leader` until the core takes it (retrying while it answers `NotReady`
/// or `InProgress`, as an operator would) and waits until `leader` commits it. Returns the
/// entry's index, or `None` if that did not happen within [`CHANGE_BOUND_TICKS`] or `leader`
/// lost the lead first.
pub fn change(
    sim: &mut Sim,
    leader: NodeId,
    next: &Membership,
) -> Result<Option<Index>, Violation> {
    for _ in 0..CHANGE_BOUND_TICKS {
        match sim.propose_membership(leader, next.clone())? {
            Ok((index, term)) => {
                let committed = sim.run_until(CHANGE_BOUND_TICKS, |sim| {
                    sim.node(leader)
                        .status()
                        .is_some_and(|s| s.commit_index >= index)
                        && sim.node(leader).raft().log().term(index) == Some(term)
                })?;
                return Ok(committed.map(|_| index));
            }
            Err(ChangeError::NotReady | ChangeError::InProgress(_)) => sim.run_ticks(1)?,
            // No longer the leader: the change never started.
            Err(ChangeError::Propose(_)) => return Ok(None),
            Err(e) => panic!("node {leader} refused {next}: {e}"),
        }
    }
    Ok(None)
}

/// `m` with `id` as a learner.
fn with_learner(m: &Membership, id: NodeId) -> Membership {
    let mut learners = m.learners.clone();
    learners.push(id);
    Membership::new(m.voters.clone(), learners)
}

/// `m` with learner `id` promoted.
fn promoted(m: &Membership, id: NodeId) -> Membership {
    let learners = m.learners.iter().copied().filter(|&l| l != id).collect();
    let mut voters = m.voters.clone();
    voters.push(id);
    Membership::new(voters, learners)
}

/// `m` without `id`.
fn without(m: &Membership, id: NodeId) -> Membership {
    let keep = |ids: &[NodeId]| ids.iter().copied().filter(|&x| x != id).collect();
    Membership::new(keep(&m.voters), keep(&m.learners))
}

/// The three cases of the report: what A's change and B's change do.
#[derive(Clone, Copy, Debug)]
pub enum Race {
    /// A adds a voter, B removes one.
    OneAddOneRemove,
    /// A and B each add a different voter.
    TwoAdds,
    /// A and B each remove a different voter.
    TwoRemoves,
}

/// What happened in one race.
#[derive(Debug, Default)]
pub struct RaceOutcome {
    /// B's change was refused at first (`NotReady`): it had not committed an entry of its term.
    pub refused: bool,
    /// B's change was committed.
    pub committed: bool,
}

/// Runs the race of the report (module docs) on a cluster of 6 ids whose first 4 vote.
pub fn change_race(sim: &mut Sim, race: Race) -> Result<RaceOutcome, Violation> {
    let mut outcome = RaceOutcome::default();
    let c0 = Membership::new(sim.cfg.voters(), Vec::new());
    let a = elect(sim)?;
    commit_on(sim, a, &c0.voters)?;
    // The learners the adds promote: 5 for A, 6 for B.
    let mut m = c0.clone();
    for learner in [5, 6] {
        m = with_learner(&m, learner);
        change(sim, a, &m)?.expect("a learner is added in a healthy cluster");
    }
    // Everyone knows the learners' changes committed: B's only reason to wait is its term.
    commit_on(sim, a, &sim.cfg.ids())?;
    let rest: Vec<NodeId> = c0.voters.iter().copied().filter(|&v| v != a).collect();
    let pick = |sim: &mut Sim, ids: &[NodeId]| ids[sim.rng().random_range(0..ids.len())];
    // A's change reaches its side of the partition only.
    let removed_by_a = pick(sim, &rest);
    let (c1, side_a) = match race {
        Race::OneAddOneRemove | Race::TwoAdds => (promoted(&m, 5), vec![a, 5]),
        Race::TwoRemoves => (without(&m, removed_by_a), vec![a]),
    };
    sim.split(&side_a);
    sim.propose_membership(a, c1)?
        .expect("A committed everything before: its change is taken");
    sim.run_ticks(2)?;
    // B is elected by all three others, and starts its change before anything of its term can
    // have committed. Node `v` (A's future voter) is cut off before B's first append arrives.
    let b = elect_in(sim, &rest)?;
    let b_term = sim.node(b).raft().status().term;
    let others: Vec<NodeId> = rest
        .iter()
        .copied()
        .filter(|&x| x != b && x != removed_by_a)
        .collect();
    let v = pick(sim, &others);
    sim.split(&[v]);
    let c2 = match race {
        Race::OneAddOneRemove | Race::TwoRemoves => without(&m, v),
        Race::TwoAdds => promoted(&m, 6),
    };
    outcome.refused = matches!(
        sim.propose_membership(b, c2.clone())?,
        Err(ChangeError::NotReady)
    );
    if !outcome.refused || change(sim, b, &c2)?.is_some() {
        let index = sim.node(b).raft().membership_index();
        outcome.committed = sim
            .run_until(CHANGE_BOUND_TICKS, |sim| {
                sim.node(b)
                    .status()
                    .is_some_and(|s| s.commit_index >= index)
            })?
            .is_some();
    }
    // A's side now holds a majority of C1 that never heard from B.
    sim.heal();
    let mut side = side_a;
    side.push(v);
    sim.split(&side);
    sim.run_until(ELECTION_BOUND_TICKS, |sim| {
        side.iter().any(|&id| {
            sim.node(id)
                .status()
                .is_some_and(|s| s.role == Role::Leader && s.term > b_term)
        })
    })?;
    Ok(outcome)
}

/// The race with the rules in force: B's change is refused until it commits an entry of its
/// term, which it cannot do without a node of A's side; nothing unsafe happens, in every case
/// and with the roles drawn by each seed.
#[test]
fn the_race_of_the_2015_report_is_won_by_the_rules() {
    for (i, race) in [Race::OneAddOneRemove, Race::TwoAdds, Race::TwoRemoves]
        .into_iter()
        .enumerate()
    {
        for seed in 0..4 {
            scripted(config(300 + 10 * i as u64 + seed, 6, 4), |sim| {
                let outcome = change_race(sim, race)?;
                assert!(outcome.refused, "{race:?}: B's change was taken at once");
                assert!(!outcome.committed, "{race:?}: B committed without A's side");
                Ok(())
            });
        }
    }
}

/// Thesis §4.2.1: a new server joins as a learner and catches up before it counts — here by
/// snapshot, carrying the configuration, since the leader compacted its log — and is then
/// promoted; the cluster commits with it.
#[test]
fn a_learner_catches_up_by_snapshot_then_is_promoted() {
    for seed in 320..324 {
        let mut cfg = config(seed, 4, 3);
        cfg.snapshot.every_entries = Some(5);
        cfg.snapshot.chunk_bytes = 16;
        scripted(cfg, |sim| {
            let c0 = Membership::new(sim.cfg.voters(), Vec::new());
            let leader = elect(sim)?;
            for _ in 0..12 {
                commit_on(sim, leader, &c0.voters)?;
            }
            let learning = with_learner(&c0, 4);
            change(sim, leader, &learning)?.expect("added");
            commit_on(sim, leader, &[1, 2, 3, 4])?;
            assert!(sim.stats.snapshots_installed >= 1, "caught up by snapshot");
            let node4 = sim.node(4).raft();
            assert_eq!(
                node4.membership(),
                &learning,
                "from the snapshot or the log"
            );
            change(sim, leader, &promoted(&learning, 4))?.expect("promoted");
            let down = c0.voters.iter().copied().find(|&v| v != leader);
            sim.crash(down.expect("three voters"))?;
            let up: Vec<NodeId> = sim.up_nodes();
            commit_on(sim, leader, &up)?;
            Ok(())
        });
    }
}

/// Thesis §4.2.2: a leader that removes itself leads until the removal commits, then hands off
/// (`TimeoutNow`) so a remaining voter takes over at once — well before any election timeout —
/// and the cluster commits without it.
#[test]
fn a_leader_that_removes_itself_hands_off() {
    for seed in 330..334 {
        scripted(config(seed, 3, 3), |sim| {
            let c0 = Membership::new(sim.cfg.voters(), Vec::new());
            let leader = elect(sim)?;
            commit_on(sim, leader, &c0.voters)?;
            let rest: Vec<NodeId> = c0.voters.iter().copied().filter(|&v| v != leader).collect();
            change(sim, leader, &without(&c0, leader))?.expect("committed");
            let ticks =
                sim.run_until(ELECTION_BOUND_TICKS, |sim| leader_in(sim, &rest).is_some())?;
            let timeout = u64::from(sim.cfg.core.election_timeout_ticks_min);
            assert!(
                ticks.is_some_and(|t| t < timeout),
                "no hand-off: a successor after {ticks:?} ticks"
            );
            let next = leader_in(sim, &rest).expect("found");
            commit_on(sim, next, &rest)?;
            assert_eq!(
                sim.node(leader).status().map(|s| s.role),
                Some(Role::Follower)
            );
            Ok(())
        });
    }
}
