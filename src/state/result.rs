//! What the proposer of an entry gets back once it is applied.

use serde::{Deserialize, Serialize};

use super::kv::{KvRecord, KvValue};
use super::students::Student;
use crate::raft::Index;

/// The outcome of applying one entry (or of answering a read locally). Expected failures are
/// variants too: they are replicated results, identical on every node, not local errors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplyResult {
    /// A leader's no-op was applied.
    Noop,
    /// A student was stored, or an item pushed.
    Written,
    /// A key was stored; `version` is the revision that wrote it (its `mod_revision`).
    Stored {
        /// The key's new version.
        version: Index,
    },
    /// A delete: `true` if the student or key existed.
    Deleted(bool),
    /// A student read.
    Student(Option<Student>),
    /// Every student, by ascending roll number.
    Students(Vec<Student>),
    /// A key read, with the key's version.
    Value(Option<KvValue>),
    /// The id of a created or looked-up stack.
    StackId(u64),
    /// A popped or peeked item.
    Item(i64),
    /// A stack's length.
    Size(u64),
    /// A key read with its version and expiry (`getm`).
    Record(Option<KvRecord>),
    /// A purge removed this many expired keys.
    Purged(u64),
    /// No stack has this id, no stack has this label, or a compare-and-swap found no live key.
    NotFound,
    /// A compare-and-swap found the key at another version: nothing was written.
    VersionMismatch {
        /// The key's current version.
        version: Index,
    },
    /// Pop or top of an empty stack.
    StackEmpty,
    /// The payload did not decode, or the command is invalid (the text says why).
    BadCommand(String),
    /// The request's `seq` is older than the client's last applied one: it was superseded.
    StaleSession,
    /// An etcd operation's answer (which may be an etcd error).
    Etcd(crate::state::mvcc::EtcdResult),
    /// An auth change was applied.
    AuthChanged,
    /// An auth change was refused (nothing changed).
    AuthFailed(crate::state::auth::AuthError),
}

impl ApplyResult {
    /// True for the variants that report a failure to the client.
    pub fn is_error(&self) -> bool {
        matches!(
            self,
            ApplyResult::NotFound
                | ApplyResult::VersionMismatch { .. }
                | ApplyResult::StackEmpty
                | ApplyResult::BadCommand(_)
                | ApplyResult::StaleSession
                | ApplyResult::AuthFailed(_)
        ) || matches!(self, ApplyResult::Etcd(r) if r.outcome.is_err())
    }
}
