//! What the outside world asks a replicator, as actix messages, and the errors it can answer with.

use actix::Message;
use serde::Serialize;
use thiserror::Error;

use crate::raft::{Index, NodeId, Role, Term};
use crate::state::{ApplyResult, Command, Request};

/// Why a client request did not produce a result. Each variant maps to one HTTP status in `api`.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ClientError {
    /// This node does not lead; `leader` is the one it follows, if known.
    #[error("not the leader")]
    NotLeader { leader: Option<NodeId> },
    /// No leader is known (an election is under way, or there is no quorum).
    #[error("no leader is known")]
    NoLeader,
    /// The request was handed to Raft but its fate was not learned in time: it may or may not
    /// take effect.
    #[error("timed out; the outcome is unknown")]
    Timeout,
    /// The request definitely did not take effect (its log slot went to another leader's entry).
    #[error("the request was dropped by a leader change; it did not take effect")]
    Dropped,
    /// Too many requests in flight; retry later.
    #[error("busy: too many requests in flight")]
    Busy,
    /// The node is shutting down.
    #[error("the node is stopping")]
    Stopping,
    /// Refused for now, for a reason that passes (a membership change still in progress).
    #[error("{0}; retry shortly")]
    Retry(String),
    /// The request cannot succeed as asked (a membership change that makes no sense).
    #[error("{0}")]
    Invalid(String),
    /// The cluster holds as many of something as it allows (leases, `max_leases`); the request
    /// may succeed once some are released.
    #[error("{0}")]
    Limit(String),
}

/// How a read is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Consistency {
    /// ReadIndex through the leader: reflects every write acknowledged before the read began.
    #[default]
    Linearizable,
    /// This node's applied state, without a round trip: may be stale.
    Local,
    /// Through the Raft log like a write, so every node's transaction log records it.
    Log,
}

/// An applied request's result and the log index it was applied at (or read at).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub index: Index,
    pub result: ApplyResult,
}

/// Proposes a write (or any command) through the log; resolves once applied on this node.
pub struct Propose(pub Request);

impl Message for Propose {
    type Result = Result<Answer, ClientError>;
}

/// Serves a read command with the given consistency.
pub struct Read {
    pub command: Command,
    pub consistency: Consistency,
}

impl Message for Read {
    type Result = Result<Answer, ClientError>;
}

/// A node's view of itself, as `GET /v1/status` shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct NodeStatus {
    pub id: NodeId,
    pub role: Role,
    pub term: Term,
    pub leader: Option<NodeId>,
    pub commit_index: Index,
    pub applied_index: Index,
    pub last_log_index: Index,
    /// The newest snapshot this node holds (0: none), and the first log index it holds in
    /// memory (entries before it were compacted).
    pub snapshot_index: Index,
    pub first_log_index: Index,
}

/// Asks for [`NodeStatus`].
pub struct GetStatus;

impl Message for GetStatus {
    type Result = NodeStatus;
}

/// One member as `GET /v1/members` lists it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Member {
    pub id: NodeId,
    pub raft: String,
    pub http: String,
    pub text: Option<String>,
    pub grpc: Option<String>,
    /// Receives the log but does not vote.
    pub is_learner: bool,
    /// A learner the leader promotes once it has caught up.
    pub promote: bool,
    /// This node's belief: `leader` for the leader it follows, `self` role for itself, else `follower`
    /// or `unknown` when no leader is known.
    pub role: String,
    /// Known only on the leader.
    pub match_index: Option<Index>,
}

/// A change to the cluster's membership, one server at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberChange {
    /// Adds a node as a learner; unless `learner`, the leader promotes it to voter once it has
    /// caught up.
    Add {
        member: super::members::MemberAddrs,
        learner: bool,
    },
    /// Removes a voter or learner (the leader itself included: it hands off once this commits).
    Remove(NodeId),
    /// Makes a learner a voter.
    Promote(NodeId),
}

/// Proposes a membership change (leader only); resolves once the change is applied here.
pub struct ChangeMembership(pub MemberChange);

impl Message for ChangeMembership {
    type Result = Result<Answer, ClientError>;
}

/// Asks for the member list.
pub struct GetMembers;

impl Message for GetMembers {
    type Result = Vec<Member>;
}

/// Asks for [`NodeView`].
pub struct GetView;

impl Message for GetView {
    type Result = NodeView;
}

/// What the cluster view (`/ui`, `GET /v1/view`, `GET /v1/events`) shows of one node: its Raft
/// state, a leader's view of each follower, and the bytes it exchanged with each peer so far
/// (rates are the differences between two views).
#[derive(Clone, Debug, Serialize)]
pub struct NodeView {
    #[serde(flatten)]
    pub status: NodeStatus,
    /// Whom this node voted for in its term.
    pub vote: Option<NodeId>,
    /// Leader only: each follower's match and next index.
    pub progress: Vec<PeerProgress>,
    /// Bytes of frames sent to and received from each peer since the node started.
    pub peers: Vec<PeerTraffic>,
}

/// A leader's knowledge of one follower's log.
#[derive(Clone, Debug, Serialize)]
pub struct PeerProgress {
    pub id: NodeId,
    pub match_index: Index,
    pub next_index: Index,
}

/// Bytes exchanged with one peer.
#[derive(Clone, Debug, Serialize)]
pub struct PeerTraffic {
    pub id: NodeId,
    pub sent_bytes: u64,
    pub received_bytes: u64,
}

/// Asks for the whole state machine as JSON.
pub struct GetState;

impl Message for GetState {
    type Result = serde_json::Value;
}

/// Asks the leader for a frozen view of its applied state and the membership, to stream as a
/// backup (`GET /v1/snapshot`): an O(1) clone, written elsewhere while the node goes on.
pub struct SnapshotView;

impl Message for SnapshotView {
    type Result = Result<(crate::state::StateMachine, crate::raft::MembershipEntry), ClientError>;
}

/// Asks for the node's metrics, with the gauges that copy the core's state set first.
pub struct GetMetrics;

impl Message for GetMetrics {
    type Result = crate::metrics::NodeMetrics;
}

/// Hands leadership to another node if this one leads (used before a graceful stop).
pub struct TransferLeadership(pub Option<NodeId>);

impl Message for TransferLeadership {
    type Result = Result<(), ClientError>;
}

/// Stops the replicator. The answer comes only once the node is fully down: its client requests
/// failed with [`ClientError::Stopping`], its raft port closed and free to bind again, and every
/// log batch it had accepted written and synced. A replicator can then be built again from the
/// same config and data directory in the same process (tests restart nodes this way).
pub struct Stop;

impl Message for Stop {
    type Result = ();
}

/// The cluster layer's test-only fault switch, or `None` unless the config sets
/// `test_faults = true` (so a production node can never be partitioned through its API).
pub struct GetFaults;

impl Message for GetFaults {
    type Result = Option<crate::cluster::Faults>;
}
