//! Message economy: elections and idle clusters must not flood the network.

use super::{elect, scripted};
use crate::sim::harness::SimConfig;

/// A clean election costs one pre-vote round and one vote round: 4 (n − 1) messages. Allow one
/// extra round for a split pre-vote.
#[test]
fn electing_a_leader_takes_a_bounded_number_of_messages() {
    for (seed, nodes) in [(110, 3), (111, 5), (112, 7), (113, 5), (114, 3)] {
        scripted(SimConfig::reliable(seed, nodes), |sim| {
            elect(sim)?;
            let bound = 2 * 4 * (nodes as u64 - 1);
            let spent = sim.stats.election_messages;
            println!("seed {seed}, {nodes} nodes: {spent} election messages (bound {bound})");
            assert!(
                spent <= bound,
                "seed {seed}: {spent} election messages > {bound}"
            );
            Ok(())
        });
    }
}

/// An idle leader sends one heartbeat per follower per heartbeat interval and gets one answer:
/// 2 (n − 1) / heartbeat_interval messages per tick, and nothing else.
#[test]
fn an_idle_cluster_sends_a_bounded_number_of_messages_per_tick() {
    for (seed, nodes) in [(120, 3), (121, 5), (122, 7)] {
        scripted(SimConfig::reliable(seed, nodes), |sim| {
            elect(sim)?;
            sim.run_ticks(20)?;
            let before = sim.stats.messages_sent;
            let ticks = 100;
            sim.run_ticks(ticks)?;
            let sent = sim.stats.messages_sent - before;
            let interval = sim.cfg.core.heartbeat_interval_ticks as u64;
            let per_interval = 2 * (nodes as u64 - 1);
            // One interval of slack: the window need not start on a heartbeat.
            let bound = (ticks / interval + 1) * per_interval;
            println!(
                "seed {seed}, {nodes} nodes: {sent} messages in {ticks} idle ticks (bound {bound})"
            );
            assert!(
                sent <= bound,
                "seed {seed}: {sent} messages in {ticks} idle ticks > {bound}"
            );
            assert!(
                sent >= (ticks / interval - 1) * per_interval,
                "heartbeats stopped"
            );
            Ok(())
        });
    }
}
