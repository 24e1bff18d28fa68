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
//! - **key-value**: byte values keyed by string, each with a *version*, the Raft index of the entry
//!   that last wrote it;
//! - **stacks** of `i64`, created under an `i64` label and addressed by an id (1, 2, … in order of
//!   creation).
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

mod command;
mod config;
mod kv;
mod machine;
mod result;
mod sessions;
mod stacks;
mod students;
mod txlog;
mod view;

pub use command::{decode, encode, Command, DecodeError, Operation, Request, Session};
pub use config::{StateConfig, StateConfigError};
pub use kv::KvValue;
pub use machine::{Applied, StateMachine};
pub use result::ApplyResult;
pub use stacks::StackError;
pub use students::Student;
pub use txlog::{TxLog, TxLogError};
