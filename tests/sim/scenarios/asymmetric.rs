//! Asymmetric partitions. Without PreVote (thesis §9.6) a node that cannot hear the leader would
//! keep raising its term and depose it; without CheckQuorum (thesis §6.2) a leader that hears no
//! one would rule forever. With both, the cluster keeps committing and terms barely grow.

use raftkv::raft::{NodeId, Term};

use super::{commit_on, elect, elect_in, others, scripted};
use crate::sim::harness::SimConfig;
use crate::sim::harness::{Sim, Violation};

/// Commits a proposal every few ticks for `rounds` rounds through whoever leads among `side`,
/// and returns the highest term seen anywhere.
fn keep_committing(sim: &mut Sim, side: &[NodeId], rounds: usize) -> Result<Term, Violation> {
    let mut max_term = 0;
    for _ in 0..rounds {
        let leader = elect_in(sim, side)?;
        commit_on(sim, leader, side)?;
        sim.run_ticks(5)?;
        max_term = max_term.max(sim.max_term());
    }
    Ok(max_term)
}

/// A follower that can send but not receive never hears the leader, times out again and again,
/// yet its pre-votes win nothing: no term grows, and the leader stays.
#[test]
fn follower_that_cannot_hear_does_not_disrupt() {
    for seed in 90..94 {
        scripted(SimConfig::reliable(seed, 5), |sim| {
            let leader = elect(sim)?;
            let term = sim.node(leader).raft().status().term;
            let deaf = others(sim, &[leader])[0];
            for from in others(sim, &[deaf]) {
                sim.cut_one_way(from, deaf);
            }
            let rest = others(sim, &[deaf]);
            let max_term = keep_committing(sim, &rest, 40)?;
            assert_eq!(max_term, term, "the deaf follower raised the term");
            assert_eq!(sim.leaders(), vec![leader]);
            Ok(())
        });
    }
}

/// A leader that can send but not receive steps down within an election timeout (CheckQuorum);
/// the others elect a successor and commit; the deaf node's term never grows (PreVote).
#[test]
fn leader_that_cannot_hear_steps_down() {
    for seed in 95..99 {
        scripted(SimConfig::reliable(seed, 5), |sim| {
            let deaf = elect(sim)?;
            let term = sim.node(deaf).raft().status().term;
            for from in others(sim, &[deaf]) {
                sim.cut_one_way(from, deaf);
            }
            let rest = others(sim, &[deaf]);
            let max_term = keep_committing(sim, &rest, 40)?;
            assert!(max_term <= term + 2, "term grew from {term} to {max_term}");
            assert_eq!(sim.node(deaf).raft().status().term, term);
            assert!(
                !sim.leaders().contains(&deaf),
                "the deaf leader kept ruling"
            );
            Ok(())
        });
    }
}

/// A and C cannot reach each other but both reach B. Whichever of them leads keeps leading
/// through B; the other one's pre-votes are refused by B, which hears the leader: commits go on and
/// no term grows.
#[test]
fn two_nodes_cut_from_each_other_keep_committing_through_the_third() {
    for seed in 100..106 {
        scripted(SimConfig::reliable(seed, 3), |sim| {
            let a = elect(sim)?;
            let term = sim.node(a).raft().status().term;
            let c = others(sim, &[a])[seed as usize % 2];
            sim.cut_both(a, c);
            let b = others(sim, &[a, c])[0];
            let max_term = keep_committing(sim, &[a, b], 40)?;
            assert!(max_term <= term + 1, "term grew from {term} to {max_term}");
            Ok(())
        });
    }
}
