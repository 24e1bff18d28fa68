//! raftkv: a small, fast, correct replicated data store built on Raft.
//!
//! The message path, one layer per module: `cluster` (ZeroMQ frames ⇄ envelopes) → `replicator`
//! (the actix actor) → `raft` (the pure core) → `storage` (durable log) → `state` (the replicated
//! state machine and transaction logs) → `api` (HTTP), `text` (the memcached-style TCP protocol)
//! and `cli`. The linearizability checker the tests use is a crate of its own (`crates/lincheck`):
//! this library holds only the product.

pub mod api;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod grpc;
pub mod metrics;
pub mod raft;
pub mod replicator;
pub mod security;
pub mod state;
pub mod storage;
pub mod text;
