//! Identifiers, log entries and the hard state: the vocabulary shared by the core, storage and the wire.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::membership::MembershipEntry;

/// A node's identity in the cluster. `0` is reserved (never a valid node id).
pub type NodeId = u64;
/// A Raft term (§5.1). Terms only grow.
pub type Term = u64;
/// A position in the replicated log. The first real entry of a fresh log is index 1; index 0 is the
/// empty prefix whose term is 0.
pub type Index = u64;

/// What an entry carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    /// Appended by every new leader at the start of its term, so that it can commit (§5.4.2, §8).
    Noop,
    /// An opaque command for the state machine.
    Command(Bytes),
    /// A new cluster configuration, in effect from the moment it is appended (thesis §4.1).
    Membership(MembershipEntry),
}

/// One slot of the replicated log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub index: Index,
    pub term: Term,
    pub payload: Payload,
}

impl Entry {
    /// Approximate encoded size, used for the per-message byte limit.
    pub fn size_bytes(&self) -> usize {
        const OVERHEAD: usize = 24;
        OVERHEAD
            + match &self.payload {
                Payload::Noop => 0,
                Payload::Command(data) => data.len(),
                Payload::Membership(m) => m.encoded_len(),
            }
    }
}

/// The state that must survive a crash besides the log itself (Figure 2: currentTerm, votedFor).
/// `commit` is persisted lazily as a hint so a restarted node can apply without waiting for a leader;
/// it is never ahead of what a majority holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    pub term: Term,
    pub vote: Option<NodeId>,
    pub commit: Index,
}

/// The role a node plays in its current term.
///
/// Serialized (`/v1/status`, `/v1/members`, the CLI's JSON) lowercase, as [`Role`]'s `Display`
/// writes it: one spelling everywhere, so a consumer compares with `"leader"` only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Follower,
    /// Collecting pre-votes: has not bumped its term yet (§9.6 of the Raft thesis).
    PreCandidate,
    Candidate,
    Leader,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        };
        f.write_str(s)
    }
}
