//! `raftkv bench`: drives a running cluster from many clients and reports throughput and latency.
//!
//! Each client is a thread with its own keep-alive connection to the leader (found once, then
//! followed through redirects), so a request never pays for a redirect hop or a new connection.
//! Progress goes to stderr once a second; the summary goes to stdout (`-w json` for scripts).
//! `bench sweep` repeats the run over a grid and writes a CSV and an SVG ([`sweep`]); `bench plot`
//! draws the SVG of CSVs written before.

mod backoff;
mod grpc;
mod limits;
mod plot;
mod report;
mod results;
mod scale;
mod sweep;
mod target;
mod worker;

use std::sync::atomic::Ordering;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use super::args::{
    BenchAction, BenchArgs, BenchOp, BenchProtocol, BenchTarget, ReadConsistency, WriteOut,
};
use super::error::CliError;
use report::Summary;
use target::Wire;
use worker::Shared;

/// One run's shape: what `raftkv bench` is given, and what each point of a sweep is.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    pub target: BenchTarget,
    pub op: BenchOp,
    pub clients: usize,
    pub value_size: usize,
    pub keys: u64,
    pub consistency: ReadConsistency,
    pub duration: Duration,
}

/// Runs `raftkv bench` as `args` says (one run, a sweep, or a plot) against `endpoints`.
pub fn run(
    endpoints: &[String],
    args: &BenchArgs,
    write_out: Option<WriteOut>,
) -> Result<(), CliError> {
    match &args.action {
        Some(BenchAction::Sweep(sweep)) => sweep::run(endpoints, sweep, write_out),
        Some(BenchAction::Plot(plot)) => sweep::plot(plot),
        None => run_once(endpoints, args, write_out),
    }
}

/// The plain `raftkv bench`: one run, its summary on stdout.
fn run_once(
    endpoints: &[String],
    args: &BenchArgs,
    write_out: Option<WriteOut>,
) -> Result<(), CliError> {
    if args.clients == 0 || args.load.keys == 0 {
        return Err(CliError::Usage(
            "--clients and --keys must be at least 1".into(),
        ));
    }
    limits::check_clients(args.clients)?;
    let workload = Workload {
        target: args.load.target,
        op: args.op,
        clients: args.clients,
        value_size: args.value_size,
        keys: args.load.keys,
        consistency: args.load.consistency,
        duration: args.duration,
    };
    if args.protocol == BenchProtocol::Grpc {
        let summary = grpc::measure(endpoints, &workload, Progress::EverySecond)?;
        summary.print(write_out.unwrap_or(WriteOut::Simple));
        if summary.ok == 0 {
            return Err(CliError::NoEndpoint {
                attempts: summary.why_none_succeeded(),
            });
        }
        return Ok(());
    }
    let wire = Wire::new(
        args.load.target,
        args.load.keys,
        args.value_size,
        args.load.consistency,
    );
    let leader = target::discover_leader(args.load.target, endpoints)?;
    if args.op != BenchOp::Put {
        preload(&wire, &leader, args.clients)?;
    }
    let summary = measure(&wire, &leader, &workload, Progress::EverySecond);
    summary.print(write_out.unwrap_or(WriteOut::Simple));
    if summary.ok == 0 {
        return Err(CliError::NoEndpoint {
            attempts: summary.why_none_succeeded(),
        });
    }
    Ok(())
}

/// Whether [`measure`] prints a progress line every second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progress {
    EverySecond,
    Quiet,
}

/// Runs `workload.clients` closed-loop clients against `leader` for `workload.duration`.
///
/// The clock starts once every client's thread exists: with hundreds of busy clients on a few
/// cores, spawning the last ones could otherwise eat much of a short run. Throughput counts the
/// requests that completed within the window; those in flight when it closes are still awaited
/// and their latencies recorded. Every client's thread, and with it its connection, has ended
/// when this returns: a sweep's points never overlap.
fn measure(wire: &Wire, leader: &str, workload: &Workload, progress: Progress) -> Summary {
    let shared = Shared::default();
    let all_started = Barrier::new(workload.clients + 1);
    let (window, ok_in_window, measured) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..workload.clients)
            .map(|i| {
                let (shared, op, all_started) = (&shared, workload.op, &all_started);
                scope.spawn(move || {
                    all_started.wait();
                    worker::run(wire, leader, op, shared, i as u64 + 1)
                })
            })
            .collect();
        all_started.wait();
        let started = Instant::now();
        match progress {
            Progress::EverySecond => report_progress(&shared, started, workload.duration),
            Progress::Quiet => std::thread::sleep(workload.duration),
        }
        let (window, ok_in_window) = (started.elapsed(), shared.ok.load(Ordering::Relaxed));
        shared.stop.store(true, Ordering::Relaxed);
        let measured = workers
            .into_iter()
            .filter_map(|w| w.join().ok())
            .collect::<Vec<_>>();
        (window, ok_in_window, measured)
    });
    Summary::merge(workload, leader, window, ok_in_window, &shared, measured)
}

/// Writes every key once, split over `clients` threads, so gets find values.
fn preload(wire: &Wire, leader: &str, clients: usize) -> Result<(), CliError> {
    let keys = wire.key_count();
    eprintln!("preloading {keys} keys");
    let per = keys.div_ceil(clients as u64);
    let failures: u64 = std::thread::scope(|scope| {
        let loaders: Vec<_> = (0..keys)
            .step_by(per as usize)
            .map(|start| {
                let range = start..(start + per).min(keys);
                scope.spawn(move || worker::preload(wire, leader, range))
            })
            .collect();
        loaders.into_iter().map(|l| l.join().unwrap_or(per)).sum()
    });
    if failures > 0 {
        return Err(CliError::Local(format!(
            "preloading failed for {failures} of {keys} keys"
        )));
    }
    Ok(())
}

/// Prints one line per second until `duration` has passed.
fn report_progress(shared: &Shared, started: Instant, duration: Duration) {
    let mut last_ok = 0;
    let mut second = 0;
    loop {
        let now = Instant::now();
        let end = started + duration;
        if now >= end {
            return;
        }
        second += 1;
        let next = (started + Duration::from_secs(second)).min(end);
        std::thread::sleep(next.saturating_duration_since(now));
        let ok = shared.ok.load(Ordering::Relaxed);
        let errors = shared.errors.load(Ordering::Relaxed);
        let retries = shared.retries.load(Ordering::Relaxed);
        let span = next.duration_since(started).as_secs_f64() - (second - 1) as f64;
        eprintln!(
            "{:>5.1}s {:>9.0} ops/s  total {ok}  errors {errors}  retries {retries}",
            next.duration_since(started).as_secs_f64(),
            (ok - last_ok) as f64 / span.max(1e-3),
        );
        last_ok = ok;
    }
}
