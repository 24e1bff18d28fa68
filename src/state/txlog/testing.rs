//! Helpers for the unit tests of this module: lines without a state machine.

use std::io::Write;
use std::ops::RangeInclusive;
use std::path::Path;

use super::TxLog;
use crate::raft::{Index, Term};
use crate::state::command::Operation;
use crate::state::machine::Applied;
use crate::state::result::ApplyResult;

/// Pushes a no-op line for each index, then flushes.
pub(super) fn push_noops<W: Write>(log: &mut TxLog<W>, indexes: RangeInclusive<Index>, term: Term) {
    let applied = Applied {
        result: ApplyResult::Noop,
        replayed: false,
    };
    for index in indexes {
        log.push(index, term, &Operation::Noop, &applied);
    }
    log.flush().expect("flush");
}

/// The text `push_noops` writes for one index.
pub(super) fn noop_line(index: Index, term: Term) -> String {
    format!("{index:012} t{term} noop -> ok\n")
}

/// The no-op lines of `indexes`.
pub(super) fn noop_lines(indexes: RangeInclusive<Index>, term: Term) -> String {
    indexes.map(|index| noop_line(index, term)).collect()
}

/// A file's whole text.
pub(super) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("readable")
}

/// The names of the files in `dir`, sorted.
pub(super) fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
