//! Log compaction and InstallSnapshot (§7): followers the leader has compacted past catch up by
//! snapshot, chunk by chunk, through loss, a leader change, and a leader compacting again while
//! the transfer runs. Snapshots are taken by the script here (`every_entries` is off).

use raftkv::raft::NodeId;

use super::{commit_on, elect, elect_in, others, scripted, ELECTION_BOUND_TICKS};
use crate::sim::harness::{Sim, SimConfig, Violation};

/// A reliable cluster whose snapshots travel in 8-byte chunks: dozens of messages each.
fn config(seed: u64, nodes: usize) -> SimConfig {
    let mut cfg = SimConfig::reliable(seed, nodes);
    cfg.snapshot.chunk_bytes = 8;
    cfg.snapshot.keys = 8;
    cfg
}

/// Commits `count` fresh entries through `leader` on every node of `side`.
fn commit_many(
    sim: &mut Sim,
    leader: NodeId,
    side: &[NodeId],
    count: usize,
) -> Result<(), Violation> {
    for _ in 0..count {
        commit_on(sim, leader, side)?;
    }
    Ok(())
}

/// Takes a snapshot at `id` and waits until its log is compacted through it.
fn compact(sim: &mut Sim, id: NodeId) -> Result<(), Violation> {
    let applied = sim.node(id).state.index;
    assert!(
        sim.take_snapshot(id)?,
        "node {id} could not start a snapshot"
    );
    let done = sim.run_until(ELECTION_BOUND_TICKS, |sim| {
        sim.node(id).raft().log().prev_index() == applied
    })?;
    assert!(
        done.is_some(),
        "node {id} never compacted through {applied}"
    );
    Ok(())
}

/// §7: a follower that was down while the leader compacted its log gets the snapshot instead of
/// the entries, over a lossy network, and its state machine ends up equal to the others' (the
/// checker compares their digests at every index).
#[test]
fn follower_behind_the_compacted_log_catches_up_by_snapshot() {
    for seed in 200..205 {
        scripted(config(seed, 3), |sim| {
            let all = sim.cfg.voters();
            let leader = elect(sim)?;
            commit_many(sim, leader, &all, 3)?;
            let behind = others(sim, &[leader])[0];
            sim.crash(behind)?;
            let up = others(sim, &[behind]);
            commit_many(sim, leader, &up, 10)?;
            compact(sim, leader)?;
            sim.net.cfg.loss_ratio = 0.2;
            sim.restart(behind)?;
            commit_on(sim, leader, &all)?;
            assert!(
                sim.stats.snapshots_installed >= 1,
                "no snapshot was installed"
            );
            let follower = sim.node(behind).raft().log();
            assert_eq!(
                follower.prev_index(),
                sim.node(leader).raft().log().prev_index()
            );
            Ok(())
        });
    }
}

/// The leader compacts again while a follower is still receiving the older snapshot. The
/// follower installs the older one and acknowledges it, below the leader's new log start: the
/// leader must send the newer snapshot, not the old one again (found by the seeded run, seed 1).
#[test]
fn leader_compacting_past_a_snapshot_in_flight_sends_the_newer_one() {
    for seed in 210..215 {
        let mut cfg = config(seed, 3);
        // A long transfer: the leader has time to commit and compact again meanwhile.
        cfg.snapshot.chunk_bytes = 2;
        scripted(cfg, |sim| {
            let all = sim.cfg.voters();
            let leader = elect(sim)?;
            let behind = others(sim, &[leader])[0];
            sim.crash(behind)?;
            let up = others(sim, &[behind]);
            commit_many(sim, leader, &up, 10)?;
            compact(sim, leader)?;
            sim.restart(behind)?;
            let started =
                sim.run_until(ELECTION_BOUND_TICKS, |sim| sim.stats.snapshot_transfers > 0)?;
            assert!(started.is_some(), "no snapshot transfer started");
            commit_many(sim, leader, &up, 3)?;
            compact(sim, leader)?;
            assert_eq!(
                sim.stats.snapshots_installed, 0,
                "the transfer was too quick"
            );
            commit_on(sim, leader, &all)?;
            assert!(sim.stats.snapshots_installed >= 1);
            Ok(())
        });
    }
}

/// The leader crashes in the middle of a transfer; the new leader, which compacted at another
/// point, sends its own snapshot, which the follower takes as a fresh start (throwing away the
/// partial file of the old one).
#[test]
fn leader_change_mid_transfer_starts_afresh() {
    for seed in 220..225 {
        scripted(config(seed, 5), |sim| {
            let leader = elect(sim)?;
            let behind = others(sim, &[leader])[0];
            sim.crash(behind)?;
            let up = others(sim, &[behind]);
            commit_many(sim, leader, &up, 10)?;
            compact(sim, leader)?;
            commit_many(sim, leader, &up, 2)?;
            for id in others(sim, &[leader, behind]) {
                compact(sim, id)?;
            }
            sim.restart(behind)?;
            let started =
                sim.run_until(ELECTION_BOUND_TICKS, |sim| sim.stats.snapshot_transfers > 0)?;
            assert!(started.is_some(), "no snapshot transfer started");
            sim.crash(leader)?;
            let rest = others(sim, &[leader]);
            let new = elect_in(sim, &rest)?;
            commit_on(sim, new, &rest)?;
            assert!(
                sim.stats.snapshot_transfers >= 2,
                "the new leader sent nothing"
            );
            assert!(sim.stats.snapshot_transfers_interrupted >= 1);
            Ok(())
        });
    }
}
