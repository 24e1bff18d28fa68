//! The payload of each record kind, as MessagePack arrays (rmp-serde's compact form: fields by
//! position, so the field order below *is* the format).
//!
//! The writer fills the borrowed side of each `Cow` straight from the state, so nothing is copied to
//! write a record; the reader gets the owned side.

use std::borrow::Cow;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::SnapshotCounts;
use crate::raft::{Index, Term};
use crate::state::ApplyResult;

/// The first record: everything that is not a collection, and how many records of each kind follow.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct HeaderRecord<'a> {
    pub(super) index: Index,
    pub(super) term: Term,
    pub(super) now_ms: u64,
    /// The id the next created stack gets.
    pub(super) next_stack_id: u64,
    pub(super) voters: Cow<'a, [u64]>,
    pub(super) counts: SnapshotCounts,
    /// Since format 2: the learners, and the members' addresses (the node's opaque context of
    /// the configuration entry).
    #[serde(default)]
    pub(super) learners: Cow<'a, [u64]>,
    #[serde(default)]
    pub(super) members: Bytes,
    /// Since format 3: the key-value store's revision and compaction point (0 in older files:
    /// see `restore.rs`).
    #[serde(default)]
    pub(super) revision: u64,
    #[serde(default)]
    pub(super) compact_revision: u64,
    /// Since format 4: users, roles and permissions (bounded by the store's own limits, so the
    /// header stays far below a record's size limit).
    #[serde(default)]
    pub(super) auth: Cow<'a, crate::state::auth::AuthStore>,
}

impl HeaderRecord<'_> {
    /// The configuration the header records.
    pub(super) fn membership(&self) -> crate::raft::MembershipEntry {
        crate::raft::MembershipEntry {
            membership: crate::raft::Membership::new(self.voters.to_vec(), self.learners.to_vec()),
            context: self.members.clone(),
        }
    }
}

/// One stored key (live or expired but not yet purged).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct KeyRecord<'a> {
    pub(super) key: Cow<'a, str>,
    pub(super) value: Bytes,
    /// The key's `mod_revision` (in files before format 3: the index that wrote it).
    pub(super) version: Index,
    pub(super) expires_at_ms: Option<u64>,
    /// Since format 3 (0 in older files): etcd's create revision, per-key version and lease.
    #[serde(default)]
    pub(super) create_revision: u64,
    #[serde(default)]
    pub(super) writes: u64,
    #[serde(default)]
    pub(super) lease: i64,
}

/// One etcd lease.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct LeaseRecord {
    pub(super) id: i64,
    pub(super) ttl: i64,
}

/// Events of one revision of the kept history (all of them, or the next part of them).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct HistoryRecord<'a> {
    pub(super) revision: u64,
    pub(super) events: Cow<'a, [crate::state::kv::Event]>,
}

/// One stack; `items` items follow in stack-items records.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StackRecord {
    pub(super) id: u64,
    pub(super) label: i64,
    pub(super) items: u64,
}

/// One client's last applied request: everything the session table needs to replay it, turn older
/// ones away and choose the same client to evict (`last_index` is the eviction order).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct SessionRecord<'a> {
    pub(super) client_id: u64,
    pub(super) last_seq: u64,
    pub(super) last_index: Index,
    pub(super) result: Cow<'a, ApplyResult>,
}
