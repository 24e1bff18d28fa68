//! Reading the whole log back from its segments, and telling a torn tail from real corruption.

use std::fs;
use std::path::Path;

use super::error::StorageError;
use super::record::{BadRecord, Record};
use super::segment::{self, SegmentFile};
use crate::raft::{Entry, HardState, Index, Term};

/// Where a record starts: which segment (its position in the segment list) and at which byte.
/// Ordered as the records are in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    pub segment: usize,
    pub offset: u64,
}

/// Where an entry's record is, and the entry's term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub at: Position,
    pub term: Term,
}

/// Damage in the last segment that no later record proves durable: a write a crash cut short or
/// left with holes (its pages may reach the disk in any order before the fsync).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TornTail {
    pub offset: u64,
    pub dropped_bytes: u64,
    pub reason: BadRecord,
    /// Valid records after the damage, dropped with it: they belong to the same unsynced writes.
    pub intact_records: usize,
}

/// The log as found on disk.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    pub segments: Vec<SegmentFile>,
    pub prev_index: Index,
    pub prev_term: Term,
    pub entries: Vec<Entry>,
    /// `slots[i]` locates `entries[i]`.
    pub slots: Vec<Slot>,
    pub hard_state: HardState,
    /// The position of the latest hard-state record, if there is one.
    pub hard_state_at: Option<Position>,
    /// Set when the last segment ends in a torn record; `segments.last().len_bytes` already
    /// excludes it, but the file itself is untouched.
    pub torn_tail: Option<TornTail>,
}

/// Reads every segment of `dir` and checks that the log is whole: entries contiguous across
/// segments, terms never decreasing, every record valid except possibly a torn tail.
pub(crate) fn scan_dir(dir: &Path, body_bytes_max: u64) -> Result<Scanned, StorageError> {
    let segments = segment::list(dir)?;
    let mut scanned = Scanned::default();
    if let Some(first) = segments.first() {
        // Until compaction records the prefix's term, a log can only start at index 1: a later
        // start means segments went missing.
        if first.first_index != 1 {
            return Err(StorageError::corrupt(
                &first.path,
                0,
                format!(
                    "the log starts at index {} but no earlier segment exists",
                    first.first_index
                ),
            ));
        }
        scanned.prev_index = first.first_index - 1;
    }
    let last_slot = segments.len().saturating_sub(1);
    for (slot, mut segment) in segments.into_iter().enumerate() {
        scan_segment(
            &mut scanned,
            slot,
            &mut segment,
            slot == last_slot,
            body_bytes_max,
        )?;
        scanned.segments.push(segment);
    }
    Ok(scanned)
}

fn scan_segment(
    scanned: &mut Scanned,
    slot: usize,
    segment: &mut SegmentFile,
    is_last: bool,
    body_bytes_max: u64,
) -> Result<(), StorageError> {
    let path = segment.path.clone();
    let next_index = scanned.prev_index + scanned.entries.len() as Index + 1;
    if segment.first_index != next_index {
        return Err(StorageError::corrupt(
            &path,
            0,
            format!(
                "segment starts at index {} but the log continues at index {next_index}",
                segment.first_index
            ),
        ));
    }
    let bytes = fs::read(&path).map_err(StorageError::io("read the segment", &path))?;
    let bad = segment::scan(&bytes, body_bytes_max, |offset, record| {
        let at = Position {
            segment: slot,
            offset,
        };
        accept(scanned, &path, at, record)
    })?;
    segment.len_bytes = bytes.len() as u64;
    segment.alloc_bytes = bytes.len() as u64;
    let Some((offset, reason)) = bad else {
        return Ok(());
    };
    if is_last && bytes[offset as usize..].iter().all(|&b| b == 0) {
        // Zeros written ahead of the log: the log ends here. (A write lost in that space reads
        // as zeros too; nothing after it was written once it was durable, or it would show.)
        segment.len_bytes = offset;
        return Ok(());
    }
    if !is_last {
        return Err(StorageError::corrupt(
            &path,
            offset,
            format!("{reason} in a segment that is not the last one"),
        ));
    }
    // Crucial: damage is a torn write only if every record after it was written while the
    // damaged bytes were not yet durable. A record written later proves they had been synced
    // (and acknowledged), so cutting them off would lose acknowledged data.
    let later = segment::valid_records_after(&bytes, offset, body_bytes_max);
    if let Some(&(valid, durable)) = later.iter().find(|&&(_, durable)| durable > offset) {
        return Err(StorageError::corrupt(
            &path,
            offset,
            format!(
                "{reason}, but the valid record at byte offset {valid} was written after the \
                 first {durable} bytes were durable"
            ),
        ));
    }
    segment.len_bytes = offset;
    // What the file will be once the store cuts the tail off.
    segment.alloc_bytes = offset;
    scanned.torn_tail = Some(TornTail {
        offset,
        dropped_bytes: bytes.len() as u64 - offset,
        reason,
        intact_records: later.len(),
    });
    Ok(())
}

/// Adds one valid record to the scanned log, checking that it continues the log.
fn accept(
    scanned: &mut Scanned,
    path: &Path,
    at: Position,
    record: Record,
) -> Result<(), StorageError> {
    match record {
        Record::Entry(entry) => {
            let expected = scanned.prev_index + scanned.entries.len() as Index + 1;
            if entry.index != expected {
                return Err(StorageError::corrupt(
                    path,
                    at.offset,
                    format!(
                        "entry index {} where index {expected} was expected",
                        entry.index
                    ),
                ));
            }
            let last_term = scanned.slots.last().map_or(scanned.prev_term, |s| s.term);
            if entry.term < last_term {
                return Err(StorageError::corrupt(
                    path,
                    at.offset,
                    format!(
                        "entry {} has term {} after term {last_term}",
                        entry.index, entry.term
                    ),
                ));
            }
            scanned.slots.push(Slot {
                at,
                term: entry.term,
            });
            scanned.entries.push(entry);
        }
        Record::HardState(hard_state) => {
            scanned.hard_state = hard_state;
            scanned.hard_state_at = Some(at);
        }
        Record::TruncateIntent { .. } => {
            return Err(StorageError::corrupt(
                path,
                at.offset,
                "truncate intent inside a segment",
            ));
        }
    }
    Ok(())
}
