//! Deleting a conflicting suffix of the log, physically and without ever losing the hard state.

use std::fs::{self, OpenOptions};
use std::path::Path;

use super::FileStore;
use crate::raft::Index;
use crate::storage::error::StorageError;
use crate::storage::intent::{self, TruncateIntent};
use crate::storage::record::{self, HEADER_BYTES};
use crate::storage::recovery::Position;
use crate::storage::segment::sync_dir;

impl FileStore {
    /// Deletes every entry from `index` on (which must exist), physically.
    ///
    /// Crucial: if the cut removes the latest hard-state record, that hard state must stay durable
    /// throughout: a truncate intent holds it from before the cut until it is written again after.
    pub(super) fn truncate_from(&mut self, index: Index) -> Result<(), StorageError> {
        let keep = (index - self.prev_index - 1) as usize;
        let cut = self.cut_point(keep);
        let protect = self.hard_state_at.is_some_and(|at| at >= cut);
        if protect {
            let intent = TruncateIntent {
                cut_index: index,
                hard_state: self.hard_state,
            };
            intent::write(&self.dir, &intent)?;
        }
        self.cut_at(cut)?;
        self.slots.truncate(keep);
        if protect {
            self.append_hard_state_durably()?;
            intent::remove(&self.dir)?;
        }
        Ok(())
    }

    /// Completes a truncation that a crash interrupted: redoes the cut (a no-op if it was done) and
    /// writes the intent's hard state, which is the latest one, before dropping the intent.
    pub(super) fn finish_truncation(&mut self, intent: TruncateIntent) -> Result<(), StorageError> {
        if intent.cut_index <= self.prev_index {
            return Err(StorageError::corrupt(
                &self.dir,
                0,
                format!(
                    "truncate intent at index {} reaches into the prefix (index {})",
                    intent.cut_index, self.prev_index
                ),
            ));
        }
        if intent.cut_index <= self.last_index() {
            let keep = (intent.cut_index - self.prev_index - 1) as usize;
            self.cut_at(self.cut_point(keep))?;
            self.slots.truncate(keep);
        }
        self.hard_state = intent.hard_state;
        self.append_hard_state_durably()?;
        intent::remove(&self.dir)?;
        log::warn!(
            "{}: finished a truncation from index {} that a crash interrupted",
            self.dir.display(),
            intent.cut_index
        );
        Ok(())
    }

    /// Where deleting `slots[keep]` and every later entry cuts the log: at that entry's record,
    /// or at the start of its segment if that segment holds no earlier entry (it is named after
    /// the entry, and the entries written next will need a segment of that name).
    fn cut_point(&self, keep: usize) -> Position {
        let at = self.slots[keep].at;
        let index = self.prev_index + 1 + keep as Index;
        if self.segments[at.segment].first_index == index {
            Position {
                segment: at.segment,
                offset: 0,
            }
        } else {
            at
        }
    }

    /// Cuts the log at `cut`: later segments are removed, and the segment holding `cut` is
    /// removed too (offset 0) or shortened and sealed.
    pub(super) fn cut_at(&mut self, cut: Position) -> Result<(), StorageError> {
        self.active = None;
        // Newest first and each durably, so a crash at any point leaves a prefix of the old log:
        // a missing middle segment would read as corruption.
        let keep_segments = if cut.offset == 0 {
            cut.segment
        } else {
            cut.segment + 1
        };
        while self.segments.len() > keep_segments {
            let removed = self.segments.pop().expect("more segments than the cut's");
            fs::remove_file(&removed.path)
                .map_err(StorageError::io("remove the segment", &removed.path))?;
            sync_dir(&self.dir)?;
        }
        if cut.offset > 0 {
            let segment = &mut self.segments[cut.segment];
            cut_file(&segment.path, cut.offset)?;
            segment.len_bytes = cut.offset;
            segment.alloc_bytes = cut.offset;
            // `cut_file` synced what is left; the segment with the cut is now the last.
            self.durable_len = cut.offset;
        }
        // Crucial: a cut segment is never extended again, or blocks the cut freed could come
        // back inside it, under its salt, after a crash (see "Format" in `crate::storage`).
        self.sealed = true;
        if self.hard_state_at.is_some_and(|at| at >= cut) {
            self.hard_state_at = None;
        }
        Ok(())
    }

    /// Appends the current hard state (a batch of its own) and fsyncs it.
    pub(super) fn append_hard_state_durably(&mut self) -> Result<(), StorageError> {
        let (segment, offset) = self.prepare_active()?;
        let mut buf = Vec::with_capacity(2 * HEADER_BYTES + 48);
        record::encode_hard_state(&mut buf, &self.hard_state, self.segments[segment].salt);
        self.append_batch(&mut buf)?;
        self.hard_state_at = Some(Position { segment, offset });
        self.sync_active()
    }
}

/// Shortens the file at `path` to `len_bytes` and makes that durable before anything is appended:
/// otherwise a crash could leave new records followed by stale old ones.
pub(super) fn cut_file(path: &Path, len_bytes: u64) -> Result<(), StorageError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(StorageError::io("open the segment", path))?;
    file.set_len(len_bytes)
        .and_then(|()| file.sync_data())
        .map_err(StorageError::io("truncate the segment", path))
}
