//! Shared by the state-machine property tests.

use std::io::Write;

use raftkv::raft::Entry;
use raftkv::state::{ApplyResult, StateMachine, TxLog};

/// Applies `entries` to `machine` in batches cut at `cut_points` (those past the end are ignored),
/// as a node does when the commit index jumps by varying amounts; returns every result in order.
pub fn apply_in_batches<W: Write>(
    machine: &mut StateMachine,
    entries: &[Entry],
    cut_points: Vec<usize>,
    txlog: &mut TxLog<W>,
) -> Vec<ApplyResult> {
    let mut cuts: Vec<usize> = cut_points
        .into_iter()
        .filter(|&c| c < entries.len())
        .collect();
    cuts.push(entries.len());
    cuts.sort_unstable();
    let mut results = Vec::with_capacity(entries.len());
    let mut start = 0;
    for end in cuts {
        results.extend(
            machine
                .apply_batch(&entries[start..end], txlog)
                .expect("apply a batch"),
        );
        start = end;
    }
    results
}
