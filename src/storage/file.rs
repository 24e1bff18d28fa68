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
use super::{prefix, settle};
use crate::raft::{Entry, HardState, Index, Term};

mod append;
mod compact;
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
    /// The last segment takes no more appends: the next write starts a new segment. Set when a
    /// cut shortened it, and at open when it holds entries (an earlier process may have cut it
    /// and crashed before starting the next).
    sealed: bool,
    /// Bytes of the last segment known to be on disk: each batch written carries it in its end
    /// record, so recovery can tell a torn write from damage to durable data.
    durable_len: u64,
    /// The compacted prefix: the log holds the entries after `prev_index`, whose entry had term
    /// `prev_term`. Segments may still hold entries at or below it (see `file/compact.rs`).
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
    /// warning, an interrupted truncation or compaction is finished, any other damage is an error
    /// naming the file and byte offset, and files of another format are refused
    /// ([`StorageError::UnsupportedFormat`]) without being changed.
    ///
    /// Before reading, every file of the log is fsynced (a failure is an error) and read from the
    /// disk rather than the page cache, so that data a crashed process never got onto the disk
    /// is not believed (the recovery rule in [`crate::storage`] says why, and the limits).
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
        settle::sync_and_drop_cache(&dir)?;
        prefix::remove_leftover(&dir)?;
        let scanned = recovery::scan_dir(&dir, options.record_bytes_max)?;
        repair_torn_end(&scanned)?;
        // After the scan: it refuses a directory of another format before anything is changed.
        let intent = intent::read(&dir)?;
        let Scanned {
            segments,
            prev_index,
            prev_term,
            mut entries,
            slots,
            hard_state,
            hard_state_at,
            torn_tail: _,
            torn_segment: _,
        } = scanned;
        // Everything read was fsynced before it was read, and cuts are fsynced.
        let durable_len = segments.last().map_or(0, |s| s.len_bytes);
        let last_index = prev_index + slots.len() as Index;
        let sealed = segments.last().is_some_and(|s| s.first_index <= last_index);
        let mut store = FileStore {
            dir,
            options,
            segments,
            active: None,
            sealed,
            durable_len,
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
        store.remove_compacted_segments()?;
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

    /// The term of the entry at `index` after the prefix, if the log holds it.
    fn term_at(&self, index: Index) -> Option<Term> {
        let offset = index.checked_sub(self.prev_index + 1)?;
        self.slots
            .get(usize::try_from(offset).ok()?)
            .map(|s| s.term)
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
        let salt = self.segments[segment].salt;
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if let Some(hs) = hard_state {
            self.hard_state = *hs;
            self.hard_state_at = Some(Position {
                segment,
                offset: base + buf.len() as u64,
            });
            record::encode_hard_state(&mut buf, hs, salt);
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
            record::encode_entry(&mut buf, entry, salt);
        }
        let result = self.append_batch(&mut buf);
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
        if let Some(path) = &scanned.torn_segment {
            return Err(StorageError::corrupt(
                path,
                0,
                "incomplete header in a log this store wrote: the files changed under it",
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

    fn compact(&mut self, index: Index, term: Term) -> Result<(), StorageError> {
        self.sync()?;
        let result = self.compact_to(index, term);
        self.check(result)
    }
}

/// Removes what a crash left at the end of the log that recovery found in `scanned`: a segment
/// whose creation was interrupted, and a torn tail; both logged.
fn repair_torn_end(scanned: &Scanned) -> Result<(), StorageError> {
    if let Some(path) = &scanned.torn_segment {
        log::warn!(
            "{}: removing a segment whose creation a crash interrupted (it holds no record)",
            path.display()
        );
        fs::remove_file(path).map_err(StorageError::io("remove the segment", path))?;
        let dir = path
            .parent()
            .expect("a segment lives in the data directory");
        sync_dir(dir)?;
    }
    if let (Some(torn), Some(last)) = (&scanned.torn_tail, scanned.segments.last()) {
        log::warn!(
            "{}: dropping a torn tail at byte offset {} ({} bytes, {} batch ends of writes after \
             it among them, none proving it was durable): {}. This is what a crash during a write \
             leaves; without a crash or power cut before this start, suspect the disk: the bytes \
             dropped may include writes that were fsynced and acknowledged",
            last.path.display(),
            torn.offset,
            torn.dropped_bytes,
            torn.batch_ends,
            torn.reason
        );
        cut_file(&last.path, torn.offset)?;
    }
    Ok(())
}

/// Creates `dir` if it is missing, durably: each directory created is made durable in its parent
/// by an fsync of that parent. Checks that `dir` is a directory.
fn ensure_dir(dir: &Path) -> Result<(), StorageError> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(StorageError::io("use as the data directory", dir)(
            io::Error::other("it exists and is not a directory"),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = match dir.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            ensure_dir(parent)?;
            match fs::create_dir(dir) {
                Ok(()) => {}
                // Created meanwhile by someone else: as good, once it is durable too.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
                Err(e) => return Err(StorageError::io("create the data directory", dir)(e)),
            }
            sync_dir(parent)
        }
        Err(e) => Err(StorageError::io("read the data directory", dir)(e)),
    }
}
