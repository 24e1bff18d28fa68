//! Compaction: dropping the log's prefix once a durable snapshot covers it.
//!
//! The steps, each durable before the next, and what a crash after each leaves:
//!
//! 1. (Only when the snapshot does not match the log: the entry at `index` has another term or
//!    the log is shorter.) The entries from `index` on are truncated away as a conflicting
//!    suffix is (`truncate.rs`, with its own intent protecting the hard state). A crash leaves
//!    the old prefix and a log shortened by entries that conflict with the snapshot.
//! 2. `log.prefix` is replaced by `(index, term)` (`prefix.rs`): the commit point. Before it
//!    recovery finds the old prefix, after it the new one; segments then still hold entries at
//!    or below the prefix, which recovery skips.
//! 3. Segments holding nothing after the prefix are deleted, the last one excepted (it takes the
//!    next appends). If the latest hard-state record is in one of them, the hard state is first
//!    appended again to the last segment and fsynced. The unlinks are made durable by one
//!    directory fsync; a crash may keep any of them, and recovery allows a gap in the log only
//!    at or below the prefix, so each leftover is deleted at the next open.
//!
//! The rest of the prefix stays in place: entries at or below it in the surviving segments are
//! dropped logically, and the space goes with their segment.

use std::fs;

use super::FileStore;
use crate::raft::{Index, Term};
use crate::storage::error::StorageError;
use crate::storage::prefix;
use crate::storage::segment::sync_dir;

impl FileStore {
    /// [`crate::storage::LogStore::compact`] once earlier writes are durable.
    pub(super) fn compact_to(&mut self, index: Index, term: Term) -> Result<(), StorageError> {
        if index <= self.prev_index {
            return Ok(());
        }
        self.recovered = None;
        // Raft §7: entries following a snapshot that matches the log are kept.
        let keeps_suffix = self.term_at(index) == Some(term);
        if !keeps_suffix && index <= self.last_index() {
            // Crucial: off the disk before the prefix says that the log restarts after `index`,
            // or recovery would read them as the log's continuation.
            self.truncate_from(index)?;
        }
        prefix::write(&self.dir, index, term)?;
        let dropped = if keeps_suffix {
            (index - self.prev_index) as usize
        } else {
            self.slots.len()
        };
        self.slots.drain(..dropped);
        self.prev_index = index;
        self.prev_term = term;
        self.remove_compacted_segments()
    }

    /// Deletes every segment but the last that holds nothing after the prefix (step 3 above).
    /// Also finishes an interrupted compaction at open.
    pub(super) fn remove_compacted_segments(&mut self) -> Result<(), StorageError> {
        // Segment k holds nothing after the prefix when segment k + 1 starts at or below the
        // entry after it.
        let doomed = self
            .segments
            .windows(2)
            .take_while(|pair| pair[1].first_index <= self.prev_index + 1)
            .count();
        if doomed == 0 {
            return Ok(());
        }
        if self.hard_state_at.is_some_and(|at| at.segment < doomed) {
            // May start a new segment: at the end, so `doomed` still counts the same ones.
            self.append_hard_state_durably()?;
        }
        debug_assert!(
            self.slots.first().is_none_or(|s| s.at.segment >= doomed),
            "an entry after the prefix is in a segment being deleted"
        );
        for segment in &self.segments[..doomed] {
            fs::remove_file(&segment.path).map_err(StorageError::io(
                "remove the compacted segment",
                &segment.path,
            ))?;
        }
        sync_dir(&self.dir)?;
        self.segments.drain(..doomed);
        for slot in &mut self.slots {
            slot.at.segment -= doomed;
        }
        if let Some(at) = &mut self.hard_state_at {
            at.segment -= doomed;
        }
        Ok(())
    }
}
