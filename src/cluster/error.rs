//! Failures of the cluster layer that its caller must handle.

use thiserror::Error;

use crate::raft::NodeId;

/// Why a cluster bridge could not start, or a request to it was refused.
#[derive(Debug, Error)]
pub enum ClusterError {
    /// A limit is zero or inconsistent.
    #[error("invalid cluster limits: {0}")]
    InvalidLimits(String),
    /// The peer map does not contain this node, so there is no address to listen on.
    #[error("node {0} is not in the peer map")]
    NotAMember(NodeId),
    /// Ids 0 and [`super::BROADCAST`] are reserved.
    #[error("node id {0} is reserved")]
    ReservedId(NodeId),
    /// The listening address is in use or not local.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: crate::config::Address,
        #[source]
        source: std::io::Error,
    },
    /// The bridge's thread or runtime could not be created, or failed while starting.
    #[error("cannot start the cluster bridge: {0}")]
    Start(String),
    /// Not a member of this cluster (for example in [`super::Faults::block`]).
    #[error("no peer with id {0}")]
    UnknownPeer(NodeId),
}

/// Why an envelope was not accepted by the outbox. Queue-full drops are not errors (the frame is
/// counted and Raft retransmits); these are mistakes of the caller or a stopped bridge.
#[derive(Debug, Error)]
pub enum OutboxError {
    /// The destination is neither a peer nor [`super::BROADCAST`] (sending to oneself included).
    #[error("no peer with id {0}")]
    UnknownPeer(NodeId),
    /// The message could not be serialised.
    #[error("cannot encode the message: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    /// The bridge has been shut down.
    #[error("the cluster bridge is shut down")]
    Closed,
}
