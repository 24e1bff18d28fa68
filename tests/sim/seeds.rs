//! The seeded runs: many random seeds in `cargo test`, and the replay of one seed.

use super::harness::{env_bug, env_u64, run_seed, run_seeds, DEFAULT_STEPS};

/// Seeds run by default: enough variety to find rare interleavings, few enough for a 2-core CI.
const DEFAULT_SEEDS: u64 = 2_000;

#[test]
fn seeds() {
    let count = env_u64("RAFT_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let first = env_u64("RAFT_SIM_FIRST_SEED").unwrap_or(0);
    let steps = env_u64("RAFT_SIM_STEPS").unwrap_or(DEFAULT_STEPS);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = std::time::Instant::now();
    let (stats, failures) = run_seeds(first, count, steps, threads, env_bug());
    println!(
        "simulated seeds {first}..{} ({steps} steps each) in {:.1} s on {threads} threads\n{stats}",
        first + count,
        started.elapsed().as_secs_f64()
    );
    if let Some(first_failure) = failures.first() {
        panic!("{}", first_failure.report);
    }
}

/// Replays `RAFT_SIM_SEED` for `RAFT_SIM_STEPS` steps (with `RAFT_SIM_BUG` injected, if set);
/// does nothing when no seed is given.
#[test]
fn replay() {
    let Some(seed) = env_u64("RAFT_SIM_SEED") else {
        return;
    };
    let steps = env_u64("RAFT_SIM_STEPS").unwrap_or(DEFAULT_STEPS);
    let outcome = run_seed(seed, steps, |cfg, _| {
        if let Some(bug) = env_bug() {
            bug.inject(cfg);
        }
    });
    println!("seed {seed}: {}", outcome.stats);
    if outcome.result.is_err() {
        panic!("{}", outcome.report);
    }
}
