//! The seeded runs: many random seeds in `cargo test` — with a fixed membership, and with the
//! operator changing it — and the replay of one seed.

use super::harness::{env_bug, env_mutant, env_u64, run_mode_seed, run_seeds, Mode, DEFAULT_STEPS};

/// Seeds run by default: enough variety to find rare interleavings, few enough for a 2-core CI.
const DEFAULT_SEEDS: u64 = 2_000;

/// Membership seeds run by default (each takes longer: a larger pool, and the operator).
const DEFAULT_MEMBERSHIP_SEEDS: u64 = 1_000;

/// Runs `count` seeds in `mode` from `RAFT_SIM_FIRST_SEED` (default 0) and prints the totals.
fn run(mode: Mode, count: u64) {
    let first = env_u64("RAFT_SIM_FIRST_SEED").unwrap_or(0);
    let steps = env_u64("RAFT_SIM_STEPS").unwrap_or(DEFAULT_STEPS);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = std::time::Instant::now();
    let (stats, failures) = run_seeds(mode, (first, count), steps, threads, env_bug());
    println!(
        "simulated {mode:?} seeds {first}..{} ({steps} steps each) in {:.1} s on {threads} \
         threads\n{stats}",
        first + count,
        started.elapsed().as_secs_f64()
    );
    if let Some(first_failure) = failures.first() {
        panic!("{}", first_failure.report);
    }
}

#[test]
fn seeds() {
    run(
        Mode::Fixed,
        env_u64("RAFT_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS),
    );
}

/// The operator adds, promotes, demotes and removes members (the leader too) all along.
#[test]
fn membership_seeds() {
    let count = env_u64("RAFT_SIM_MEMBERSHIP_SEEDS").unwrap_or(DEFAULT_MEMBERSHIP_SEEDS);
    run(Mode::Membership, count);
}

/// Replays `RAFT_SIM_SEED` for `RAFT_SIM_STEPS` steps (with `RAFT_SIM_BUG` injected, if set;
/// with a mutant of the mutation suite and its aimed faults if `RAFT_SIM_MUTANT` names one;
/// as a membership run if `RAFT_SIM_MEMBERSHIP=1`); does nothing when no seed is given.
#[test]
fn replay() {
    let Some(seed) = env_u64("RAFT_SIM_SEED") else {
        return;
    };
    let steps = env_u64("RAFT_SIM_STEPS").unwrap_or(DEFAULT_STEPS);
    let mutant = env_mutant();
    let mode = match (env_u64("RAFT_SIM_MEMBERSHIP"), mutant) {
        (_, Some(m)) => m.mode,
        (Some(1), None) => Mode::Membership,
        _ => Mode::Fixed,
    };
    let outcome = run_mode_seed(mode, seed, steps, |cfg, chaos| {
        if let Some(m) = mutant {
            m.apply(cfg, chaos);
        }
        if let Some(bug) = env_bug() {
            bug.inject(cfg);
        }
    });
    println!("seed {seed}: {}", outcome.stats);
    if outcome.result.is_err() {
        panic!("{}", outcome.report);
    }
}
