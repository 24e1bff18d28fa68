//! Appending to the active segment, and starting a new segment when it is full.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use super::FileStore;
use crate::raft::Index;
use crate::storage::error::StorageError;
use crate::storage::header::{FileHeader, FILE_HEADER_BYTES};
use crate::storage::record;
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
            // (A cut never leaves one sealed: it removes a segment it would leave without entries.)
            Some(last) => {
                (self.sealed || last.len_bytes >= self.options.segment_bytes_max)
                    && last.first_index <= last_index
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
        // Not in append mode: records go at the log's end, which may lie before zeros written
        // ahead of it, and with O_APPEND Linux's pwrite would ignore the offset.
        let file = OpenOptions::new()
            .write(true)
            .open(&last.path)
            .map_err(StorageError::io("open the segment", &last.path))?;
        self.active = Some(file);
        Ok(())
    }

    /// Starts segment `wal-<first_index>.log`: creates it with its header, durably.
    pub(super) fn roll(&mut self, first_index: Index) -> Result<(), StorageError> {
        // Recovery treats damage in any segment but the last as corruption, so a segment must be
        // whole on disk, without the zeros ahead of its end, before a later one exists.
        if let (Some(file), Some(last)) = (&self.active, self.segments.last_mut()) {
            if last.alloc_bytes > last.len_bytes {
                file.set_len(last.len_bytes)
                    .map_err(StorageError::io("trim the segment", &last.path))?;
                last.alloc_bytes = last.len_bytes;
            }
        }
        self.sync_active()?;
        let path = self.dir.join(segment::file_name(first_index));
        let header = FileHeader::new(first_index);
        // Not in append mode, where Linux's pwrite ignores the offset (see `open_active`).
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(StorageError::io("create the segment", &path))?;
        // Crucial: the header is durable before any record is written after it, so a bad header
        // in front of records is damage, and a bad header alone a creation a crash cut short.
        file.write_all_at(&header.encode(), 0)
            .and_then(|()| file.sync_data())
            .map_err(StorageError::io("write the header of", &path))?;
        sync_dir(&self.dir)?;
        let len_bytes = FILE_HEADER_BYTES as u64;
        self.segments.push(SegmentFile {
            first_index,
            path,
            salt: header.salt,
            len_bytes,
            alloc_bytes: len_bytes,
        });
        self.active = Some(file);
        self.sealed = false;
        self.durable_len = len_bytes;
        Ok(())
    }

    /// Closes the batch of records in `buf` (which start at the active segment's end) with its
    /// batch-end record, and appends it all with one write.
    pub(super) fn append_batch(&mut self, buf: &mut Vec<u8>) -> Result<(), StorageError> {
        let segment = self.segments.last().expect("prepare_active ran first");
        debug_assert!(
            self.durable_len <= segment.len_bytes,
            "durable mark {} beyond the segment's {} bytes",
            self.durable_len,
            segment.len_bytes
        );
        record::encode_batch_end(buf, segment.len_bytes, self.durable_len, segment.salt);
        self.append(buf)
    }

    /// Appends `buf` to the active segment with one write, first extending the file with zeros
    /// if `buf` reaches past its end (see [`super::FileStoreOptions::preallocate_bytes`]).
    fn append(&mut self, buf: &[u8]) -> Result<(), StorageError> {
        let segment = self.segments.last_mut().expect("prepare_active ran first");
        let file = self.active.as_ref().expect("prepare_active ran first");
        let end = segment.len_bytes + buf.len() as u64;
        let ahead = self.options.preallocate_bytes;
        if end > segment.alloc_bytes && ahead > 0 {
            let zeros = vec![0; (end + ahead - segment.alloc_bytes) as usize];
            file.write_all_at(&zeros, segment.alloc_bytes)
                .map_err(StorageError::io("extend the segment", &segment.path))?;
            segment.alloc_bytes = end + ahead;
        }
        file.write_all_at(buf, segment.len_bytes)
            .map_err(StorageError::io("append to the segment", &segment.path))?;
        segment.len_bytes = end;
        segment.alloc_bytes = segment.alloc_bytes.max(end);
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
