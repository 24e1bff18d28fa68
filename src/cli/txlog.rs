//! `raftkv txlog verify FILE|DIR...`: the transaction log rules checked offline, with the
//! violations printed where a person can find them (file, line, index, both lines).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::args::TxlogAction;
use super::error::CliError;
use crate::state::verify::{self, FileSummary, Finding, LineAt};

/// Violations printed per file; a damaged file could otherwise print millions of lines.
const MAX_SHOWN_PER_FILE: u64 = 20;

/// Exit code when a rule is broken.
const EXIT_VIOLATION: i32 = 1;

/// Runs a `txlog` command; returns the exit code.
pub fn run(action: &TxlogAction) -> Result<i32, CliError> {
    match action {
        TxlogAction::Verify { paths } => run_verify(paths),
    }
}

/// 0 when every rule holds, 1 when one is broken; an unreadable file is `Err` (exit 2).
fn run_verify(paths: &[PathBuf]) -> Result<i32, CliError> {
    let unreadable = |e: verify::Unreadable| CliError::Usage(e.to_string());
    let nodes = verify::collect(paths).map_err(unreadable)?;
    let mut printer = Printer::default();
    let summaries =
        verify::verify(&nodes, &mut |finding| printer.print(&finding)).map_err(unreadable)?;
    if printer.per_file.is_empty() {
        for summary in &summaries {
            println!("{}", summary_line(summary));
        }
        return Ok(0);
    }
    let mut total = 0;
    for (file, count) in &printer.per_file {
        total += count;
        if *count > MAX_SHOWN_PER_FILE {
            let hidden = count - MAX_SHOWN_PER_FILE;
            println!("{file}: {hidden} more violations not shown");
        }
    }
    let files = printer.per_file.len();
    println!("txlog verify: {total} violations in {files} files");
    Ok(EXIT_VIOLATION)
}

/// Prints findings, counting violations per file: `FILE:LINE: index N does not follow …` and
/// the line, or for a difference `FILE:LINE: index N differs from FILE:LINE` and both lines.
#[derive(Default)]
struct Printer {
    /// Violations by the file they are reported against.
    per_file: BTreeMap<String, u64>,
}

impl Printer {
    fn print(&mut self, finding: &Finding) {
        let at = match finding {
            Finding::Rule { at, .. } => at,
            Finding::Differs { other, .. } => other,
            Finding::TornTail { at, bytes } => {
                println!(
                    "{}: note: a torn tail of {bytes} bytes from here to the end (a crash's; \
                     the node cuts it when it opens the file)",
                    place(at)
                );
                return;
            }
        };
        let count = self
            .per_file
            .entry(at.file.display().to_string())
            .or_default();
        *count += 1;
        if *count > MAX_SHOWN_PER_FILE {
            return;
        }
        match finding {
            Finding::Rule { at, index, what } => {
                match index {
                    Some(index) => println!("{}: index {index} {what}", place(at)),
                    None => println!("{}: {what}", place(at)),
                }
                if !at.text.is_empty() {
                    println!("  {}", at.text);
                }
            }
            Finding::Differs {
                index,
                first,
                other,
            } => {
                println!(
                    "{}: index {index} differs from {}",
                    place(other),
                    place(first)
                );
                println!("  {}: {}", place(first), first.text);
                println!("  {}: {}", place(other), other.text);
            }
            Finding::TornTail { .. } => unreachable!("printed above"),
        }
    }
}

/// `FILE:LINE`.
fn place(at: &LineAt) -> String {
    format!("{}:{}", at.file.display(), at.line_number)
}

/// `FILE: indexes 1..=1200, 1200 lines, 0 markers`.
fn summary_line(summary: &FileSummary) -> String {
    let file = summary.file.display();
    let (lines, markers) = (summary.lines, summary.markers);
    match summary.indexes {
        Some((first, last)) => {
            format!("{file}: indexes {first}..={last}, {lines} lines, {markers} markers")
        }
        None => format!("{file}: no lines"),
    }
}
