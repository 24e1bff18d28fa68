//! The bridge between a node's envelopes and ZeroMQ.
//!
//! ```text
//!  node ──Outbox::send──▶ per-peer bounded queue ──▶ DEALER ──tcp──▶ peer's ROUTER
//!  node ◀──inbox (mpsc)── checks (size, decode, sender, faults) ◀── ROUTER ◀──tcp── peers' DEALERs
//!  node ──set_peers──▶ queues, accepted senders, faults (at once) ──▶ bridge thread: start/stop links
//! ```
//! Each node binds one ROUTER for everything it receives and owns one DEALER per peer for what it
//! sends; each socket carries traffic one way. A frame is the MessagePack array
//! `[from, msg_id, msg]` ([`wire`]). Delivery is best effort, as Raft assumes: a full queue, an
//! unreachable or stalled peer, a malformed frame all drop the envelope and bump a counter, and
//! never block the node or grow memory beyond the [`Limits`]. An envelope queued for a peer that
//! is listening is delivered: queued frames are dropped as unreachable only when a connection
//! attempt that began after they were queued fails.
//!
//! The peers are those given to [`Cluster::start`] (possibly none: a node waiting to join a
//! cluster) until [`ClusterHandle::set_peers`] changes them, as membership changes do. The
//! outbox, the senders accepted and the fault switch change at once; the bridge thread then
//! starts a DEALER for a new peer, stops a removed one's and closes its inbound connections, and
//! reconnects a moved one at its new address.

mod bridge;
mod counters;
mod envelope;
mod error;
mod faults;
pub mod guard;
mod inbound;
mod limits;
mod links;
mod outbound;
mod outbox;
mod peers;
pub mod seal;
mod warn_limit;
pub mod wire;

pub use bridge::{Cluster, ClusterHandle, PeerAuth};
pub use counters::{CounterSnapshot, Counters, PeerBytes};
pub use envelope::{Envelope, BROADCAST};
pub use error::{ClusterError, OutboxError};
pub use faults::Faults;
pub use limits::Limits;
pub use outbox::Outbox;
