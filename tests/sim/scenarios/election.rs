//! Elections (§5.2) with PreVote and CheckQuorum (thesis §9.6, §6.2).

use raftkv::raft::Role;
use rand::seq::SliceRandom;

use super::{commit_on, elect, elect_in, leader_in, others, scripted, ELECTION_BOUND_TICKS};
use crate::sim::harness::{SimConfig, TICK_US};

/// §5.2: a fresh cluster elects one leader, and with a reliable network its term then stays put
/// for two election timeouts: every node follows it and nobody campaigns.
#[test]
fn initial_election_is_stable() {
    for (seed, nodes) in [(1, 3), (2, 5), (3, 7), (4, 4)] {
        scripted(SimConfig::reliable(seed, nodes), |sim| {
            let leader = elect(sim)?;
            let term = sim.node(leader).raft().status().term;
            let timeout = sim.cfg.core.election_timeout_ticks_max as u64;
            // Let the followers learn the leader, then watch two full timeouts.
            sim.run_ticks(sim.cfg.core.heartbeat_interval_ticks as u64 * 2)?;
            for _ in 0..2 * timeout {
                sim.run_ticks(1)?;
                assert_eq!(sim.leaders(), vec![leader], "seed {seed}");
                for id in sim.cfg.voters() {
                    let st = sim.node(id).raft().status();
                    assert_eq!((st.term, st.leader), (term, Some(leader)), "seed {seed}");
                }
            }
            Ok(())
        });
    }
}

/// §5.2 and thesis §6.2: when the leader is cut off, the majority elects a new one; the old leader
/// steps down (CheckQuorum) and, thanks to PreVote, neither becomes leader nor inflates its term
/// while alone; on healing it follows the new leader without disrupting it.
#[test]
fn leader_isolated_is_replaced_and_none_leads_in_the_minority() {
    for seed in 10..15 {
        scripted(SimConfig::reliable(seed, 5), |sim| {
            let old = elect(sim)?;
            let all = sim.cfg.voters();
            commit_on(sim, old, &all)?;
            let old_term = sim.node(old).raft().status().term;
            sim.isolate(old);
            let rest = others(sim, &[old]);
            let new = elect_in(sim, &rest)?;
            assert_ne!(new, old);
            commit_on(sim, new, &rest)?;
            let new_term = sim.node(new).raft().status().term;
            let timeout = sim.cfg.core.election_timeout_ticks_max as u64;
            for _ in 0..3 * timeout {
                sim.run_ticks(1)?;
                let st = sim.node(old).raft().status();
                assert_eq!(st.term, old_term, "the isolated node's term must not grow");
            }
            let st = sim.node(old).raft().status();
            assert_ne!(
                st.role,
                Role::Leader,
                "CheckQuorum must depose the lone leader"
            );
            sim.heal();
            commit_on(sim, new, &all)?;
            let st = sim.node(new).raft().status();
            assert_eq!(
                (st.role, st.term),
                (Role::Leader, new_term),
                "rejoin disrupted"
            );
            Ok(())
        });
    }
}

/// §5.2 with seven nodes: round after round three random nodes are cut off; the four others
/// always elect (or keep) a leader and commit, and the three never lead in a current term.
#[test]
fn many_elections_with_three_of_seven_cut_off() {
    scripted(SimConfig::reliable(20, 7), |sim| {
        let all = sim.cfg.voters();
        elect(sim)?;
        for round in 0..15 {
            sim.heal();
            let mut shuffled = all.clone();
            shuffled.shuffle(sim.rng());
            let cut = &shuffled[..3];
            sim.split(cut);
            let rest = others(sim, cut);
            let leader = elect_in(sim, &rest)?;
            commit_on(sim, leader, &rest)?;
            let term = sim.node(leader).raft().status().term;
            if let Some(minority_leader) = leader_in(sim, cut) {
                let t = sim.node(minority_leader).raft().status().term;
                assert!(
                    t < term,
                    "round {round}: node {minority_leader} leads term {t}"
                );
            }
        }
        sim.heal();
        let leader = elect(sim)?;
        commit_on(sim, leader, &all)
    });
}

/// Figure 2: a follower becomes a candidate when its timeout elapses "without receiving
/// AppendEntries from current leader or granting vote to candidate". A vote request it rejects
/// must not restart its timer: otherwise a candidate that can never win (stale log) but whose
/// clock runs fast keeps every up-to-date node from ever timing out, and without PreVote nothing
/// else stops it. Found by the random simulator (a 4-node cluster without PreVote, timeouts of
/// 9–11 ticks and clocks 10% apart stayed leaderless after the faults stopped).
#[test]
fn stale_candidate_with_a_fast_clock_does_not_block_elections() {
    for seed in 140..145 {
        let mut cfg = SimConfig::reliable(seed, 3);
        cfg.core.pre_vote = false;
        cfg.core.election_timeout_ticks_max = cfg.core.election_timeout_ticks_min + 2;
        scripted(cfg, |sim| {
            let all = sim.cfg.voters();
            let leader = elect(sim)?;
            commit_on(sim, leader, &all)?;
            let stale = others(sim, &[leader])[0];
            let fresh = others(sim, &[leader, stale])[0];
            sim.isolate(stale);
            for _ in 0..3 {
                commit_on(sim, leader, &[leader, fresh])?;
            }
            sim.crash(leader)?;
            sim.heal();
            sim.set_tick_period_us(stale, TICK_US * 8 / 10);
            let elected = sim.run_until(ELECTION_BOUND_TICKS, |sim| sim.leader() == Some(fresh))?;
            assert!(
                elected.is_some(),
                "seed {seed}: the stale candidate kept n{fresh} from campaigning"
            );
            Ok(())
        });
    }
}
