//! The replicated state machine and the per-node transaction log files.
//!
//! The Raft core hands committed entries over in order; [`StateMachine::apply`] turns each into an
//! [`ApplyResult`] for the proposer, and [`TxLog`] writes one human-readable line per entry so that
//! the history of every node can be compared by eye. Nothing here knows about Raft messages,
//! networks or clocks: the same entries always produce the same state, the same results, the same
//! JSON and the same log lines on every replica.
//!
//! # Data
//! - **students**: records keyed by roll number;
//! - **key-value**: byte values keyed by string, kept as etcd's MVCC keeps them (see
//!   [`mvcc`] and the module docs of `kv.rs`): a store-wide *revision* that grows by one with each
//!   write transaction, per key its create and mod revisions and its count of writes, the events of
//!   recent revisions (for reads at an older revision and for watches) and etcd leases;
//! - **stacks** of `i64`, created under an `i64` label and addressed by an id (1, 2, … in order of
//!   creation).
//!
//! # Versions, compare-and-swap and expiry
//! A key's version, as raftkv's own API shows it, is the revision that last wrote it (etcd's
//! `mod_revision`). The store starts at revision 1, like etcd's, so the first write is at 2; a
//! failed swap, a read, a delete of nothing or a no-op takes no revision. [`Command::KvCas`]
//! writes only if the key is live at `expected_version`; otherwise it fails with
//! [`ApplyResult::VersionMismatch`] (naming the current version) or, for a missing or expired key,
//! [`ApplyResult::NotFound`]. Version 0 ([`ABSENT_VERSION`]) is no key's: a swap expecting it
//! creates the key if it is missing or expired, and otherwise fails naming the current version
//! (etcd's `version(key) = 0` compare).
//!
//! Expiry must come out the same on every replica, so the state machine never reads a clock. The
//! leader stamps every entry it proposes with its wall clock ([`Request::stamp_ms`]); the state
//! machine's clock ([`StateMachine::now_ms`]) is the largest stamp applied so far, so it never goes
//! back even when a new leader's clock is behind the old one's. A write with `ttl_secs > 0` expires
//! at its own stamp plus the ttl; a key is expired once the clock reaches that instant. Expired
//! keys answer "not found" to every read, CAS and delete at once, and the leader proposes
//! [`Command::KvPurge`] once its clock passes the earliest expiry, to free their memory.
//!
//! Precision: the clock advances only when a stamped entry is applied, so a read can see a key
//! for a little while after its expiry on the leader's wall clock — until the next write or the
//! leader's purge is applied (the purge timer's period plus one commit, about a tenth of a second
//! on a healthy cluster; longer while there is no leader). A key never expires early by more than
//! the skew between the clock of the leader that wrote it and the one that purges it. The
//! remaining time shown to clients is measured against the same clock, so it may be overstated by
//! the same margin.
//!
//! # Exactly-once sessions
//! A [`Request`] may carry a [`Session`] `(client_id, seq)`. The state machine keeps, per client, the
//! last applied `seq`, its result and the Raft index where it was applied:
//! - `seq` equal to the last applied one: the cached result is returned, nothing is applied again
//!   (the client retried a request that had in fact been committed);
//! - `seq` lower: [`ApplyResult::StaleSession`], nothing is applied;
//! - `seq` higher (or a client not in the table): the command is applied and its result cached.
//!
//! The table is part of the replicated state and is bounded by [`StateConfig::max_sessions`]. When a
//! new client arrives and the table is full, the client whose last request was applied at the
//! **lowest Raft index** is evicted. Every replica applies the same entries, so every replica evicts
//! the same client. An evicted client that later retries an old request is treated as new, so the
//! bound trades exactly-once for memory only for clients idle longer than `max_sessions` others.
//! Replays and stale requests do not refresh a client's position: only applying does.
//!
//! # Consistent views
//! Every collection is a persistent ordered map or vector from the `imbl` crate (a B-tree whose
//! nodes are shared through reference counts), iterated in key order like the `BTreeMap`s they
//! replaced. So [`StateMachine::clone`] is O(1): the clone shares every node with the original.
//! When the applying side then writes, it copies only the nodes on the path to what it changes
//! (copy-on-write), leaving the clone's view intact. A node takes a snapshot by cloning its state
//! on the actor — a frozen view as of one applied index — and handing the clone to another thread,
//! which writes it with [`write_snapshot`] while entries go on being applied. The cost is paid
//! only while a clone is alive, and only for the nodes written meanwhile.
//!
//! # Snapshot format (version 1)
//! One file (or stream) holding the whole state, written and read one record at a time:
//!
//! ```text
//! magic        8 bytes   89 52 4B 56 53 4E 50 0A  ("\x89RKVSNP\n")
//! version      u32 LE    1
//! records      each: kind u8 | length u32 LE | payload (MessagePack) | CRC-32 u32 LE
//!                        (the CRC covers kind, length and payload)
//!   header     kind 1, once, first: [index, term, now_ms, next_stack_id, [voters…],
//!                                     [students, keys, stacks, sessions]]
//!   student    kind 2, one per student, by roll number: [roll_no, name, address, phone]
//!   key        kind 3, one per stored key, by key: [key, value (bin), version, expires_at_ms|nil]
//!   stack      kind 4, one per stack, by id: [id, label, item count], then its items in
//!   items      kind 5  records of at most 8192 items each: [item, …] (bottom first)
//!   session    kind 6, one per client, by id: [client_id, last_seq, last_index, result]
//! trailer      0xFF | length of everything before the trailer u64 LE | CRC-32 of it u32 LE
//! ```
//!
//! The framing's integers are little-endian; payloads are rmp-serde's compact MessagePack (structs
//! as arrays, so field order is the format; `result` is [`ApplyResult`]'s serde form). Expired keys not yet
//! purged are kept, so a restored replica purges the same keys as the others; the stacks' label
//! index, the keys' expiry index and the sessions' eviction order (by `last_index`) are rebuilt
//! from the records rather than stored.
//!
//! Damage is caught at three levels: each record's CRC (the error names the record and its byte
//! offset), the trailer's length and whole-file CRC (a truncated or extended file, a damaged
//! preamble), and the header's counts (a record lost or added). Every length read is bounded
//! ([`MAX_RECORD_BYTES`], [`MAX_VOTERS`]) before anything is allocated for it, and the restored
//! state's invariants are checked record by record (keys in order and non-empty, versions and
//! session indexes within the snapshot's index, stack ids running 1, 2, 3, … up to the next-id
//! counter with unique labels, no more sessions than [`StateConfig::max_sessions`] and no two at
//! one index), so no input makes the reader panic or yields a machine that would. [`inspect`] walks a file's checksums without restoring it.

pub mod auth;
mod command;
mod config;
mod kv;
mod machine;
pub mod mvcc;
mod result;
mod sessions;
mod snapshot;
mod stacks;
mod students;
mod txlog;
mod view;

pub use command::{decode, encode, Command, DecodeError, Operation, Request, Session};
pub use config::{StateConfig, StateConfigError};
pub use kv::{Event, EventKind, KeyValue, KvRecord, KvValue, ABSENT_VERSION, FIRST_REVISION};
pub use machine::{Applied, StateMachine};
pub use result::ApplyResult;
pub use snapshot::{
    inspect, read_snapshot, read_snapshot_file, write_snapshot, write_snapshot_file,
    SnapshotCounts, SnapshotError, SnapshotMeta, SnapshotStatus, SnapshotSummary, ETCD_HASH_BYTES,
    ETCD_PAGE_BYTES, MAX_RECORD_BYTES, MAX_VOTERS, SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC,
};
pub use stacks::StackError;
pub use students::Student;
pub use txlog::{verify, StaleTxLog, TxLog, TxLogError, TxLogOptions};
