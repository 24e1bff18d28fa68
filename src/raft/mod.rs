//! The Raft core: a deterministic state machine with no I/O, no clock, no threads.
//!
//! Time enters as [`Raft::tick`], randomness through an injected seeded RNG, messages through
//! [`Raft::step`], client work through [`Raft::propose`] and [`Raft::read_index`]. Every effect the
//! caller must carry out comes back from [`Raft::take_output`] as an [`Output`], whose doc states the
//! order in which persisting and sending must happen.

mod config;
mod early;
mod election;
mod host;
mod log;
mod membership;
mod message;
mod node;
mod output;
mod progress;
mod read_index;
mod reconfig;
mod replication;
mod snapshot;
mod types;

pub use config::{Config, ConfigError, InjectedBug};
pub use host::{Host, Rest, Sequencer};
pub use log::RaftLog;
pub use membership::{Membership, MembershipEntry, MAX_MEMBERS};
pub use message::{Body, ConflictHint, Message};
pub use node::{ChangeError, ProposeError, Raft, ReadError, Restored, Status};
pub use output::{Output, ReadState, SnapshotChunk, SnapshotSend};
pub use snapshot::ChunkOut;
pub use types::{Entry, HardState, Index, NodeId, Payload, Role, Term};
