//! The seeded runs: many random seeds in `cargo test` — with a fixed membership, and with the
//! operator changing it — and the replay of one seed.

use super::harness::{env_bug, env_mutant, env_u64, run_mode_seed, run_seeds, Mode, DEFAULT_STEPS};

/// Seeds run by default: enough variety to find rare interleavings, few enough for a 2-core CI.
const DEFAULT_SEEDS: u64 = 2_000;

/// Membership seeds run by default (each takes longer: a larger pool, and the operator).
const DEFAULT_MEMBERSHIP_SEEDS: u64 = 1_000;

/// Seeds `many_seeds` runs unless `RAFT_SIM_SEEDS` says otherwise.
const MANY_SEEDS_DEFAULT: u64 = 10_000;

/// Runs `count` seeds in `mode` from `RAFT_SIM_FIRST_SEED` (default 0) on `threads` threads (0:
/// one per core) and prints the totals and the rate.
fn run(mode: Mode, count: u64, threads: usize) {
    let first = env_u64("RAFT_SIM_FIRST_SEED").unwrap_or(0);
    let steps = env_u64("RAFT_SIM_STEPS").unwrap_or(DEFAULT_STEPS);
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let started = std::time::Instant::now();
    let (stats, failures) = run_seeds(mode, (first, count), steps, threads, env_bug());
    let secs = started.elapsed().as_secs_f64();
    println!(
        "simulated {mode:?} seeds {first}..{} ({steps} steps each) in {secs:.1} s on {threads} \
         threads: {:.1} seeds/s\n{stats}",
        first + count,
        stats.runs as f64 / secs.max(1e-9)
    );
    if let Some(first_failure) = failures.first() {
        println!("first failing seed: {}", first_failure.replay);
        panic!("{}", first_failure.report);
    }
}

#[test]
fn seeds() {
    let count = env_u64("RAFT_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
    run(Mode::Fixed, count, 0);
}

/// The operator adds, promotes, demotes and removes members (the leader too) all along.
#[test]
fn membership_seeds() {
    let count = env_u64("RAFT_SIM_MEMBERSHIP_SEEDS").unwrap_or(DEFAULT_MEMBERSHIP_SEEDS);
    run(Mode::Membership, count, 0);
}

/// The long run, on purpose and in release mode: `RAFT_SIM_SEEDS` seeds (default 10,000) on
/// `RAFT_SIM_THREADS` threads (0 or unset: one per core), membership seeds with
/// `RAFT_SIM_MEMBERSHIP=1`. Prints seeds per second, and the replay command of the first failing
/// seed, if any (seeds are handed out in order and the run stops at a failure, so no lower
/// seed fails).
#[test]
#[ignore = "long: run it on purpose, with --release"]
fn many_seeds() {
    let count = env_u64("RAFT_SIM_SEEDS").unwrap_or(MANY_SEEDS_DEFAULT);
    let threads = env_u64("RAFT_SIM_THREADS").unwrap_or(0) as usize;
    let mode = match env_u64("RAFT_SIM_MEMBERSHIP") {
        Some(1) => Mode::Membership,
        _ => Mode::Fixed,
    };
    run(mode, count, threads);
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
