//! Snapshots of the state machine: the contents half (the format, writing it, reading it back).
//! The layout and how a consistent view is taken are in the module docs of [`crate::state`].

mod error;
mod format;
mod frame_read;
mod frame_write;
mod inspect;
mod read;
mod records;
mod restore;
mod write;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::raft::{Index, Term};

pub use error::SnapshotError;
pub use format::{MAX_RECORD_BYTES, MAX_VOTERS, SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC};
pub use frame_read::{ETCD_HASH_BYTES, ETCD_PAGE_BYTES};
pub use inspect::{inspect, SnapshotStatus};
pub use read::{read_snapshot, read_snapshot_file};
pub use write::{write_snapshot, write_snapshot_file};

/// Where a snapshot stands in the log, and the membership as of that point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotMeta {
    /// The last entry the snapshot includes.
    pub index: Index,
    /// That entry's term.
    pub term: Term,
    /// The membership the caller passed when writing: stored and given back.
    pub membership: crate::raft::MembershipEntry,
}

/// How many items of each collection a snapshot holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotCounts {
    /// Student records.
    pub students: u64,
    /// Stored keys, expired ones not yet purged included.
    pub keys: u64,
    /// Stacks.
    pub stacks: u64,
    /// Exactly-once client sessions.
    pub sessions: u64,
    /// etcd leases (since format 3).
    #[serde(default)]
    pub leases: u64,
    /// Records of the key-value store's kept history (since format 3).
    #[serde(default)]
    pub history_records: u64,
}

impl fmt::Display for SnapshotCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} students, {} keys, {} stacks, {} sessions",
            self.students, self.keys, self.stacks, self.sessions
        )
    }
}

/// What [`write_snapshot`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotSummary {
    /// Total length, trailer included.
    pub bytes: u64,
    /// What the snapshot holds.
    pub counts: SnapshotCounts,
    /// The CRC-32 of everything before the trailer, as stored in the trailer.
    pub crc: u32,
}

#[cfg(test)]
mod tests;
