//! Figure 8 (§5.4.2): leaders crash shortly after taking proposals, so entries of old terms sit
//! on some logs uncommitted; a leader must never commit them by counting replicas. The checker's
//! Leader Completeness and State Machine Safety catch a violation; at the end the cluster heals and
//! must commit.

use rand::RngExt;

use crate::sim::harness::{Sim, SimConfig, Violation, LIVENESS_BOUND_TICKS, TICK_US};

use super::{commit_on, elect, elect_in, others, scripted};

/// Crashes the leader shortly after each proposal for `rounds` rounds, keeping a majority up,
/// then restarts everyone and checks liveness.
pub fn figure8(sim: &mut Sim, rounds: usize) -> Result<(), Violation> {
    let quorum = sim.quorum();
    for _ in 0..rounds {
        if let Some(leader) = sim.leader() {
            let data = sim.next_payload();
            sim.propose(leader, data)?;
        }
        // Mostly a few milliseconds, sometimes several election timeouts.
        let pause_us = if sim.rng().random_bool(0.1) {
            sim.rng().random_range(0..50 * TICK_US)
        } else {
            sim.rng().random_range(0..2 * TICK_US)
        };
        sim.run_us(pause_us)?;
        if let Some(leader) = sim.leader() {
            sim.crash(leader)?;
        }
        if sim.up_nodes().len() < quorum {
            let down: Vec<_> = sim
                .cfg
                .voters()
                .into_iter()
                .filter(|&id| !sim.node(id).is_up())
                .collect();
            let pick = down[sim.rng().random_range(0..down.len())];
            sim.restart(pick)?;
        }
    }
    for id in sim.cfg.voters() {
        sim.restart(id)?;
    }
    sim.check_liveness(LIVENESS_BOUND_TICKS)?;
    Ok(())
}

#[test]
fn figure8_reliable_network() {
    for seed in 70..76 {
        scripted(SimConfig::reliable(seed, 5), |sim| figure8(sim, 150));
    }
}

#[test]
fn figure8_lossy_network_with_long_reordering() {
    for seed in 80..86 {
        let mut cfg = SimConfig::reliable(seed, 5);
        cfg.net.loss_ratio = 0.1;
        cfg.net.long_delay_ratio = 0.1;
        cfg.net.long_delay_us_max = 20 * TICK_US;
        scripted(cfg, |sim| figure8(sim, 150));
    }
}

/// Figure 8 step by step, with five nodes S1…S5 (ids assigned as the elections fall):
/// (a) S1 leads and replicates an entry x of its term to S2 only, then crashes;
/// (b) S5 is elected by S3, S4, S5 and appends an entry of its own term at x's index, then is
///     cut off;
/// (c) S1 (or S2) is elected by S1–S4 and replicates x to S3 and S4; the moment anything at x's
///     index counts as committed, that leader crashes and its messages in flight are lost;
/// (d) S5 campaigns among S3, S4, S5. A correct leader committed x only together with an entry
///     of its own term held by S3 or S4, so S5 cannot win; a leader that counted replicas of x
///     let S5 win without x, and the checker reports Leader Completeness.
pub fn figure8_paper(sim: &mut Sim) -> Result<(), Violation> {
    let all = sim.cfg.voters();
    let s1 = elect(sim)?;
    commit_on(sim, s1, &all)?;
    let x_index = sim.node(s1).raft().status().last_index + 1;
    let rest = others(sim, &[s1]);
    let s2 = rest[0];
    // (a)
    sim.split(&[s1, s2]);
    let data = sim.next_payload();
    assert!(sim.propose(s1, data)?.is_some());
    let durable = |sim: &Sim, id| sim.node(id).raft().status().persisted_index >= x_index;
    let held = sim.run_until(10, |sim| durable(sim, s1) && durable(sim, s2))?;
    assert!(held.is_some(), "x never reached S2");
    sim.crash(s1)?;
    // (b)
    sim.heal();
    sim.isolate(s2);
    let s5 = elect_in(sim, &rest[1..])?;
    sim.isolate(s5);
    let s3_s4 = others(sim, &[s1, s2, s5]);
    // (c)
    sim.restart(s1)?;
    sim.heal();
    sim.isolate(s5);
    let leader = elect_in(sim, &others(sim, &[s5]))?;
    assert!([s1, s2].contains(&leader), "only S1 and S2 hold x");
    let committed = sim.run_until(50, |sim| sim.checker.commit_index() >= x_index)?;
    assert!(committed.is_some(), "x never committed");
    sim.crash(leader)?;
    sim.isolate(leader);
    // (d)
    let other = if leader == s1 { s2 } else { s1 };
    sim.heal();
    // Keep the crashed leader's messages still in flight from reaching anyone.
    sim.isolate(leader);
    sim.isolate(other);
    let mut side = s3_s4.clone();
    side.push(s5);
    let winner = elect_in(sim, &side)?;
    assert_ne!(winner, s5, "S5 lacks the committed x");
    sim.heal();
    sim.restart(leader)?;
    sim.check_liveness(LIVENESS_BOUND_TICKS)?;
    Ok(())
}

/// Figure 8 as the paper draws it, one entry per message so that x and the new leader's own
/// entry travel separately: the correct core never lets S5 win.
#[test]
fn figure8_as_in_the_paper() {
    for seed in 130..140 {
        let mut cfg = SimConfig::reliable(seed, 5);
        cfg.core.max_entries_per_msg = 1;
        scripted(cfg, figure8_paper);
    }
}
