//! The durable Raft log: entries and hard state, written in batches and made durable by fsync.
//!
//! [`LogStore`] is the contract; [`MemStore`] implements it in memory (tests, simulation, crash
//! modelling) and [`FileStore`] as a write-ahead log on disk. [`GroupCommit`] runs a store on its
//! own thread and makes many batches durable with one fsync.
//!
//! # File format
//!
//! A data directory holds a file `LOCK` (see below) and segment files
//! `wal-<first index, 20 digits>.log`, each named after the first entry it holds or will hold;
//! segment `k + 1` starts right after the last entry of segment `k`. A segment is a sequence of
//! records, all integers little-endian:
//!
//! ```text
//! record      = crc: u32 | len: u32 | type: u8 | durable: u64 | body: [u8; len]
//!               crc = CRC-32 (IEEE, as crc32fast computes it) of len, type, durable and body
//!               durable = bytes of this segment known fsynced when the record was written
//! type 1      = entry:      index: u64 | term: u64 | kind: u8 (0 no-op, 1 command) | data (rest)
//! type 2      = hard state: term: u64 | has_vote: u8 | vote: u64 | commit: u64
//! type 3      = truncate intent: cut_index: u64 | hard state body  (only in `truncate.intent`)
//! ```
//!
//! A batch (a hard state and/or entries) is encoded into one buffer and appended with one write.
//! When an append reaches the end of the last segment's file, the file is first extended with
//! zeros (1 MiB by default, [`FileStoreOptions::preallocate_bytes`]): appends then overwrite
//! blocks that exist, and their fsync commits no size change (on ext4 here, 95 µs instead of
//! 148 µs for a 369-byte record). The latest hard-state record in log order is the hard state.
//! When the active segment exceeds its size limit, its zeros are cut off, it is fsynced and a new
//! one is created (and the directory fsynced). Deleting a
//! conflicting suffix removes later segments (newest first, each durably) and shortens the segment
//! holding the cut (durably, before anything new is appended). If the cut would remove the latest
//! hard-state record, the hard state is first saved in `truncate.intent` and written again after
//! the cut; an intent found at startup means that sequence was interrupted, and it is finished.
//!
//! # One writer per directory
//!
//! [`FileStore::open`] takes an exclusive `flock` on `LOCK` and holds it until the store is
//! dropped; the file holds the holder's pid. A second open of the directory, from any process,
//! fails with [`StorageError::Locked`] instead of appending to the same segments. The kernel
//! releases the lock when the process dies, so a crashed node restarts without cleanup.
//!
//! # Recovery rule
//!
//! Segments are read in order. Entries must be contiguous across records and segments (a gap is
//! corruption) and their terms must not decrease. The log ends where the last segment holds
//! nothing but zeros to its end (the space written ahead). Otherwise a bad record — incomplete, too long, failing its
//! checksum, of unknown type or malformed — at byte `B` of the last segment is a **torn tail** if
//! no valid record after it carries a durable mark above `B`: such a record would have been
//! written after `B` was fsynced, so the damage would be to data already acknowledged. A torn
//! tail is what a crash leaves of the writes since the last fsync: cut short, or with holes where
//! a later page reached the disk before an earlier one. It and everything after it are cut off
//! and a warning names the file, offset, bytes and intact records dropped. Any other bad record
//! (in an earlier segment, which is fsynced before the next is created, or followed by proof that
//! it was durable) is a startup error naming the file and byte offset; nothing is ever skipped
//! silently. Damage that no later write can expose, in data fsynced by the very last sync, is
//! indistinguishable from a torn write and is treated as one.

mod epoch;
mod error;
mod file;
mod group_commit;
mod intent;
mod lock;
mod mem;
mod record;
mod recovery;
mod segment;
mod store;

pub use epoch::next_peer_epoch;
pub use error::StorageError;
pub use file::{FileStore, FileStoreOptions};
pub use group_commit::{Durable, GroupCommit, GroupCommitOptions, Report};
pub(crate) use lock::try_lock_exclusive;
pub use mem::MemStore;
pub use record::encode_entry as encode_entry_record;
pub use store::{Loaded, LogStore};
