//! The key-value store: byte values keyed by string, each with the index of its last write and an
//! optional expiry on the state machine's clock.

use bytes::Bytes;
use imbl::{OrdMap, OrdSet};
use serde::{Deserialize, Serialize};

use super::result::ApplyResult;
use crate::raft::Index;

/// The version a compare-and-swap names to mean "the key does not exist (or has expired)", like
/// etcd's `version(key) = 0`. No live key has it: a version is the index that wrote the key.
pub const ABSENT_VERSION: Index = 0;

/// A stored value and its version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvValue {
    /// The bytes last written.
    pub value: Bytes,
    /// The Raft index of the entry that last wrote this key: it only grows, and is the same on every
    /// replica, so clients can use it for compare-and-set.
    ///
    /// Invariant: at least 1 (log indexes start at 1), which leaves [`ABSENT_VERSION`] free to
    /// mean "no such key" in a compare.
    pub version: Index,
}

/// A live key as `getm` and `GET ?meta=true` show it: value, version and expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvRecord {
    /// The bytes last written.
    pub value: Bytes,
    /// The index of the entry that last wrote the key.
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

/// One key's value and expiry.
#[derive(Clone, Debug)]
pub(super) struct Slot {
    pub(super) value: KvValue,
    pub(super) expires_at_ms: Option<u64>,
}

impl Slot {
    /// Expired at `now_ms`: the expiry is at or before it.
    fn expired(&self, now_ms: u64) -> bool {
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
}

/// All keys, ordered so that JSON is the same on every node. Persistent maps: a clone is O(1) and
/// shares every node until one side writes (see the module docs of [`crate::state`]).
///
/// An expired key stays in `by_key` until a purge removes it, but every read treats it as absent.
/// Invariant: `by_expiry` holds exactly one `(expires_at_ms, key)` per slot that has an expiry.
#[derive(Clone, Debug, Default)]
pub(super) struct KvStore {
    by_key: OrdMap<String, Slot>,
    by_expiry: OrdSet<(u64, String)>,
}

impl KvStore {
    /// Sets `key`, written by the entry at `index`, expiring at `expires_at_ms` (`None`: never).
    pub(super) fn put(
        &mut self,
        key: String,
        value: Bytes,
        index: Index,
        expires_at_ms: Option<u64>,
    ) {
        assert!(
            index != ABSENT_VERSION,
            "a key's version is the index that wrote it, never {ABSENT_VERSION}"
        );
        if let Some(old_at) = self.by_key.get(&key).and_then(|s| s.expires_at_ms) {
            self.by_expiry.remove(&(old_at, key.clone()));
        }
        if let Some(at) = expires_at_ms {
            self.by_expiry.insert((at, key.clone()));
        }
        let slot = Slot {
            value: KvValue {
                value,
                version: index,
            },
            expires_at_ms,
        };
        self.by_key.insert(key, slot);
    }

    /// Compare-and-swap: sets `key` as [`KvStore::put`] does, but only if it is live at `now_ms`
    /// with version `expected_version`, or, when that is [`ABSENT_VERSION`], only if it is not.
    pub(super) fn cas(
        &mut self,
        key: String,
        value: Bytes,
        index: Index,
        expires_at_ms: Option<u64>,
        expected_version: Index,
        now_ms: u64,
    ) -> ApplyResult {
        // Version 0 was never a live key's, so before "absent" had a meaning every such compare
        // failed; entries written then still fail the same way when their key exists.
        match (self.get(&key, now_ms), expected_version) {
            (None, ABSENT_VERSION) => {
                self.put(key, value, index, expires_at_ms);
                ApplyResult::Stored { version: index }
            }
            (None, _) => ApplyResult::NotFound,
            (Some(slot), expected) if slot.value.version != expected => {
                ApplyResult::VersionMismatch {
                    version: slot.value.version,
                }
            }
            (Some(_), _) => {
                self.put(key, value, index, expires_at_ms);
                ApplyResult::Stored { version: index }
            }
        }
    }

    /// Removes a key; true if it existed and had not expired at `now_ms`.
    pub(super) fn delete(&mut self, key: &str, now_ms: u64) -> bool {
        match self.by_key.remove_with_key(key) {
            Some((key, slot)) => {
                if let Some(at) = slot.expires_at_ms {
                    self.by_expiry.remove(&(at, key));
                }
                !slot.expired(now_ms)
            }
            None => false,
        }
    }

    /// The slot of a key that is live at `now_ms`.
    pub(super) fn get(&self, key: &str, now_ms: u64) -> Option<&Slot> {
        self.by_key.get(key).filter(|slot| !slot.expired(now_ms))
    }

    /// Removes every key expired at `now_ms`; returns how many.
    pub(super) fn purge(&mut self, now_ms: u64) -> u64 {
        let mut purged = 0;
        while let Some((at, _)) = self.by_expiry.get_min() {
            if *at > now_ms {
                break;
            }
            let (_, key) = self.by_expiry.remove_min().expect("checked above");
            let removed = self.by_key.remove(&key);
            debug_assert!(removed.is_some(), "by_expiry names only stored keys");
            purged += 1;
        }
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

    /// Adds a key read back from a snapshot, which lists keys in ascending order; refuses an empty,
    /// repeated or out-of-order key, or a version no write can have.
    pub(super) fn restore(
        &mut self,
        key: String,
        value: KvValue,
        expires_at_ms: Option<u64>,
    ) -> Result<(), String> {
        if key.is_empty() {
            return Err("an empty key".to_string());
        }
        if value.version == ABSENT_VERSION {
            return Err(format!("key {key:?} has version {ABSENT_VERSION}"));
        }
        if let Some((last, _)) = self.by_key.get_max() {
            if key <= *last {
                return Err(format!("key {key:?} is out of order (after {last:?})"));
            }
        }
        self.put(key, value.value, value.version, expires_at_ms);
        Ok(())
    }

    /// Every key live at `now_ms` with its slot, in key order.
    pub(super) fn iter_live(&self, now_ms: u64) -> impl Iterator<Item = (&String, &Slot)> + '_ {
        self.by_key.iter().filter(move |(_, s)| !s.expired(now_ms))
    }
}
