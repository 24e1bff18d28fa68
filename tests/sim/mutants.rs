//! The mutation suite: every mutant of `harness::MUTANTS` must be caught by an invariant (not by
//! the liveness bound) within `MAX_SEEDS` seeds. Each mutant stops at its first violation; the
//! table it prints has the seed, the step, the invariant and the command that replays it.
//!
//! ```text
//! cargo test --test sim mutants -- --nocapture
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::harness::{catches, env_u64, run_mode_seed, Kind, Mode, Mutant, MUTANTS};

/// Seeds tried per mutant at most (`RAFT_SIM_MUTANT_SEEDS` lowers it). A mutant that needs more
/// calls for a stronger invariant or a better-aimed fault schedule, not a higher cap.
const MAX_SEEDS: u64 = 200;

/// Safety-phase steps of each seed.
const STEPS: u64 = 4_000;

/// How one mutant fared.
struct Row {
    mutant: Mutant,
    /// The seed that caught it, the step, the invariant and its message.
    caught: Option<(u64, u64, Kind, String)>,
    /// Seeds that ended in a violation that does not count (liveness, panic).
    other: Vec<(u64, Kind)>,
}

fn try_mutant(mutant: Mutant, seeds: u64) -> Row {
    let mut other = Vec::new();
    for seed in 0..seeds {
        let outcome = run_mode_seed(mutant.mode, seed, STEPS, |cfg, chaos| {
            mutant.apply(cfg, chaos);
        });
        if let Err(v) = outcome.result {
            if catches(v.kind()) {
                let caught = Some((seed, outcome.stats.steps, v.kind(), v.to_string()));
                return Row {
                    mutant,
                    caught,
                    other,
                };
            }
            other.push((seed, v.kind()));
        }
    }
    Row {
        mutant,
        caught: None,
        other,
    }
}

fn replay_command(mutant: &Mutant, seed: u64) -> String {
    let membership = match mutant.mode {
        Mode::Membership => "RAFT_SIM_MEMBERSHIP=1 ",
        Mode::Fixed => "",
    };
    format!(
        "RAFT_SIM_MUTANT={} {membership}RAFT_SIM_SEED={seed} RAFT_SIM_STEPS={STEPS} cargo test \
         --test sim replay -- --nocapture",
        mutant.name
    )
}

#[test]
fn mutants() {
    let seeds = env_u64("RAFT_SIM_MUTANT_SEEDS")
        .unwrap_or(MAX_SEEDS)
        .min(MAX_SEEDS);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = std::time::Instant::now();
    let next = AtomicUsize::new(0);
    let rows = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&mutant) = MUTANTS.get(i) else {
                    return;
                };
                let row = try_mutant(mutant, seeds);
                rows.lock()
                    .expect("no thread panics holding it")
                    .push((i, row));
            });
        }
    });
    let mut rows = rows.into_inner().expect("threads are done");
    rows.sort_by_key(|(i, _)| *i);
    println!(
        "{} mutants, at most {seeds} seeds of {STEPS} steps each, in {:.1} s\n",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    println!("| mutant | seeds run | step | invariant | replay |");
    println!("|---|---|---|---|---|");
    let mut escaped = Vec::new();
    for (_, row) in &rows {
        let name = row.mutant.name;
        match &row.caught {
            Some((seed, step, kind, _)) => println!(
                "| {name} | {} | {step} | {kind:?} | `{}` |",
                seed + 1,
                replay_command(&row.mutant, *seed)
            ),
            None => {
                println!("| {name} | {seeds} | - | ESCAPED | - |");
                escaped.push(name);
            }
        }
    }
    println!();
    for (_, row) in &rows {
        if let Some((seed, _, _, message)) = &row.caught {
            println!("{} (seed {seed}): {message}", row.mutant.name);
        }
        if !row.other.is_empty() {
            println!("  {}: not counted: {:?}", row.mutant.name, row.other);
        }
    }
    assert!(
        escaped.is_empty(),
        "mutants no invariant caught within {seeds} seeds: {escaped:?}"
    );
}
