//! Fast backtracking (§5.3, "the protocol can be optimized to reduce the number of rejected
//! AppendEntries"): a leader catching up followers whose logs hold long divergent suffixes needs
//! about one rejection per conflicting term, not one per entry.

use super::{commit_on, elect, elect_in, leader_in, others, scripted};
use crate::sim::harness::SimConfig;

const UNREPLICABLE: usize = 50;

/// Two minority leaders each append 50 entries nobody else gets; then one majority leader brings
/// everyone back in line. Its `Append` rejections must stay a small multiple of the number of
/// (follower, conflicting term) pairs, far below the 100 entries to undo.
#[test]
fn backup_takes_round_trips_per_term_not_per_entry() {
    for seed in 60..64 {
        scripted(SimConfig::reliable(seed, 5), |sim| {
            let all = sim.cfg.voters();
            let a = elect(sim)?;
            commit_on(sim, a, &all)?;
            // Minority 1: the leader and one follower.
            let b = others(sim, &[a])[0];
            sim.split(&[a, b]);
            for _ in 0..UNREPLICABLE {
                let data = sim.next_payload();
                assert!(sim.propose(a, data)?.is_some());
            }
            // Let the burst's reordered Appends (and their rejections) play out.
            sim.run_ticks(5)?;
            let majority = others(sim, &[a, b]);
            let c = elect_in(sim, &majority)?;
            commit_on(sim, c, &majority)?;
            // Minority 2: the second leader and one of its followers.
            let d = others(sim, &[a, b, c])[0];
            let e = others(sim, &[a, b, c, d])[0];
            sim.heal();
            sim.split(&[c, d]);
            for _ in 0..UNREPLICABLE {
                let data = sim.next_payload();
                assert!(sim.propose(c, data)?.is_some());
            }
            sim.run_ticks(5)?;
            let rejections_before = sim.stats.append_rejections;
            let leader = elect_in(sim, &[a, b, e])?;
            assert_eq!(
                leader, e,
                "only e has the committed entries of the second term"
            );
            commit_on(sim, e, &[a, b, e])?;
            sim.heal();
            commit_on(sim, e, &all)?;
            assert_eq!(leader_in(sim, &all), Some(e));
            let rejections = sim.stats.append_rejections - rejections_before;
            // Four followers, each with at most one divergent term: one rejection each, plus a
            // retry each if a heartbeat round re-sends a probe still in flight.
            println!("seed {seed}: {rejections} Append rejections to undo 100 entries");
            assert!(
                rejections <= 8,
                "{rejections} rejections: backtracking per entry?"
            );
            Ok(())
        });
    }
}
