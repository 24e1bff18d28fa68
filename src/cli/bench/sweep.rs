//! `raftkv bench sweep`: the bench run once per point of a grid — client counts × value sizes ×
//! operations — with one CSV row per point and an SVG of the curves; `raftkv bench plot` draws
//! the SVG again from CSVs (merging several, e.g. one per cluster size).
//!
//! Points run one after another, each with its own clients and connections, all closed before the
//! next starts; between points the sweep pauses and finds the leader again. The CSV is written
//! row by row and the SVG redrawn from it after every point, so an interrupted sweep leaves
//! usable files, and the SVG always shows exactly what the CSV holds.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::limits;
use super::plot;
use super::results::{self, CsvWriter, Row};
use super::target::{self, Wire};
use super::{measure, preload, Progress, Workload};
use crate::cli::args::{BenchOp, PlotArgs, SweepArgs, WriteOut};
use crate::cli::error::CliError;
use crate::cli::output::{self, Table};

/// Threads that write the keys before the first get point of each value size.
const PRELOAD_THREADS: usize = 16;
/// Points one sweep may have: a bound on its run time (at the default 5 s, under an hour).
const POINTS_MAX: usize = 600;

/// The grid, checked: every list non-empty, client counts ascending and unique.
#[derive(Debug)]
struct Grid {
    clients: Vec<usize>,
    value_sizes: Vec<usize>,
    ops: Vec<BenchOp>,
}

impl Grid {
    fn new(args: &SweepArgs) -> Result<Grid, CliError> {
        let mut clients = args.clients.clone();
        clients.sort_unstable();
        clients.dedup();
        let mut value_sizes = args.value_size.clone();
        value_sizes.dedup();
        let mut ops = args.op.clone();
        ops.dedup();
        if clients.is_empty() || value_sizes.is_empty() || ops.is_empty() {
            return Err(CliError::Usage(
                "a sweep needs at least one client count, value size and op".into(),
            ));
        }
        if clients[0] == 0 || args.load.keys == 0 {
            return Err(CliError::Usage(
                "--clients and --keys must be at least 1".into(),
            ));
        }
        let grid = Grid {
            clients,
            value_sizes,
            ops,
        };
        if grid.points() > POINTS_MAX {
            return Err(CliError::Usage(format!(
                "{} points; a sweep has at most {POINTS_MAX}",
                grid.points()
            )));
        }
        Ok(grid)
    }

    fn points(&self) -> usize {
        self.clients.len() * self.value_sizes.len() * self.ops.len()
    }

    /// How long the points take at least (runs and pauses; preloading comes on top).
    fn planned(&self, args: &SweepArgs) -> Duration {
        (args.duration + args.pause) * self.points() as u32
    }

    /// The largest client count: the most connections any point opens.
    fn clients_max(&self) -> usize {
        self.clients.last().copied().unwrap_or(1)
    }
}

/// Runs the sweep `args` describes against `endpoints`.
pub fn run(
    endpoints: &[String],
    args: &SweepArgs,
    write_out: Option<WriteOut>,
) -> Result<(), CliError> {
    let grid = Grid::new(args)?;
    limits::check_clients(grid.clients_max())?;
    let svg_path = svg_path(args);
    let mut leader = target::discover_leader(args.load.target, endpoints)?;
    let cluster_size = args
        .cluster_size
        .or_else(|| target::cluster_size(args.load.target, &leader));
    eprintln!(
        "sweep: {} points of {:.1}s with {:.1}s pauses: about {:.0}s, plus preloading",
        grid.points(),
        args.duration.as_secs_f64(),
        args.pause.as_secs_f64(),
        grid.planned(args).as_secs_f64(),
    );
    let mut csv = CsvWriter::create(&args.csv)?;
    let started = Instant::now();
    let mut done = 0;
    for &value_size in &grid.value_sizes {
        let wire = Wire::new(
            args.load.target,
            args.load.keys,
            value_size,
            args.load.consistency,
        );
        let mut preloaded = false;
        for &op in &grid.ops {
            if op != BenchOp::Put && !preloaded {
                preload(&wire, &leader, PRELOAD_THREADS)?;
                preloaded = true;
            }
            for &clients in &grid.clients {
                if done > 0 {
                    std::thread::sleep(args.pause);
                    leader = target::discover_leader(args.load.target, endpoints)?;
                }
                let workload = Workload {
                    target: args.load.target,
                    op,
                    clients,
                    value_size,
                    keys: args.load.keys,
                    consistency: args.load.consistency,
                    duration: args.duration,
                };
                let summary = measure(&wire, &leader, &workload, Progress::Quiet);
                done += 1;
                let row = Row::new(&summary, cluster_size);
                csv.append(&row, &args.csv)?;
                redraw(&args.csv, &svg_path)?;
                eprintln!(
                    "sweep: [{done}/{}] {} {} {}-byte values, {clients} clients: {:.0} ops/s, \
                     p99 {:.2} ms, {} errors, {} retries",
                    grid.points(),
                    row.target,
                    row.op,
                    value_size,
                    row.throughput_ops,
                    row.p99_ms,
                    row.errors,
                    row.retries,
                );
                if write_out == Some(WriteOut::Json) {
                    let mut json = summary.json();
                    json["cluster_size"] = serde_json::json!(cluster_size);
                    output::emit(format!("{json}\n").as_bytes());
                }
                if summary.ok == 0 {
                    return Err(CliError::NoEndpoint {
                        attempts: format!(
                            "sweep stopped at point {done}: {}",
                            summary.why_none_succeeded()
                        ),
                    });
                }
            }
        }
    }
    eprintln!(
        "sweep: {done} points in {:.0}s; wrote {} and {}",
        started.elapsed().as_secs_f64(),
        args.csv.display(),
        svg_path.display()
    );
    if write_out != Some(WriteOut::Json) {
        print_table(
            &results::read(&args.csv)?,
            write_out.unwrap_or(WriteOut::Table),
        );
    }
    Ok(())
}

/// `raftkv bench plot`: reads every CSV, optionally writes them as one, and draws the SVG.
pub fn plot(args: &PlotArgs) -> Result<(), CliError> {
    let mut rows = Vec::new();
    for input in &args.inputs {
        rows.extend(results::read(input)?);
    }
    if let Some(merged) = &args.csv {
        results::write(merged, &rows)?;
    }
    write_svg(&args.svg, &rows)?;
    eprintln!(
        "plot: {} rows from {} file(s); wrote {}",
        rows.len(),
        args.inputs.len(),
        args.svg.display()
    );
    Ok(())
}

/// Where the SVG goes: `--svg`, else beside the CSV.
fn svg_path(args: &SweepArgs) -> PathBuf {
    args.svg
        .clone()
        .unwrap_or_else(|| args.csv.with_extension("svg"))
}

/// Draws the SVG of everything the CSV holds so far.
fn redraw(csv: &Path, svg: &Path) -> Result<(), CliError> {
    write_svg(svg, &results::read(csv)?)
}

fn write_svg(path: &Path, rows: &[Row]) -> Result<(), CliError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| results::file_error(dir, &e))?;
    }
    std::fs::write(path, plot::render(rows)).map_err(|e| results::file_error(path, &e))
}

/// The sweep's rows as a table on stdout.
fn print_table(rows: &[Row], format: WriteOut) {
    let mut table = Table::new(&[
        "TARGET", "NODES", "OP", "CLIENTS", "VALUE", "OPS/S", "P50 MS", "P99 MS", "P99.9 MS",
        "ERRORS", "RETRIES",
    ]);
    for r in rows {
        table.row(vec![
            r.target.clone(),
            r.cluster_size.map(|n| n.to_string()).unwrap_or("?".into()),
            r.op.clone(),
            r.clients.to_string(),
            r.value_size.to_string(),
            format!("{:.0}", r.throughput_ops),
            format!("{:.2}", r.p50_ms),
            format!("{:.2}", r.p99_ms),
            format!("{:.2}", r.p999_ms),
            r.errors.to_string(),
            r.retries.to_string(),
        ]);
    }
    output::print(format, &table, &serde_json::Value::Null);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{BenchAction, Cli, Cmd};
    use clap::Parser;

    fn sweep_args(argv: &[&str]) -> SweepArgs {
        let mut full = vec!["raftkv", "bench", "sweep"];
        full.extend_from_slice(argv);
        match Cli::try_parse_from(full).expect("parses").command {
            Cmd::Bench(bench) => match bench.action {
                Some(BenchAction::Sweep(sweep)) => sweep,
                other => panic!("not a sweep: {other:?}"),
            },
            other => panic!("not bench: {other:?}"),
        }
    }

    #[test]
    fn the_default_grid_is_six_client_counts_one_value_size_and_two_ops() {
        let args = sweep_args(&[]);
        let grid = Grid::new(&args).expect("valid");
        assert_eq!(grid.clients, vec![1, 4, 16, 64, 256, 1024]);
        assert_eq!(grid.value_sizes, vec![256]);
        assert_eq!(grid.ops, vec![BenchOp::Put, BenchOp::Get]);
        assert_eq!(args.duration, Duration::from_secs(5));
        assert_eq!(grid.planned(&args), Duration::from_secs(72));
        assert_eq!(svg_path(&args), PathBuf::from("sweep.svg"));
    }

    #[test]
    fn lists_are_comma_separated_and_client_counts_sorted() {
        let args = sweep_args(&[
            "--clients",
            "16,1,4,4",
            "--value-size",
            "64,65536",
            "--op",
            "get",
            "--duration",
            "300ms",
            "--csv",
            "out/a.csv",
        ]);
        let grid = Grid::new(&args).expect("valid");
        assert_eq!(grid.clients, vec![1, 4, 16]);
        assert_eq!(grid.value_sizes, vec![64, 65536]);
        assert_eq!(grid.ops, vec![BenchOp::Get]);
        assert_eq!(svg_path(&args), PathBuf::from("out/a.svg"));
    }

    #[test]
    fn an_empty_or_zero_grid_is_a_usage_error() {
        let zero = sweep_args(&["--clients", "0,4"]);
        assert!(matches!(Grid::new(&zero), Err(CliError::Usage(_))));
    }

    #[test]
    fn plain_bench_keeps_its_flags_and_a_subcommand_refuses_them() {
        let plain = Cli::try_parse_from(["raftkv", "bench", "--clients", "8", "--op", "get"])
            .expect("plain bench parses");
        match plain.command {
            Cmd::Bench(b) => {
                assert!(b.action.is_none());
                assert_eq!((b.clients, b.op), (8, BenchOp::Get));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["raftkv", "bench", "--clients", "8", "sweep"]).is_err());
        let plot = Cli::try_parse_from(["raftkv", "bench", "plot", "a.csv", "b.csv", "--svg", "c"])
            .expect("plot parses");
        assert!(matches!(
            plot.command,
            Cmd::Bench(b) if matches!(&b.action, Some(BenchAction::Plot(p)) if p.inputs.len() == 2)
        ));
    }
}
