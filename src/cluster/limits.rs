//! Every bound the bridge keeps, checked when the cluster starts.

use std::time::Duration;

use super::error::ClusterError;

/// Queue lengths, frame size and timeouts of one bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Frames waiting for one peer's socket. Full: new frames to that peer are dropped and
    /// counted (Raft retransmits), so a dead or slow peer costs at most this much memory.
    pub peer_queue_len: usize,
    /// Envelopes received but not yet taken by the node. Full: new ones are dropped and counted.
    pub inbox_len: usize,
    /// Inbound frames larger than this are dropped. ZeroMQ itself sets no maximum.
    pub max_frame_bytes: usize,
    /// Longest wait for the socket to accept one frame; beyond it the peer counts as stalled and
    /// its connection is rebuilt (which also frees what ZeroMQ queued for it).
    pub send_timeout_ms: u64,
    /// Longest wait for a TCP connect plus the ZeroMQ handshake.
    pub connect_timeout_ms: u64,
    /// Pause between connection attempts to an unreachable peer: starts at `min`, doubles up to
    /// `max`. A small `max` lets a restarted peer be reached again within tens of milliseconds.
    pub reconnect_backoff_ms_min: u64,
    pub reconnect_backoff_ms_max: u64,
    /// Longest time a new inbound connection may take to complete the ZeroMQ handshake and
    /// authenticate with its hello; then it is closed.
    pub handshake_timeout_ms: u64,
    /// Inbound connections open at once, pending and admitted; more are closed on accept.
    pub max_connections: usize,
    /// Inbound connections not yet authenticated, in total; beyond it the oldest is closed.
    pub max_pending: usize,
    /// Inbound connections not yet authenticated from one source address; beyond it that
    /// address's oldest is closed.
    pub max_pending_per_source: usize,
    /// Authenticated inbound connections per member; a reconnect beyond it closes the oldest.
    pub max_sessions_per_peer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            peer_queue_len: 1024,
            inbox_len: 8192,
            // Twice the config's cap on a value, so one Append carrying the largest value fits.
            max_frame_bytes: 2 * crate::config::MAX_VALUE_BYTES_LIMIT as usize,
            send_timeout_ms: 500,
            connect_timeout_ms: 250,
            reconnect_backoff_ms_min: 5,
            reconnect_backoff_ms_max: 40,
            handshake_timeout_ms: 1000,
            max_connections: 128,
            max_pending: 64,
            max_pending_per_source: 16,
            max_sessions_per_peer: 2,
        }
    }
}

impl Limits {
    /// Refuses zero-sized queues, zero timeouts and an inverted backoff range.
    pub fn validate(&self) -> Result<(), ClusterError> {
        let bad = |why: &str| Err(ClusterError::InvalidLimits(why.to_string()));
        if self.peer_queue_len == 0 || self.inbox_len == 0 {
            return bad("peer_queue_len and inbox_len must be at least 1");
        }
        if self.max_frame_bytes == 0 {
            return bad("max_frame_bytes must be at least 1");
        }
        if self.send_timeout_ms == 0
            || self.connect_timeout_ms == 0
            || self.handshake_timeout_ms == 0
        {
            return bad(
                "send_timeout_ms, connect_timeout_ms and handshake_timeout_ms must be at least 1",
            );
        }
        if self.max_pending == 0
            || self.max_pending_per_source == 0
            || self.max_sessions_per_peer == 0
            || self.max_connections < self.max_pending
        {
            return bad("need max_pending, max_pending_per_source, max_sessions_per_peer >= 1 and max_connections >= max_pending");
        }
        if self.max_frame_bytes <= super::seal::OVERHEAD_BYTES {
            return bad("max_frame_bytes must exceed the sealing overhead");
        }
        if self.reconnect_backoff_ms_min == 0
            || self.reconnect_backoff_ms_max < self.reconnect_backoff_ms_min
        {
            return bad("need 1 <= reconnect_backoff_ms_min <= reconnect_backoff_ms_max");
        }
        Ok(())
    }

    pub(super) fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.send_timeout_ms)
    }

    pub(super) fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms)
    }

    pub(super) fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}
