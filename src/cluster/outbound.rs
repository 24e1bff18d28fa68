//! The sending half toward one peer: a task that owns a DEALER connected to the peer's ROUTER,
//! drains the peer's bounded queue into it, and rebuilds the socket whenever the connection is
//! lost, because zeromq 0.7 DEALERs never reconnect on their own. The DEALER reaches the peer
//! through the outbound guard's relay ([`super::guard::dial`]); its first frame on every
//! connection is a sealed hello, and every frame after it is sealed ([`super::seal`]). The
//! bridge starts and stops these tasks as the peer set changes ([`super::links`]).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;
use zeromq::{
    DealerRecvHalf, DealerSendHalf, DealerSocket, Socket, SocketEvent, SocketOptions, SocketRecv,
    SocketSend, ZmqMessage,
};

use super::counters::{Counter, Counters};
use super::guard::{self, Relay};
use super::limits::Limits;
use super::seal::{Kind, Sealer};
use crate::config::Address;
use crate::raft::NodeId;

/// Frames sent in one go before the task looks at connection events again.
const BATCH_MAX: usize = 256;

/// One peer's outbound path; moved onto the bridge's runtime.
pub(super) struct PeerLink {
    pub my_id: NodeId,
    pub peer: NodeId,
    /// Looked up again on every connection attempt, so a peer back at a new IP is found.
    pub addr: Address,
    pub queue: mpsc::Receiver<Bytes>,
    pub limits: Limits,
    pub counters: Counters,
    /// The bridge's private directory, where relay sockets live.
    pub dir: PathBuf,
    /// This node's session toward the peer: one for the bridge's lifetime, across reconnects
    /// and across links restarted by a change of the peer set, so counters keep rising and the
    /// peer can refuse replays. Shared with the bridge, which outlives any one link; only the
    /// peer's current link ever locks it.
    pub sealer: Arc<Mutex<Sealer>>,
    /// Which link to this peer this is (the bridge numbers them), naming relay sockets
    /// uniquely even while a stopped link's relay is still being dropped.
    pub generation: u64,
    /// Connection attempts so far, naming each relay socket uniquely.
    pub attempts: u64,
}

/// A live connection: the DEALER's halves and its event stream.
struct Session {
    /// Ends with the session; dropping it closes the TCP connection.
    _relay: Relay,
    tx: DealerSendHalf,
    /// Never carries data (the peer's ROUTER does not answer); polled so that the library sees
    /// the peer close the connection and reports `Disconnected` at once, not on a later write.
    rx: DealerRecvHalf,
    events: futures::channel::mpsc::Receiver<SocketEvent>,
}

/// Why a session ended.
enum End {
    /// The connection failed or stalled: build a new one.
    Lost,
    /// Every outbox handle is gone: nothing will ever be sent again.
    Closed,
}

impl PeerLink {
    /// Connects, pumps, reconnects, until the outbox is dropped or the runtime shuts down.
    pub(super) async fn run(mut self) {
        let min = Duration::from_millis(self.limits.reconnect_backoff_ms_min);
        let max = Duration::from_millis(self.limits.reconnect_backoff_ms_max);
        let mut backoff = min;
        let mut ever_connected = false;
        loop {
            // Frames queued for an unreachable peer are stale by the time it returns; Raft
            // resends what still matters, so a failed attempt frees the queue for fresh ones.
            // Only of the frames queued before the attempt began, though: one sent while the
            // attempt was under way may be for a peer that has only just started listening.
            let stale = self.queue.len();
            let Some(session) = self.connect().await else {
                if !self.drop_stale(stale) {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(max);
                continue;
            };
            backoff = min;
            self.counters.incr(Counter::Connects);
            if ever_connected {
                self.counters.incr(Counter::Reconnects);
            }
            ever_connected = true;
            log::debug!(
                "node {}: connected to node {} at {}",
                self.my_id,
                self.peer,
                self.addr
            );
            match self.pump(session).await {
                End::Lost => log::debug!("node {}: lost node {}", self.my_id, self.peer),
                End::Closed => return,
            }
        }
    }

    async fn connect(&mut self) -> Option<Session> {
        let timeout = self.limits.connect_timeout();
        // The relay dials the peer itself, so a refused port fails here at once: zeromq's own
        // connect would retry on a 50, 100, 200 ms schedule and delay reaching a restarted peer.
        self.attempts += 1;
        let name = format!("to-{}-{}-{}", self.peer, self.generation, self.attempts);
        let relay = guard::dial(&self.addr, &self.dir, &name, timeout).await?;
        let mut options = SocketOptions::default();
        options.connect_timeout(timeout);
        let mut socket = DealerSocket::with_options(options);
        let events = socket.monitor();
        let endpoint = format!("ipc://{}", relay.path.display());
        let connected = tokio::time::timeout(timeout, socket.connect(&endpoint)).await;
        if let Err(e) = connected.unwrap_or(Err(zeromq::ZmqError::Other("handshake timed out"))) {
            log::debug!(
                "node {}: cannot connect to node {}: {e}",
                self.my_id,
                self.peer
            );
            return None;
        }
        let (mut tx, rx) = socket.split();
        let hello = self.seal(Kind::Hello, &[]);
        if !matches!(
            tokio::time::timeout(timeout, tx.send(ZmqMessage::from(hello))).await,
            Ok(Ok(()))
        ) {
            return None;
        }
        Some(Session {
            _relay: relay,
            tx,
            rx,
            events,
        })
    }

    /// Moves frames from the queue to the socket until the connection is lost.
    async fn pump(&mut self, session: Session) -> End {
        let Session {
            _relay,
            mut tx,
            mut rx,
            mut events,
        } = session;
        loop {
            tokio::select! {
                biased;
                event = events.next() => match event {
                    Some(SocketEvent::Disconnected(_)) | None => return End::Lost,
                    Some(_) => {}
                },
                received = rx.recv() => {
                    if received.is_err() {
                        return End::Lost;
                    }
                }
                frame = self.queue.recv() => {
                    let Some(frame) = frame else { return End::Closed };
                    if !self.send(&mut tx, frame).await {
                        return End::Lost;
                    }
                    // Drain what is already queued without going back through select!.
                    for _ in 1..BATCH_MAX {
                        let Ok(frame) = self.queue.try_recv() else { break };
                        if !self.send(&mut tx, frame).await {
                            return End::Lost;
                        }
                    }
                }
            }
        }
    }

    /// Hands one frame to the socket; false when the connection must be rebuilt.
    async fn send(&mut self, tx: &mut DealerSendHalf, frame: Bytes) -> bool {
        let sealed = self.seal(Kind::Data, &frame);
        let sealed_bytes = sealed.len();
        // `send` only blocks once ZeroMQ holds 100,000 frames for a peer that stopped reading;
        // the timeout turns that into a reconnect, which also frees those frames.
        match tokio::time::timeout(
            self.limits.send_timeout(),
            tx.send(ZmqMessage::from(sealed)),
        )
        .await
        {
            Ok(Ok(())) => {
                self.counters.incr(Counter::Sent);
                self.counters.add_sent_bytes(self.peer, sealed_bytes);
                true
            }
            Ok(Err(e)) => {
                self.counters.incr(Counter::DroppedUnreachable);
                log::debug!(
                    "node {}: send to node {} failed: {e}",
                    self.my_id,
                    self.peer
                );
                false
            }
            Err(_) => {
                self.counters.incr(Counter::DroppedUnreachable);
                log::warn!(
                    "node {}: node {} stalled; reconnecting",
                    self.my_id,
                    self.peer
                );
                false
            }
        }
    }

    fn seal(&self, kind: Kind, plaintext: &[u8]) -> Bytes {
        // `seal` cannot panic halfway through a frame, so a poisoned session is still sound.
        let mut sealer = self.sealer.lock().unwrap_or_else(PoisonError::into_inner);
        sealer.seal(kind, plaintext)
    }

    /// Drops the `stale` oldest queued frames (counted); false once the queue is closed and empty.
    fn drop_stale(&mut self, stale: usize) -> bool {
        let mut dropped = 0;
        while dropped < stale && self.queue.try_recv().is_ok() {
            dropped += 1;
        }
        self.counters
            .add(Counter::DroppedUnreachable, dropped as u64);
        !(self.queue.is_closed() && self.queue.is_empty())
    }
}
