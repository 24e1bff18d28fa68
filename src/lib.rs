//! raftkv: a small, fast, correct replicated data store built on Raft.
//!
//! The message path, one layer per module: `cluster` (ZeroMQ frames ⇄ envelopes) → `replicator`
//! (the actix actor) → `raft` (the pure core) → `storage` (durable log) → `state` (the replicated
//! state machine and transaction logs) → `api` (HTTP) and `cli`.

pub mod lincheck;
pub mod raft;
