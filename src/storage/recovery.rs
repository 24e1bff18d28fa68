//! Reading the whole log back from its segments, and telling a torn tail from real corruption.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::StorageError;
use super::header::{FileHeader, HeaderCheck, FILE_HEADER_BYTES};
use super::record::{BadRecord, Record};
use super::segment::{self, SegmentFile};
use super::{prefix, proof};
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

/// Damage in the last segment that nothing proves durable: a write a crash cut short or left
/// with holes (its pages may reach the disk in any order before the fsync).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TornTail {
    pub offset: u64,
    pub dropped_bytes: u64,
    pub reason: BadRecord,
    /// Valid batch ends after the damage, dropped with it: none proves the damage durable.
    pub batch_ends: usize,
}

/// The log as found on disk.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    pub segments: Vec<SegmentFile>,
    pub prev_index: Index,
    pub prev_term: Term,
    /// The entries after `prev_index`.
    pub entries: Vec<Entry>,
    /// `slots[i]` locates `entries[i]`.
    pub slots: Vec<Slot>,
    pub hard_state: HardState,
    /// The position of the latest hard-state record, if there is one.
    pub hard_state_at: Option<Position>,
    /// Set when the last segment ends in a torn record; `segments.last().len_bytes` already
    /// excludes it, but the file itself is untouched.
    pub torn_tail: Option<TornTail>,
    /// A last segment whose creation a crash interrupted: no complete header and nothing after it.
    /// It is not in `segments`; the file is untouched.
    pub torn_segment: Option<PathBuf>,
}

/// Reads the prefix and every segment of `dir` and checks that the log is whole: entries
/// contiguous after the prefix, terms never decreasing, every record valid except possibly a torn
/// tail.
pub(crate) fn scan_dir(dir: &Path, body_bytes_max: u64) -> Result<Scanned, StorageError> {
    let (prev_index, prev_term) = prefix::read(dir)?.unwrap_or((0, 0));
    let segments = segment::list(dir)?;
    let scanned = Scanned {
        prev_index,
        prev_term,
        ..Scanned::default()
    };
    let Some(first) = segments.first() else {
        return Ok(scanned);
    };
    // Later starts mean that segments went missing.
    if first.first_index > prev_index + 1 {
        let what = if prev_index == 0 {
            "no earlier segment exists".to_string()
        } else {
            format!("the compacted prefix ends at index {prev_index}")
        };
        return Err(StorageError::corrupt(
            &first.path,
            0,
            format!("the log starts at index {} but {what}", first.first_index),
        ));
    }
    let mut reader = Reader {
        scanned,
        last_read: first.first_index - 1,
        body_bytes_max,
    };
    let count = segments.len();
    for (slot, mut segment) in segments.into_iter().enumerate() {
        let is_last = slot + 1 == count;
        if reader.read_segment(slot, &mut segment, is_last)? {
            reader.scanned.segments.push(segment);
        } else {
            reader.scanned.torn_segment = Some(segment.path);
        }
    }
    Ok(reader.scanned)
}

/// The scan in progress.
struct Reader {
    scanned: Scanned,
    /// The index of the last entry read, at or below the prefix included (the first segment's
    /// first index minus one before any).
    last_read: Index,
    body_bytes_max: u64,
}

impl Reader {
    /// Whether `index` may follow `last_read`: next in line, or past a gap that lies wholly
    /// inside the compacted prefix (compaction deletes segments, and a log discarded for a
    /// snapshot continues after it).
    fn may_come_next(&self, index: Index) -> bool {
        index == self.last_read + 1
            || (index > self.last_read + 1 && index <= self.scanned.prev_index + 1)
    }

    /// Reads one segment into the scan. Returns false for a last segment whose creation a crash
    /// interrupted (see [`Scanned::torn_segment`]).
    fn read_segment(
        &mut self,
        slot: usize,
        segment: &mut SegmentFile,
        is_last: bool,
    ) -> Result<bool, StorageError> {
        let path = segment.path.clone();
        if !self.may_come_next(segment.first_index) {
            return Err(StorageError::corrupt(
                &path,
                0,
                format!(
                    "segment starts at index {} but the log continues at index {}",
                    segment.first_index,
                    self.last_read + 1
                ),
            ));
        }
        self.last_read = segment.first_index - 1;
        let bytes = fs::read(&path).map_err(StorageError::io("read the segment", &path))?;
        segment.len_bytes = bytes.len() as u64;
        segment.alloc_bytes = bytes.len() as u64;
        match FileHeader::check(&bytes) {
            HeaderCheck::Valid(header) if header.first_index == segment.first_index => {
                segment.salt = header.salt;
            }
            HeaderCheck::Valid(header) => {
                return Err(StorageError::corrupt(
                    &path,
                    0,
                    format!(
                        "the header says the segment starts at index {}, its name says {}",
                        header.first_index, segment.first_index
                    ),
                ))
            }
            HeaderCheck::Torn
                if is_last
                    && (bytes.len() < FILE_HEADER_BYTES || bytes.iter().all(|&b| b == 0)) =>
            {
                return Ok(false);
            }
            HeaderCheck::Torn => {
                return Err(StorageError::corrupt(&path, 0, "incomplete segment header"));
            }
            HeaderCheck::Unsupported(reason) => {
                return Err(StorageError::UnsupportedFormat { path, reason });
            }
            HeaderCheck::Damaged(reason) => return Err(StorageError::corrupt(&path, 0, reason)),
        }
        let bad = segment::scan(
            &bytes,
            segment.salt,
            self.body_bytes_max,
            |offset, record| {
                let at = Position {
                    segment: slot,
                    offset,
                };
                self.accept(&path, at, record)
            },
        )?;
        let Some((offset, reason)) = bad else {
            return Ok(true);
        };
        if is_last && bytes[offset as usize..].iter().all(|&b| b == 0) {
            // Zeros written ahead of the log: the log ends here. (A write lost in that space
            // reads as zeros too; nothing after it was written once it was durable, or it would
            // show.)
            segment.len_bytes = offset;
            return Ok(true);
        }
        if !is_last {
            return Err(StorageError::corrupt(
                &path,
                offset,
                format!("{reason} in a segment that is not the last one"),
            ));
        }
        // Crucial: the damage is a torn write only if nothing proves it was durable. A complete
        // batch written after it was synced (and maybe acknowledged) is such proof, and cutting
        // it off would lose acknowledged data.
        let search = proof::search_after_damage(&bytes, offset, segment.salt, self.body_bytes_max);
        if let Some(proof) = search.proof {
            return Err(StorageError::corrupt(
                &path,
                offset,
                format!(
                    "{reason}, but the complete batch at byte offset {} was written after the \
                     first {} bytes were durable",
                    proof.start, proof.durable
                ),
            ));
        }
        segment.len_bytes = offset;
        // What the file will be once the store cuts the tail off.
        segment.alloc_bytes = offset;
        self.scanned.torn_tail = Some(TornTail {
            offset,
            dropped_bytes: bytes.len() as u64 - offset,
            reason,
            batch_ends: search.batch_ends,
        });
        Ok(true)
    }

    /// Adds one valid record to the scanned log, checking that it continues the log.
    fn accept(&mut self, path: &Path, at: Position, record: Record) -> Result<(), StorageError> {
        match record {
            Record::Entry(entry) => {
                if !self.may_come_next(entry.index) {
                    return Err(StorageError::corrupt(
                        path,
                        at.offset,
                        format!(
                            "entry index {} where index {} was expected",
                            entry.index,
                            self.last_read + 1
                        ),
                    ));
                }
                self.last_read = entry.index;
                let scanned = &mut self.scanned;
                if entry.index < scanned.prev_index {
                    // Covered by the snapshot: compaction leaves such entries until it can
                    // delete their segment.
                    return Ok(());
                }
                if entry.index == scanned.prev_index {
                    if entry.term != scanned.prev_term {
                        return Err(StorageError::corrupt(
                            path,
                            at.offset,
                            format!(
                                "entry {} has term {} but the compacted prefix ends with term {}",
                                entry.index, entry.term, scanned.prev_term
                            ),
                        ));
                    }
                    return Ok(());
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
                self.scanned.hard_state = hard_state;
                self.scanned.hard_state_at = Some(at);
            }
            Record::BatchEnd { start, .. } => {
                if start < FILE_HEADER_BYTES as u64 || start > at.offset {
                    return Err(StorageError::corrupt(
                        path,
                        at.offset,
                        format!("batch end whose batch starts at byte offset {start}"),
                    ));
                }
            }
            Record::TruncateIntent { .. } | Record::Prefix { .. } => {
                return Err(StorageError::corrupt(
                    path,
                    at.offset,
                    format!("{record:?} inside a segment"),
                ));
            }
        }
        Ok(())
    }
}
