//! Log replication (§5.3) and commitment (§5.4) under partitions and stale messages.

use bytes::Bytes;
use raftkv::raft::{Body, Payload, Role};

use super::{commit_on, elect, elect_in, others, scripted};
use crate::sim::harness::SimConfig;

/// §5.3–5.4: without a majority nothing commits. Three of five nodes crash right after the
/// leader takes proposals; the two left commit nothing, elect nobody, and once the others are back
/// the cluster commits again.
#[test]
fn no_commit_without_a_majority() {
    for seed in 30..35 {
        scripted(SimConfig::reliable(seed, 5), |sim| {
            let all = sim.cfg.voters();
            let leader = elect(sim)?;
            commit_on(sim, leader, &all)?;
            let before = sim.checker.commit_index();
            let crashed: Vec<_> = others(sim, &[leader]).into_iter().take(3).collect();
            for &id in &crashed {
                sim.crash(id)?;
            }
            for _ in 0..5 {
                let data = sim.next_payload();
                assert!(sim.propose(leader, data)?.is_some(), "still leader");
            }
            sim.run_ticks(100)?;
            assert_eq!(
                sim.checker.commit_index(),
                before,
                "committed without a majority"
            );
            assert!(
                sim.leaders().is_empty(),
                "a minority kept or elected a leader"
            );
            for &id in &crashed {
                sim.restart(id)?;
            }
            let leader = elect(sim)?;
            commit_on(sim, leader, &all)
        });
    }
}

/// §5.3: a leader cut off with uncommitted entries has them overwritten when it rejoins, and no
/// node ever applies them.
#[test]
fn partitioned_leader_uncommitted_entries_are_overwritten() {
    for seed in 40..45 {
        scripted(SimConfig::reliable(seed, 5), |sim| {
            let all = sim.cfg.voters();
            let old = elect(sim)?;
            commit_on(sim, old, &all)?;
            sim.isolate(old);
            let lost: Vec<Bytes> = (0..3).map(|_| sim.next_payload()).collect();
            for data in &lost {
                assert!(sim.propose(old, data.clone())?.is_some());
            }
            let old_last = sim.node(old).raft().status().last_index;
            let rest = others(sim, &[old]);
            let new = elect_in(sim, &rest)?;
            for _ in 0..3 {
                commit_on(sim, new, &rest)?;
            }
            sim.heal();
            commit_on(sim, new, &all)?;
            let new_log = sim.node(new).raft().log();
            let old_log = sim.node(old).raft().log();
            for index in 1..=old_last {
                assert_eq!(old_log.term(index), new_log.term(index), "index {index}");
            }
            for id in all {
                for e in &sim.node(id).applied {
                    if let Payload::Command(data) = &e.payload {
                        assert!(!lost.contains(data), "node {id} applied a lost entry");
                    }
                }
            }
            Ok(())
        });
    }
}

/// §5.3 ("if an existing entry conflicts … delete it and all that follow"; only then): stale,
/// duplicated or reordered `Append`s that match the follower's log never truncate it.
#[test]
fn stale_or_reordered_append_never_truncates_without_conflict() {
    scripted(SimConfig::reliable(50, 3), |sim| {
        let all = sim.cfg.voters();
        sim.recorded = Some(Vec::new());
        let leader = elect(sim)?;
        for _ in 0..6 {
            commit_on(sim, leader, &all)?;
        }
        let follower = others(sim, &[leader])[0];
        let appends: Vec<_> = sim
            .recorded
            .take()
            .expect("recording")
            .into_iter()
            .filter(|(from, to, msg)| {
                (*from, *to) == (leader, follower)
                    && matches!(&msg.body, Body::Append { entries, .. } if !entries.is_empty())
            })
            .map(|(_, _, msg)| msg)
            .collect();
        assert!(appends.len() >= 6, "one Append per proposal at least");
        let before = sim.node(follower).raft().status().last_index;
        // Deliver every old Append again, newest first: the worst reordering.
        for msg in appends.into_iter().rev() {
            sim.inject(leader, follower, msg);
            sim.run_ticks(1)?;
            let st = sim.node(follower).raft().status();
            assert_eq!(st.role, Role::Follower);
            assert_eq!(st.last_index, before, "a stale Append truncated the log");
        }
        commit_on(sim, leader, &all)
    });
}
