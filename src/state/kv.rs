//! The key-value store: byte values keyed by string, kept as etcd's MVCC keeps them. One
//! cluster-wide revision grows by one with every write transaction that changes something; each
//! key carries the revision that created it, the one that last modified it and how many times it
//! was written since its creation. The changes of recent revisions are kept as events, so reads at
//! an older revision and watches from one are served until a compaction drops them.
//!
//! raftkv's own API (`/v1/kv`, the text protocol) sees the same keys: its `version` of a key is
//! the key's `mod_revision`. Keys may also carry an expiry on the state machine's clock (the text
//! protocol's `exptime`, `?ttl=`), and an etcd lease.

use std::sync::Arc;

use bytes::Bytes;
use imbl::{OrdMap, OrdSet};
use serde::{Deserialize, Serialize};

use super::result::ApplyResult;
use crate::raft::Index;

/// The version a compare-and-swap names to mean "the key does not exist (or has expired)", like
/// etcd's `version(key) = 0`. No live key has it: a version is a revision, and revisions of
/// writes start at 2.
pub const ABSENT_VERSION: Index = 0;

/// The revision of an empty store, before any write: etcd's too, so the first write is at 2.
pub const FIRST_REVISION: u64 = 1;

/// A stored value and its version, as raftkv's own API shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvValue {
    /// The bytes last written.
    pub value: Bytes,
    /// The revision of the write that last changed this key (its etcd `mod_revision`): it only
    /// grows, and is the same on every replica, so clients can use it for compare-and-set.
    ///
    /// Invariant: at least 2, which leaves [`ABSENT_VERSION`] free to mean "no such key".
    pub version: Index,
}

/// A live key as `getm` and `GET ?meta=true` show it: value, version and expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvRecord {
    /// The bytes last written.
    pub value: Bytes,
    /// The key's `mod_revision`.
    pub version: Index,
    /// When the key expires on the state machine's clock (ms since the Unix epoch); `None`: never.
    pub expires_at_ms: Option<u64>,
    /// `expires_at_ms` minus the state machine's clock when the record was read: always at least 1
    /// (an expired key is not found); `None`: never.
    pub expires_in_ms: Option<u64>,
}

impl KvRecord {
    /// The remaining time in whole seconds, rounded up so that a live key never shows 0 (which
    /// the text protocol reserves for "never"); `None`: never expires.
    pub fn expires_in_secs(&self) -> Option<u64> {
        self.expires_in_ms.map(|ms| ms.div_ceil(1000))
    }
}

/// A key as etcd's `mvccpb.KeyValue` describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The revision that created the key (since it last did not exist).
    pub create_revision: u64,
    /// The revision that last wrote it.
    pub mod_revision: u64,
    /// Writes since its creation: 1 when created.
    pub version: u64,
    /// The bytes last written.
    pub value: Bytes,
    /// The lease the key is attached to; 0: none.
    pub lease: i64,
}

/// What an event did to its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// Created or replaced it.
    Put,
    /// Removed it.
    Delete,
}

/// One change to one key, as a watch sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Put or delete.
    pub kind: EventKind,
    /// The key after a put; after a delete its key with `mod_revision` set to the deleting
    /// revision and everything else empty, as etcd reports it.
    pub kv: KeyValue,
    /// The key before the change, if it existed.
    pub prev: Option<KeyValue>,
}

/// An etcd lease: keys attached to it are deleted when it is revoked or expires. When it expires
/// is the leader's business (see `crate::replicator`); the state machine only holds what was
/// granted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The time to live granted, in seconds.
    pub ttl: i64,
    /// The keys attached to it.
    pub keys: OrdSet<String>,
}

/// One key's value, metadata and expiry.
#[derive(Clone, Debug)]
pub(super) struct Slot {
    /// Value and `mod_revision`.
    pub(super) value: KvValue,
    pub(super) create_revision: u64,
    /// etcd's per-key version: writes since creation.
    pub(super) writes: u64,
    pub(super) lease: i64,
    pub(super) expires_at_ms: Option<u64>,
}

impl Slot {
    /// Expired at `now_ms`: the expiry is at or before it.
    pub(super) fn expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }

    /// The record as read at `now_ms` (the slot must be live).
    pub(super) fn record(&self, now_ms: u64) -> KvRecord {
        debug_assert!(
            !self.expired(now_ms),
            "a record is only made of a live slot"
        );
        KvRecord {
            value: self.value.value.clone(),
            version: self.value.version,
            expires_at_ms: self.expires_at_ms,
            expires_in_ms: self.expires_at_ms.map(|at| at - now_ms),
        }
    }

    /// The slot as an etcd key-value.
    pub(super) fn key_value(&self, key: &str) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            create_revision: self.create_revision,
            mod_revision: self.value.version,
            version: self.writes,
            value: self.value.value.clone(),
            lease: self.lease,
        }
    }
}

/// How a write sets a key's lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LeaseChoice {
    /// Attach to this lease (0: none).
    Set(i64),
    /// Keep the key's current lease.
    Keep,
}

/// All keys, ordered so that JSON is the same on every node, with their history and the leases.
/// Persistent maps: a clone is O(1) and shares every node until one side writes (see the module
/// docs of [`crate::state`]).
///
/// An expired key stays in `by_key` until a purge removes it, but every read of the current state
/// treats it as absent.
///
/// Invariants: `by_expiry` holds exactly one `(expires_at_ms, key)` per slot that has an expiry;
/// every slot's revisions are at most `revision`; `history` holds exactly the events of the
/// revisions from `compact_revision` (or the first kept) to `revision`, each revision's events in
/// the order they happened; every key with a non-zero lease is in that lease's key set and no
/// other key is.
#[derive(Clone, Debug)]
pub(super) struct KvStore {
    by_key: OrdMap<String, Slot>,
    by_expiry: OrdSet<(u64, String)>,
    /// The revision of the last write transaction (or [`FIRST_REVISION`]).
    revision: u64,
    /// Revisions below this one can no longer be read or watched (0: nothing compacted).
    compact_revision: u64,
    history: OrdMap<u64, Arc<Vec<Event>>>,
    leases: OrdMap<i64, Lease>,
    /// The events of the write transaction under way, at `revision + 1`.
    pending: Vec<Event>,
}

impl Default for KvStore {
    fn default() -> Self {
        KvStore {
            by_key: OrdMap::new(),
            by_expiry: OrdSet::new(),
            revision: FIRST_REVISION,
            compact_revision: 0,
            history: OrdMap::new(),
            leases: OrdMap::new(),
            pending: Vec::new(),
        }
    }
}

impl KvStore {
    /// The revision of the last write.
    pub(super) fn revision(&self) -> u64 {
        self.revision
    }

    /// The revision below which history is gone (0: none compacted).
    pub(super) fn compact_revision(&self) -> u64 {
        self.compact_revision
    }

    /// The revision a write now would get.
    fn write_revision(&self) -> u64 {
        self.revision + 1
    }

    /// Ends a write transaction: if it changed anything, its events become the next revision.
    /// Returns the store's revision after it.
    pub(super) fn commit(&mut self) -> u64 {
        if !self.pending.is_empty() {
            self.revision += 1;
            let events = std::mem::take(&mut self.pending);
            self.history.insert(self.revision, Arc::new(events));
        }
        self.revision
    }

    /// Sets `key` in the write transaction under way (see [`KvStore::commit`]), expiring at
    /// `expires_at_ms` (`None`: never); returns the revision it is written at.
    pub(super) fn put(
        &mut self,
        key: String,
        value: Bytes,
        lease: LeaseChoice,
        expires_at_ms: Option<u64>,
    ) -> u64 {
        let rev = self.write_revision();
        let old = self.by_key.get(&key).cloned();
        if let Some(at) = old.as_ref().and_then(|s| s.expires_at_ms) {
            self.by_expiry.remove(&(at, key.clone()));
        }
        if let Some(at) = expires_at_ms {
            self.by_expiry.insert((at, key.clone()));
        }
        let old_lease = old.as_ref().map_or(0, |s| s.lease);
        let lease = match lease {
            LeaseChoice::Set(id) => id,
            LeaseChoice::Keep => old_lease,
        };
        if old_lease != lease {
            self.detach(old_lease, &key);
            if let Some(l) = self.leases.get_mut(&lease) {
                l.keys.insert(key.clone());
            }
        }
        let (create_revision, writes) = match &old {
            Some(s) => (s.create_revision, s.writes + 1),
            None => (rev, 1),
        };
        let slot = Slot {
            value: KvValue {
                value,
                version: rev,
            },
            create_revision,
            writes,
            lease,
            expires_at_ms,
        };
        let event = Event {
            kind: EventKind::Put,
            kv: slot.key_value(&key),
            prev: old.map(|s| s.key_value(&key)),
        };
        self.pending.push(event);
        self.by_key.insert(key, slot);
        rev
    }

    /// Takes `key` off lease `id`'s key set.
    fn detach(&mut self, id: i64, key: &str) {
        if id != 0 {
            if let Some(l) = self.leases.get_mut(&id) {
                l.keys.remove(key);
            }
        }
    }

    /// Compare-and-swap (raftkv's own): sets `key` as [`KvStore::put`] does, but only if it is
    /// live at `now_ms` with version `expected_version`, or, when that is [`ABSENT_VERSION`], only
    /// if it is not. A complete write transaction.
    pub(super) fn cas(
        &mut self,
        key: String,
        value: Bytes,
        expires_at_ms: Option<u64>,
        expected_version: Index,
        now_ms: u64,
    ) -> ApplyResult {
        match (self.get(&key, now_ms), expected_version) {
            (None, ABSENT_VERSION) => {}
            (None, _) => return ApplyResult::NotFound,
            (Some(slot), expected) if slot.value.version != expected => {
                return ApplyResult::VersionMismatch {
                    version: slot.value.version,
                };
            }
            (Some(_), _) => {}
        }
        let version = self.put(key, value, LeaseChoice::Keep, expires_at_ms);
        self.commit();
        ApplyResult::Stored { version }
    }

    /// Removes a key in the write transaction under way; true if it existed and had not expired
    /// at `now_ms`. An expired key is removed too, with an event, since it was still stored.
    pub(super) fn delete(&mut self, key: &str, now_ms: u64) -> bool {
        let rev = self.write_revision();
        match self.by_key.remove_with_key(key) {
            Some((key, slot)) => {
                if let Some(at) = slot.expires_at_ms {
                    self.by_expiry.remove(&(at, key.clone()));
                }
                self.detach(slot.lease, &key);
                self.pending.push(Event {
                    kind: EventKind::Delete,
                    kv: KeyValue {
                        key: key.clone(),
                        mod_revision: rev,
                        ..KeyValue::default()
                    },
                    prev: Some(slot.key_value(&key)),
                });
                !slot.expired(now_ms)
            }
            None => false,
        }
    }

    /// The slot of a key that is live at `now_ms`.
    pub(super) fn get(&self, key: &str, now_ms: u64) -> Option<&Slot> {
        self.by_key.get(key).filter(|slot| !slot.expired(now_ms))
    }

    /// Removes every key expired at `now_ms`, as one write transaction; returns how many.
    pub(super) fn purge(&mut self, now_ms: u64) -> u64 {
        let mut purged = 0;
        while let Some((at, key)) = self.by_expiry.get_min().cloned() {
            if at > now_ms {
                break;
            }
            let removed = self.delete(&key, now_ms);
            debug_assert!(!removed, "a purged key had expired");
            purged += 1;
        }
        self.commit();
        purged
    }

    /// The earliest expiry of any stored key, expired or not.
    pub(super) fn next_expiry_ms(&self) -> Option<u64> {
        self.by_expiry.get_min().map(|(at, _)| *at)
    }

    /// The number of stored keys, expired ones not yet purged included.
    pub(super) fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Every stored key with its slot, expired ones not yet purged included, in key order: what a
    /// snapshot must hold so that a restored replica purges exactly what the others do.
    pub(super) fn iter_all(&self) -> impl Iterator<Item = (&String, &Slot)> + '_ {
        self.by_key.iter()
    }

    /// Every stored key from `start` on, in key order, expired ones included.
    pub(super) fn iter_from<'a>(
        &'a self,
        start: &str,
    ) -> impl Iterator<Item = (&'a String, &'a Slot)> + 'a {
        self.by_key.range(start.to_string()..)
    }

    /// Every key live at `now_ms` with its slot, in key order.
    pub(super) fn iter_live(&self, now_ms: u64) -> impl Iterator<Item = (&String, &Slot)> + '_ {
        self.by_key.iter().filter(move |(_, s)| !s.expired(now_ms))
    }

    /// The events of every kept revision after `after`, oldest first.
    pub(super) fn events_after(
        &self,
        after: u64,
    ) -> impl DoubleEndedIterator<Item = (u64, &Arc<Vec<Event>>)> + '_ {
        self.history
            .range((after.saturating_add(1))..)
            .map(|(rev, events)| (*rev, events))
    }

    /// Every kept revision's events, oldest first (for snapshots).
    pub(super) fn history(&self) -> impl Iterator<Item = (u64, &Arc<Vec<Event>>)> + '_ {
        self.events_after(0)
    }

    /// The number of revisions whose events are kept.
    pub(super) fn history_len(&self) -> usize {
        self.history.len()
    }

    /// Drops the history of every revision below `revision`, which must be above the last
    /// compaction and at most the current revision (the caller checks).
    pub(super) fn compact(&mut self, revision: u64) {
        debug_assert!(revision > self.compact_revision && revision <= self.revision);
        // Removed one by one from the oldest: O(k log n) for k revisions dropped. `OrdMap::split`
        // rebuilds both halves entry by entry, and on 10,000 revisions it held every replica's
        // apply loop (and so its heartbeats) for 30-85 ms at the same log index.
        while let Some(oldest) = self.history.get_min().map(|(r, _)| *r) {
            if oldest >= revision {
                break;
            }
            self.history.remove(&oldest);
        }
        self.compact_revision = revision;
    }

    /// The leases, by id.
    pub(super) fn leases(&self) -> &OrdMap<i64, Lease> {
        &self.leases
    }

    /// Grants lease `id` (which must be new and non-zero).
    pub(super) fn grant_lease(&mut self, id: i64, ttl: i64) {
        self.leases.insert(
            id,
            Lease {
                ttl,
                keys: OrdSet::new(),
            },
        );
    }

    /// Removes lease `id` and deletes its keys in the write transaction under way; false if
    /// there is no such lease.
    pub(super) fn revoke_lease(&mut self, id: i64, now_ms: u64) -> bool {
        let Some(lease) = self.leases.remove(&id) else {
            return false;
        };
        for key in lease.keys.iter() {
            self.delete(key, now_ms);
        }
        true
    }

    /// Restores the counters of a snapshot: the revision, the compaction point.
    pub(super) fn restore_revisions(&mut self, revision: u64, compact_revision: u64) {
        self.revision = revision;
        self.compact_revision = compact_revision;
    }

    /// Adds a revision's events read back from a snapshot, in ascending order.
    pub(super) fn restore_events(
        &mut self,
        revision: u64,
        events: Vec<Event>,
    ) -> Result<(), String> {
        if events.is_empty() {
            return Err(format!("revision {revision} has no events"));
        }
        if revision > self.revision {
            return Err(format!(
                "history revision {revision} is past the store's {}",
                self.revision
            ));
        }
        if let Some((last, _)) = self.history.get_max() {
            if revision <= *last {
                return Err(format!(
                    "history revision {revision} is out of order (after {last})"
                ));
            }
        }
        self.history.insert(revision, Arc::new(events));
        Ok(())
    }

    /// Adds a lease read back from a snapshot (before its keys); refuses a repeated or zero id.
    pub(super) fn restore_lease(&mut self, id: i64, ttl: i64) -> Result<(), String> {
        if id == 0 || self.leases.contains_key(&id) {
            return Err(format!("lease {id} is zero or repeated"));
        }
        self.grant_lease(id, ttl);
        Ok(())
    }

    /// Adds a key read back from a snapshot, which lists keys in ascending order; refuses an empty,
    /// repeated or out-of-order key, a version no write can have, or a lease not restored.
    pub(super) fn restore(&mut self, key: String, slot: Slot) -> Result<(), String> {
        if key.is_empty() {
            return Err("an empty key".to_string());
        }
        if slot.value.version == ABSENT_VERSION {
            return Err(format!("key {key:?} has version {ABSENT_VERSION}"));
        }
        if slot.value.version > self.revision || slot.create_revision > slot.value.version {
            return Err(format!(
                "key {key:?} has revisions {}..{} outside the store's {}",
                slot.create_revision, slot.value.version, self.revision
            ));
        }
        if let Some((last, _)) = self.by_key.get_max() {
            if key <= *last {
                return Err(format!("key {key:?} is out of order (after {last:?})"));
            }
        }
        if slot.lease != 0 {
            match self.leases.get_mut(&slot.lease) {
                Some(l) => {
                    l.keys.insert(key.clone());
                }
                None => {
                    return Err(format!(
                        "key {key:?} names lease {} which is not held",
                        slot.lease
                    ))
                }
            }
        }
        if let Some(at) = slot.expires_at_ms {
            self.by_expiry.insert((at, key.clone()));
        }
        self.by_key.insert(key, slot);
        Ok(())
    }
}
