//! The key-value store: byte values keyed by string, each with the index of its last write.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::raft::Index;

/// A stored value and its version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvValue {
    /// The bytes last written.
    pub value: Bytes,
    /// The Raft index of the entry that last wrote this key: it only grows, and is the same on every
    /// replica, so clients can use it for compare-and-set.
    pub version: Index,
}

/// All keys, ordered so that JSON is the same on every node.
#[derive(Clone, Debug, Default)]
pub(super) struct KvStore {
    by_key: BTreeMap<String, KvValue>,
}

impl KvStore {
    /// Sets `key`, written by the entry at `index`.
    pub(super) fn put(&mut self, key: String, value: Bytes, index: Index) {
        self.by_key.insert(
            key,
            KvValue {
                value,
                version: index,
            },
        );
    }

    /// Removes a key; true if it existed.
    pub(super) fn delete(&mut self, key: &str) -> bool {
        self.by_key.remove(key).is_some()
    }

    /// The value and version of a key.
    pub(super) fn get(&self, key: &str) -> Option<&KvValue> {
        self.by_key.get(key)
    }

    /// Every key with its value, in key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&String, &KvValue)> + '_ {
        self.by_key.iter()
    }
}
