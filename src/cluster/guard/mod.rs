//! The guard: every byte a node receives from the raft port passes through it before the
//! `zeromq` library sees it.
//!
//! ```text
//!  peer DEALER ──tcp──▶ [inbound guard: ZMTP check, hello auth, limits] ──ipc──▶ our ROUTER
//!  our DEALER ──ipc──▶ [outbound guard: ZMTP check of the answers] ──tcp──▶ peer's guard
//! ```
//! The library allocates whatever length a remote side declares and has no handshake timeout,
//! so it only ever talks to the guard over a private Unix socket (a 0700 directory of the
//! node's own), never to the network. The guard
//! - checks the stream with [`ZmtpValidator`]: greeting, READY, then frames no larger than the
//!   frame limit; anything else closes the connection before a byte of it is forwarded;
//! - admits a connection only when its first frame is a hello sealed with the cluster secret
//!   for this node by a member ([`super::seal`]); until then it is *pending*: it must complete
//!   within `handshake_timeout_ms`, and pending connections are bounded per source address and
//!   in total (the oldest is closed to make room, so a flood cannot lock a member out);
//! - bounds admitted connections per member (a reconnect replaces the stale one) and all
//!   connections in total.
//!
//! The data frames it forwards are still sealed: the receive loop authenticates each one again
//! before decoding it, so the guard is a bound on cost, not the only check.

mod inbound;
mod outbound;
mod zmtp;

pub(super) use inbound::InboundGuard;
pub(super) use outbound::{dial, Relay};
pub use zmtp::{Role, ZmtpError, ZmtpValidator, MAX_COMMAND_BYTES};

/// Longest hello frame accepted: a sealed empty payload.
pub const MAX_HELLO_BYTES: u64 = super::seal::OVERHEAD_BYTES as u64;
