//! `raftkv bench`: drives a running cluster from many clients and reports throughput and latency.
//!
//! Each client is a thread with its own keep-alive connection to the leader (found once, then
//! followed through redirects), so a request never pays for a redirect hop or a new connection.
//! Progress goes to stderr once a second; the summary goes to stdout (`-w json` for scripts).

mod report;
mod target;
mod worker;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::args::{BenchArgs, BenchOp, WriteOut};
use super::error::CliError;
use report::Summary;
use target::Wire;
use worker::Shared;

/// Runs the benchmark described by `args` against `endpoints`.
pub fn run(
    endpoints: &[String],
    args: &BenchArgs,
    write_out: Option<WriteOut>,
) -> Result<(), CliError> {
    if args.clients == 0 || args.keys == 0 {
        return Err(CliError::Usage(
            "--clients and --keys must be at least 1".into(),
        ));
    }
    let wire = Wire::new(args.target, args.keys, args.value_size, args.consistency);
    let leader = target::discover_leader(args.target, endpoints)?;
    if args.op != BenchOp::Put {
        preload(&wire, &leader, args.clients)?;
    }
    let shared = Shared::default();
    let started = Instant::now();
    let measured = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..args.clients)
            .map(|i| {
                let (wire, leader, shared) = (&wire, leader.as_str(), &shared);
                scope.spawn(move || worker::run(wire, leader, args.op, shared, i as u64 + 1))
            })
            .collect();
        report_progress(&shared, started, args.duration);
        shared.stop.store(true, Ordering::Relaxed);
        workers
            .into_iter()
            .filter_map(|w| w.join().ok())
            .collect::<Vec<_>>()
    });
    let elapsed = started.elapsed();
    let summary = Summary::merge(args, &leader, elapsed, &shared, measured);
    summary.print(write_out.unwrap_or(WriteOut::Simple));
    if summary.ok == 0 {
        return Err(CliError::NoEndpoint {
            attempts: format!(
                "{leader}: no request succeeded ({})",
                summary.last_error.as_deref().unwrap_or("no answer")
            ),
        });
    }
    Ok(())
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
        let span = next.duration_since(started).as_secs_f64() - (second - 1) as f64;
        eprintln!(
            "{:>5.1}s {:>9.0} ops/s  total {ok}  errors {errors}",
            next.duration_since(started).as_secs_f64(),
            (ok - last_ok) as f64 / span.max(1e-3),
        );
        last_ok = ok;
    }
}
