//! The receiving half: one ROUTER bound to this node's address takes frames from every peer's
//! DEALER, checks them, and hands envelopes to the inbox without ever waiting on the node.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::watch;
use zeromq::{RouterSocket, SocketRecv, ZmqMessage};

use super::counters::{Counter, Counters};
use super::envelope::Envelope;
use super::faults::Faults;
use super::seal::{Kind, OpenError, Opener};
use super::warn_limit::WarnLimit;
use super::wire;
use crate::raft::NodeId;

/// Everything the receive loop needs; moved onto the bridge's runtime.
pub(super) struct Inbound<M> {
    pub my_id: NodeId,
    /// Ids a frame may claim as its sender: the current peers (see `set_peers`), read afresh
    /// for every frame.
    pub senders: watch::Receiver<BTreeSet<NodeId>>,
    pub max_frame_bytes: usize,
    pub inbox: mpsc::Sender<Envelope<M>>,
    pub counters: Counters,
    pub faults: Faults,
    /// Authenticates every frame and refuses replays, before anything decodes it.
    pub opener: Opener,
}

/// One rate limit per kind of drop: a flood of one kind (say undecodable frames) must not hide
/// the first warning of another (an unknown sender), and "similar warnings suppressed" must
/// count only similar ones.
struct Warnings {
    receive: WarnLimit,
    decode: WarnLimit,
    oversized: WarnLimit,
    unknown_sender: WarnLimit,
    auth: WarnLimit,
}

impl Default for Warnings {
    fn default() -> Self {
        let period = Duration::from_secs(1);
        Warnings {
            receive: WarnLimit::new(period),
            decode: WarnLimit::new(period),
            oversized: WarnLimit::new(period),
            unknown_sender: WarnLimit::new(period),
            auth: WarnLimit::new(period),
        }
    }
}

impl<M: DeserializeOwned + Send + 'static> Inbound<M> {
    /// Receives until the runtime is dropped.
    pub(super) async fn run(mut self, mut router: RouterSocket) {
        let mut warn = Warnings::default();
        loop {
            match router.recv().await {
                Ok(message) => self.accept(message, &mut warn),
                Err(e) => {
                    // Not expected (the library handles per-connection errors itself); pause so
                    // a persistent failure cannot spin the bridge's thread.
                    let me = self.my_id;
                    warn.receive
                        .warn(format_args!("node {me}: receive failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// Checks one ROUTER message (`[connection identity, frame]`) and delivers it or counts why not.
    fn accept(&mut self, message: ZmqMessage, warn: &mut Warnings) {
        let me = self.my_id;
        if message.len() != 2 {
            self.counters.incr(Counter::DroppedDecode);
            let parts = message.len().saturating_sub(1);
            warn.decode.warn(format_args!(
                "node {me}: dropped a {parts}-part message (expected 1)"
            ));
            return;
        }
        let Some(frame) = message.get(1) else { return };
        if frame.len() > self.max_frame_bytes {
            self.counters.incr(Counter::DroppedOversized);
            let (len, max) = (frame.len(), self.max_frame_bytes);
            warn.oversized.warn(format_args!(
                "node {me}: dropped a {len}-byte frame (limit {max})"
            ));
            return;
        }
        let opened = match self.opener.open(frame) {
            Ok(opened) if opened.kind == Kind::Data => opened,
            Ok(_) => {
                self.counters.incr(Counter::DroppedDecode);
                warn.decode
                    .warn(format_args!("node {me}: dropped a second hello"));
                return;
            }
            Err(OpenError::Replayed { .. }) => {
                self.counters.incr(Counter::DroppedReplay);
                return;
            }
            Err(e) => {
                self.counters.incr(Counter::DroppedAuth);
                warn.auth
                    .warn(format_args!("node {me}: dropped a frame: {e}"));
                return;
            }
        };
        let (from, msg_id, msg) = match wire::decode::<M>(&opened.plaintext) {
            Ok(decoded) => decoded,
            Err(e) => {
                self.counters.incr(Counter::DroppedDecode);
                warn.decode
                    .warn(format_args!("node {me}: dropped an undecodable frame: {e}"));
                return;
            }
        };
        if !self.senders.borrow().contains(&from) || from != opened.from {
            self.counters.incr(Counter::DroppedUnknownSender);
            let sealer = opened.from;
            warn.unknown_sender.warn(format_args!(
                "node {me}: dropped a frame claiming node {from}, sealed by node {sealer}"
            ));
            return;
        }
        if self.faults.is_blocked(from) {
            self.counters.incr(Counter::DroppedFaultIn);
            return;
        }
        match self.inbox.try_reserve() {
            Ok(slot) => {
                // Counted before it becomes visible, so whoever reads it sees it counted.
                self.counters.incr(Counter::Received);
                self.counters.add_received_bytes(from, frame.len());
                slot.send(Envelope {
                    pid: from,
                    msg_id,
                    msg,
                });
            }
            // Closed means the node stopped reading; either way the envelope is lost, as on a
            // lossy network.
            Err(TrySendError::Full(()) | TrySendError::Closed(())) => {
                self.counters.incr(Counter::DroppedInboxFull);
            }
        }
    }
}
