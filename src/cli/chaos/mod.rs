//! `raftkv chaos`: Jepsen's experiment in one command. Clients read, write and compare-and-set a
//! few keys for a set time while a nemesis kills, pauses, partitions and restarts nodes; then the
//! history goes through the project's linearizability checker (`raftkv-lincheck`), the verdict
//! is printed with its counts, and an HTML report is written (`report`).
//!
//! By default it starts a local cluster of its own (`raftkv cluster` on a fresh config with free
//! ports and `test_faults = true`, in a temporary directory) and stops it at the end; with
//! `--config FILE` it works on the `raftkv cluster --config FILE` already running (partitions
//! need `test_faults = true` in that file; without it they are left out).

mod cluster;
mod history;
mod nemesis;
mod report;
mod workload;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use raftkv_lincheck::{Budget, KvModel, Verdict};

use super::args::ChaosArgs;
use super::error::CliError;
use cluster::ChaosCluster;
use history::Recorder;

/// How long the checker may search before it gives up with "unknown".
const CHECK_TIME: Duration = Duration::from_secs(60);
/// Steps per key the checker may take.
const CHECK_STEPS: u64 = 20_000_000;

/// Exit code when the history is not linearizable.
pub const EXIT_VIOLATION: i32 = 1;
/// Exit code when the checker could not decide in its budget.
pub const EXIT_UNDECIDED: i32 = 4;

/// Runs `raftkv chaos`; returns the exit code.
pub fn run(args: &ChaosArgs, config: Option<&std::path::Path>) -> Result<i32, CliError> {
    let seed = args.seed.unwrap_or_else(rand::random);
    let cluster = match config {
        Some(path) => ChaosCluster::attach(path)?,
        None => ChaosCluster::start(args.nodes)?,
    };
    eprintln!(
        "chaos: {} nodes, {} clients on {} keys for {:?}, seed {seed} (replay the nemesis' and \
         clients' choices with --seed {seed})",
        cluster.ids().len(),
        args.clients,
        args.keys,
        args.duration
    );
    let leader = cluster.wait_for_leader(Duration::from_secs(30))?;
    eprintln!("chaos: leader is node {leader}; starting the clients and the nemesis");

    let started = Instant::now();
    let recorder = Recorder::new(started);
    let stop = Arc::new(AtomicBool::new(false));
    let monitor = cluster.spawn_monitor(recorder.clone(), Arc::clone(&stop));
    let clients = workload::spawn(
        &cluster.http_addrs(),
        args,
        seed,
        recorder.clone(),
        Arc::clone(&stop),
    );
    let nemesis = nemesis::spawn(cluster.clone(), seed, recorder.clone(), Arc::clone(&stop));

    let deadline = started + args.duration;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1).min(deadline - Instant::now()));
        eprintln!("chaos: {}", recorder.progress_line());
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let _ = client.join();
    }
    let _ = nemesis.join();
    nemesis::heal_all(&cluster, &recorder);
    let healed = cluster.wait_for_leader(Duration::from_secs(30));
    let _ = monitor.join();
    let ran = started.elapsed();

    let ops = recorder.ops();
    let history = history::checker_history(&ops);
    eprintln!(
        "chaos: checking {} operations ({} with an unknown outcome) for linearizability",
        history.len(),
        history.iter().filter(|op| op.is_unknown()).count()
    );
    let checked = Instant::now();
    let budget = Budget::steps(CHECK_STEPS).with_duration(CHECK_TIME);
    let verdict = raftkv_lincheck::check::<KvModel<String, String>>(&history, budget)
        .map_err(|e| CliError::Local(format!("the recorded history is malformed: {e}")))?;
    let check_took = checked.elapsed();

    let counts = history::Counts::of(&ops);
    let report = report::Report {
        seed,
        duration: ran,
        nodes: cluster.ids(),
        counts,
        verdict: &verdict,
        check_took,
        ops: &ops,
        history_index: &history::index_of_checked(&ops),
        events: &recorder.events(),
    };
    std::fs::write(&args.report, report.html()).map_err(|e| {
        CliError::Local(format!(
            "cannot write the report {}: {e}",
            args.report.display()
        ))
    })?;
    let (word, code) = match &verdict {
        Verdict::Ok => ("linearizable", 0),
        Verdict::Illegal(_) => ("NOT linearizable", EXIT_VIOLATION),
        Verdict::Unknown(_) => ("unknown (the checker's budget ran out)", EXIT_UNDECIDED),
    };
    println!(
        "verdict: {word}\noperations: {} ok, {} failed, {} indeterminate ({} reads, {} writes, {} \
         compare-and-sets)\nfaults: {}\nleader changes seen: {}\nchecked in {:.1?}; report: {}",
        counts.ok,
        counts.failed,
        counts.unknown,
        counts.reads,
        counts.writes,
        counts.cas,
        recorder.fault_summary(),
        recorder.leader_changes(),
        check_took,
        args.report.display()
    );
    if let Verdict::Illegal(violation) = &verdict {
        println!("{violation}");
    }
    if let Err(e) = healed {
        eprintln!("chaos: after healing: {e}");
    }
    cluster.finish(code == 0);
    Ok(code)
}
