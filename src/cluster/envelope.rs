//! The unit the replicator exchanges with the cluster: a message plus who it is for or from.

use crate::raft::NodeId;

/// The destination id that reaches every peer (never a valid node id: the config refuses it).
pub const BROADCAST: NodeId = u64::MAX;

/// A message on its way to or from a peer.
///
/// On the outbox `pid` is the destination (or [`BROADCAST`]); on the inbox it is the sender, as
/// stated inside the frame — never inferred from the connection it arrived on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<M> {
    /// Destination (outbox) or sender (inbox).
    pub pid: NodeId,
    /// Chosen by the sender; carried unchanged so replies and logs can refer to it.
    pub msg_id: u64,
    /// The payload, any serde type both ends agree on.
    pub msg: M,
}
