//! `FileStore`: the log as a directory of append-only segment files (the write-ahead log).

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::error::StorageError;
use super::intent;
use super::lock::DirLock;
use super::record;
use super::recovery::{self, Position, Scanned, Slot};
use super::segment::{sync_dir, SegmentFile};
use super::store::{assert_batch_fits, Loaded, LogStore};
use crate::raft::{Entry, HardState, Index, Term};

mod append;
mod truncate;

use truncate::cut_file;

/// Limits of a [`FileStore`], checked by [`FileStore::open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStoreOptions {
    /// Once the active segment holds this many bytes, the next write starts a new segment. A batch
    /// is never split, so a segment may exceed this by one batch.
    pub segment_bytes_max: u64,
    /// The largest record body accepted (an entry's payload plus 17 bytes). Bounds what recovery
    /// trusts a length field with. At most `u32::MAX`.
    pub record_bytes_max: u64,
    /// When an append reaches the end of the active segment's file, the file is extended by
    /// this many zero bytes beyond it. Appends then overwrite blocks that already exist, so their
    /// fsync has no size change or block allocation to commit (about a third faster on ext4).
    /// 0 appends without zero fill.
    pub preallocate_bytes: u64,
}

impl Default for FileStoreOptions {
    fn default() -> Self {
        FileStoreOptions {
            segment_bytes_max: 64 << 20,
            record_bytes_max: 16 << 20,
            preallocate_bytes: 1 << 20,
        }
    }
}

/// The durable log: a directory of segment files `wal-<first index>.log`, each a sequence of
/// checksummed records (the format and the recovery rule are described in [`crate::storage`]).
///
/// After any I/O error the store refuses further work ([`StorageError::Failed`]): the node must
/// stop and recover from disk.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    options: FileStoreOptions,
    /// Invariant: segment `k + 1` is named after the entry following the last entry of segment `k`.
    segments: Vec<SegmentFile>,
    /// An append handle on the last segment, opened lazily.
    active: Option<File>,
    /// Bytes of the last segment known to be on disk: each record written carries it, so
    /// recovery can tell a torn write from damage to durable data.
    durable_len: u64,
    prev_index: Index,
    prev_term: Term,
    /// `slots[i]` locates entry `prev_index + 1 + i`: truncation finds its cut point in O(1).
    slots: Vec<Slot>,
    hard_state: HardState,
    /// Where the record of `hard_state` is; `None` for the default hard state never written.
    hard_state_at: Option<Position>,
    /// What `open` recovered, handed out by the first `load` unless a write came first.
    recovered: Option<Loaded>,
    /// The first I/O failure; set once, never cleared.
    failure: Option<String>,
    sync_count: u64,
    /// Reused encoding buffer: one `write_all` per batch.
    buf: Vec<u8>,
    /// Declared last: fields drop in order, so every file is closed before another store may open
    /// the directory.
    _lock: DirLock,
}

impl FileStore {
    /// Opens (creating if needed) the log in `dir` and recovers it: a torn tail is dropped with a
    /// warning, an interrupted truncation is finished, any other damage is an error naming the file
    /// and byte offset.
    ///
    /// The store holds an exclusive lock on `dir` (the file `LOCK`) until it is dropped; while it
    /// does, opening `dir` again — from any process, this one included — fails with
    /// [`StorageError::Locked`].
    pub fn open(
        dir: impl Into<PathBuf>,
        options: FileStoreOptions,
    ) -> Result<FileStore, StorageError> {
        let dir = dir.into();
        if options.segment_bytes_max == 0
            || options.record_bytes_max < record::FIXED_BODY_BYTES_MAX
            || options.record_bytes_max > u64::from(u32::MAX)
        {
            return Err(StorageError::InvalidOptions(format!("{options:?}")));
        }
        ensure_dir(&dir)?;
        // Crucial: before recovery, which cuts torn tails and finishes truncations — both wrong
        // while another process is appending.
        let lock = DirLock::acquire(&dir)?;
        let intent = intent::read(&dir)?;
        let scanned = recovery::scan_dir(&dir, options.record_bytes_max)?;
        if let (Some(torn), Some(last)) = (&scanned.torn_tail, scanned.segments.last()) {
            log::warn!(
                "{}: dropping a torn tail at byte offset {} ({} bytes, {} intact records of the \
                 same unsynced writes among them): {}",
                last.path.display(),
                torn.offset,
                torn.dropped_bytes,
                torn.intact_records,
                torn.reason
            );
            cut_file(&last.path, torn.offset)?;
        }
        let Scanned {
            segments,
            prev_index,
            prev_term,
            mut entries,
            slots,
            hard_state,
            hard_state_at,
            torn_tail: _,
        } = scanned;
        let mut store = FileStore {
            dir,
            options,
            segments,
            active: None,
            durable_len: 0,
            prev_index,
            prev_term,
            slots,
            hard_state,
            hard_state_at,
            recovered: None,
            failure: None,
            sync_count: 0,
            buf: Vec::new(),
            _lock: lock,
        };
        if let Some(intent) = intent {
            store.finish_truncation(intent)?;
            entries.truncate(store.slots.len());
        }
        store.make_recovered_state_durable()?;
        store.recovered = Some(Loaded {
            hard_state: store.hard_state,
            prev_index,
            prev_term,
            entries,
        });
        Ok(store)
    }

    /// The directory holding the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The index of the last entry written (or of the prefix when there is none).
    pub fn last_index(&self) -> Index {
        self.prev_index + self.slots.len() as Index
    }

    /// How many times `sync` has succeeded.
    pub fn sync_count(&self) -> u64 {
        self.sync_count
    }

    fn term_before(&self, index: Index) -> Term {
        match index.saturating_sub(1).checked_sub(self.prev_index + 1) {
            Some(offset) => self.slots.get(offset as usize).map_or(0, |s| s.term),
            None => self.prev_term,
        }
    }

    /// Returns the error, first marking the store failed if the error leaves the disk in doubt.
    fn check<T>(&mut self, result: Result<T, StorageError>) -> Result<T, StorageError> {
        if let Err(e) = &result {
            if !matches!(e, StorageError::RecordTooLarge { .. }) && self.failure.is_none() {
                self.failure = Some(e.to_string());
            }
        }
        result
    }

    fn ensure_healthy(&self) -> Result<(), StorageError> {
        match &self.failure {
            Some(first_failure) => Err(StorageError::Failed {
                first_failure: first_failure.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Crucial: what recovery found may exist only in the page cache (the previous process died
    /// before its sync). The node will act on it, so it must be durable first.
    fn make_recovered_state_durable(&mut self) -> Result<(), StorageError> {
        if self.segments.is_empty() {
            return Ok(());
        }
        self.open_active()?;
        self.sync_active()?;
        sync_dir(&self.dir)
    }

    fn write_batch(
        &mut self,
        hard_state: Option<&HardState>,
        entries: &[Entry],
    ) -> Result<(), StorageError> {
        if hard_state.is_none() && entries.is_empty() {
            return Ok(());
        }
        for entry in entries {
            let size_bytes = record::entry_body_bytes(entry);
            if size_bytes > self.options.record_bytes_max {
                return Err(StorageError::RecordTooLarge {
                    size_bytes,
                    limit_bytes: self.options.record_bytes_max,
                });
            }
        }
        if let Some(first) = entries.first() {
            assert_batch_fits(
                self.prev_index,
                self.last_index(),
                self.term_before(first.index),
                entries,
            );
            if first.index <= self.last_index() {
                self.truncate_from(first.index)?;
            }
        }
        self.recovered = None;
        let (segment, base) = self.prepare_active()?;
        debug_assert!(
            self.durable_len <= base,
            "durable mark {} beyond the segment's {base} bytes",
            self.durable_len
        );
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if let Some(hs) = hard_state {
            self.hard_state = *hs;
            self.hard_state_at = Some(Position {
                segment,
                offset: base + buf.len() as u64,
            });
            record::encode_hard_state(&mut buf, hs, self.durable_len);
        }
        for entry in entries {
            let at = Position {
                segment,
                offset: base + buf.len() as u64,
            };
            self.slots.push(Slot {
                at,
                term: entry.term,
            });
            record::encode_entry(&mut buf, entry, self.durable_len);
        }
        let result = self.append(&buf);
        self.buf = buf;
        result
    }
}

impl LogStore for FileStore {
    fn load(&mut self) -> Result<Loaded, StorageError> {
        self.ensure_healthy()?;
        if let Some(recovered) = self.recovered.take() {
            return Ok(recovered);
        }
        let scanned = recovery::scan_dir(&self.dir, self.options.record_bytes_max)?;
        if let (Some(torn), Some(last)) = (&scanned.torn_tail, scanned.segments.last()) {
            return Err(StorageError::corrupt(
                &last.path,
                torn.offset,
                format!(
                    "{} in a log this store wrote: the files changed under it",
                    torn.reason
                ),
            ));
        }
        Ok(Loaded {
            hard_state: scanned.hard_state,
            prev_index: scanned.prev_index,
            prev_term: scanned.prev_term,
            entries: scanned.entries,
        })
    }

    fn write(
        &mut self,
        hard_state: Option<&HardState>,
        entries: &[Entry],
    ) -> Result<(), StorageError> {
        self.ensure_healthy()?;
        let result = self.write_batch(hard_state, entries);
        self.check(result)
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.ensure_healthy()?;
        let result = self.sync_active();
        self.check(result)?;
        self.sync_count += 1;
        Ok(())
    }
}

/// Creates `dir` if it is missing (durably: its parent is fsynced too); checks it is a directory.
fn ensure_dir(dir: &Path) -> Result<(), StorageError> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(StorageError::io("use as the data directory", dir)(
            io::Error::other("it exists and is not a directory"),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(StorageError::io("create the data directory", dir))?;
            match dir.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
                _ => Ok(()),
            }
        }
        Err(e) => Err(StorageError::io("read the data directory", dir)(e)),
    }
}
