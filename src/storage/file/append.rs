//! Appending to the active segment, and starting a new segment when it is full.

use std::fs::OpenOptions;
use std::io::Write;

use super::FileStore;
use crate::raft::Index;
use crate::storage::error::StorageError;
use crate::storage::segment::{self, sync_dir, SegmentFile};

impl FileStore {
    /// Makes sure a segment can take the next records, starting a new one if the last is full.
    /// Returns the position the next record will have.
    pub(super) fn prepare_active(&mut self) -> Result<(usize, u64), StorageError> {
        // Open first: a roll must sync the segment it closes, even one this process never wrote.
        self.open_active()?;
        let last_index = self.last_index();
        let needs_new = match self.segments.last() {
            None => true,
            // A segment without entries keeps taking records: its successor would need its name.
            Some(last) => {
                last.len_bytes >= self.options.segment_bytes_max && last.first_index <= last_index
            }
        };
        if needs_new {
            self.roll(last_index + 1)?;
        }
        let slot = self.segments.len() - 1;
        Ok((slot, self.segments[slot].len_bytes))
    }

    /// Opens the append handle on the last segment, if there is one and it is not open yet.
    pub(super) fn open_active(&mut self) -> Result<(), StorageError> {
        if self.active.is_some() {
            return Ok(());
        }
        let Some(last) = self.segments.last() else {
            return Ok(());
        };
        let file = OpenOptions::new()
            .append(true)
            .open(&last.path)
            .map_err(StorageError::io("open the segment", &last.path))?;
        self.active = Some(file);
        Ok(())
    }

    /// Starts segment `wal-<first_index>.log`.
    pub(super) fn roll(&mut self, first_index: Index) -> Result<(), StorageError> {
        // Recovery treats damage in any segment but the last as corruption, so a segment must be
        // whole on disk before a later one exists.
        self.sync_active()?;
        let path = self.dir.join(segment::file_name(first_index));
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(StorageError::io("create the segment", &path))?;
        sync_dir(&self.dir)?;
        self.segments.push(SegmentFile {
            first_index,
            path,
            len_bytes: 0,
        });
        self.active = Some(file);
        self.durable_len = 0;
        Ok(())
    }

    /// Appends `buf` to the active segment with one `write_all`.
    pub(super) fn append(&mut self, buf: &[u8]) -> Result<(), StorageError> {
        let segment = self.segments.last_mut().expect("prepare_active ran first");
        let file = self.active.as_mut().expect("prepare_active ran first");
        file.write_all(buf)
            .map_err(StorageError::io("append to the segment", &segment.path))?;
        segment.len_bytes += buf.len() as u64;
        Ok(())
    }

    pub(super) fn sync_active(&mut self) -> Result<(), StorageError> {
        if let (Some(file), Some(segment)) = (&self.active, self.segments.last()) {
            file.sync_data()
                .map_err(StorageError::io("fsync the segment", &segment.path))?;
            self.durable_len = segment.len_bytes;
        }
        Ok(())
    }
}
