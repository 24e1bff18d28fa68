//! Negative controls: with each deliberate protocol violation injected into the core, the
//! simulator's checker must fire — proof that the checks can fail.

use raftkv::raft::InjectedBug;

use super::harness::{run_mode_seed, ChaosConfig, HarnessBug, Kind, Mode, Sim, SimConfig};
use super::scenarios::figure8::figure8_paper;

/// Runs seeds from 0 until one ends in a violation of one of the `expected` kinds, or
/// `max_seeds` pass. Returns the seed that caught the bug.
fn caught(
    expected: &[Kind],
    max_seeds: u64,
    tweak: impl Fn(&mut SimConfig, &mut ChaosConfig),
) -> Option<u64> {
    caught_in(Mode::Fixed, expected, max_seeds, tweak)
}

/// [`caught`], with seeds of `mode`.
pub fn caught_in(
    mode: Mode,
    expected: &[Kind],
    max_seeds: u64,
    tweak: impl Fn(&mut SimConfig, &mut ChaosConfig),
) -> Option<u64> {
    let mut other = Vec::new();
    for seed in 0..max_seeds {
        let outcome = run_mode_seed(mode, seed, 4_000, &tweak);
        if let Err(v) = &outcome.result {
            if expected.contains(&v.kind()) {
                println!("caught by seed {seed}: {v}");
                return Some(seed);
            }
            other.push((seed, v.kind()));
        }
    }
    println!("no seed caught it; other violations: {other:?}");
    None
}

/// Figure 8's mistake: committing an entry of an earlier term by counting replicas, driven by
/// the paper's Figure 8 construction (see `figure8_paper`).
#[test]
fn commit_previous_term_by_counting_is_caught() {
    for seed in 0..20 {
        let mut cfg = SimConfig::reliable(seed, 5);
        cfg.core.injected_bug = Some(InjectedBug::CommitPreviousTermByCounting);
        cfg.core.max_entries_per_msg = 1;
        let mut sim = Sim::new(cfg);
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| figure8_paper(&mut sim)));
        if let Ok(Err(v)) = result {
            let expected = [Kind::LeaderCompleteness, Kind::StateMachineSafety];
            if expected.contains(&v.kind()) {
                println!("caught by seed {seed}: {v}");
                return;
            }
        }
    }
    panic!("the checker never noticed an old-term commit");
}

/// The same bug also breaks ReadIndex: a new leader that commits an old entry by counting takes
/// it as proof that its commit index caught up, and answers reads below the cluster's commit.
#[test]
fn commit_previous_term_by_counting_is_caught_as_stale_reads() {
    let seed = caught(&[Kind::StaleRead], 400, |cfg, _| {
        cfg.core.injected_bug = Some(InjectedBug::CommitPreviousTermByCounting);
    });
    assert!(seed.is_some(), "the checker never noticed a stale read");
}

/// Voting twice in a term. Nearly simultaneous election timeouts make competing candidates.
#[test]
fn vote_twice_in_a_term_is_caught() {
    let seed = caught(&[Kind::DoubleVote], 400, |cfg, _| {
        cfg.core.injected_bug = Some(InjectedBug::VoteTwiceInATerm);
        cfg.core.election_timeout_ticks_max = cfg.core.election_timeout_ticks_min + 1;
    });
    assert!(seed.is_some(), "the checker never noticed a double vote");
}

/// Acknowledging before persisting, caught directly: the acknowledgement leaves while the disk
/// does not hold what it promises.
#[test]
fn ack_before_persist_is_caught_as_a_broken_promise() {
    let seed = caught(&[Kind::BrokenPromise], 50, |cfg, _| {
        cfg.core.injected_bug = Some(InjectedBug::AckBeforePersist);
    });
    assert!(
        seed.is_some(),
        "the checker never noticed an early acknowledgement"
    );
}

/// Acknowledging before persisting, caught by its consequence: with the promise check off, a
/// crash loses an acknowledged entry, a leader commits it anyway, and a later leader lacks it.
#[test]
fn ack_before_persist_is_caught_by_its_consequences() {
    let seed = caught(
        &[Kind::LeaderCompleteness, Kind::StateMachineSafety],
        400,
        |cfg, chaos| {
            cfg.core.injected_bug = Some(InjectedBug::AckBeforePersist);
            cfg.check_promises = false;
            cfg.disk.keep_unsynced_ratio = 0.0;
            cfg.disk.sync_us_max = cfg.disk.sync_us_max.max(20_000);
            chaos.weights[0] += 10;
            chaos.weights[1] += 10;
        },
    );
    assert!(
        seed.is_some(),
        "no crash ever exposed the early acknowledgement"
    );
}

/// Makes snapshots frequent (every 10 applied entries at most), so a seed has many to get wrong.
fn snapshot_often(cfg: &mut SimConfig) {
    let every = cfg.snapshot.every_entries.unwrap_or(10).min(10);
    cfg.snapshot.every_entries = Some(every);
}

/// A follower that installs a snapshot before the snapshot file is durable, caught directly:
/// its log prefix (and so its acknowledgement) gets ahead of its durable snapshot.
#[test]
fn install_before_durable_is_caught_as_a_prefix_past_the_snapshot() {
    let seed = caught(
        &[Kind::PrefixPastSnapshot, Kind::BrokenPromise],
        100,
        |cfg, _| {
            cfg.harness_bug = Some(HarnessBug::InstallBeforeDurable);
            snapshot_often(cfg);
        },
    );
    assert!(
        seed.is_some(),
        "the checker never noticed a snapshot acknowledged before it was durable"
    );
}

/// The same, caught by its consequence: with the durability checks off, a crash loses the
/// snapshot after the acknowledgement, and the node restarts with a hole between its state and
/// its log, so it applies entries on the wrong state.
#[test]
fn install_before_durable_is_caught_by_its_consequences() {
    let seed = caught(
        &[
            Kind::LostWrites,
            Kind::Monotonicity,
            Kind::StateMachineDivergence,
        ],
        400,
        |cfg, chaos| {
            cfg.harness_bug = Some(HarnessBug::InstallBeforeDurable);
            cfg.check_promises = false;
            snapshot_often(cfg);
            cfg.disk.sync_us_max = cfg.disk.sync_us_max.max(20_000);
            chaos.weights[0] += 10;
        },
    );
    assert!(
        seed.is_some(),
        "no crash ever exposed the snapshot installed before it was durable"
    );
}

/// A leader that compacts past a follower and never sends it a snapshot, pretending it holds
/// what was compacted: caught as a match index the follower's disk does not back.
#[test]
fn skip_snapshot_is_caught_as_an_unfounded_match_index() {
    let seed = caught(&[Kind::MatchIndex], 100, |cfg, _| {
        cfg.core.injected_bug = Some(InjectedBug::SkipSnapshot);
        snapshot_often(cfg);
    });
    assert!(
        seed.is_some(),
        "the checker never noticed a follower skipped over compacted entries"
    );
}

/// The same, caught by its consequences once the match index check is off: told to commit up
/// to the compaction point, the follower commits entries of its own that the cluster never
/// committed (the other outcome, a follower that never catches up, fails the liveness phase).
#[test]
fn skip_snapshot_is_caught_by_its_consequences() {
    let seed = caught(
        &[
            Kind::StateMachineSafety,
            Kind::LeaderCompleteness,
            Kind::StateMachineDivergence,
        ],
        400,
        |cfg, _| {
            cfg.core.injected_bug = Some(InjectedBug::SkipSnapshot);
            cfg.check_promises = false;
            snapshot_often(cfg);
        },
    );
    assert!(
        seed.is_some(),
        "nothing ever exposed a follower skipped over compacted entries"
    );
}
