//! The inbound guard: accepts on the raft port, checks and authenticates each connection, and
//! relays the admitted ones to the ROUTER's private socket. A member removed from the peer set
//! has its connections closed and its hellos refused from then on.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::zmtp::{Role, ZmtpError, ZmtpValidator};
use super::MAX_HELLO_BYTES;
use crate::cluster::counters::{Counter, Counters};
use crate::cluster::limits::Limits;
use crate::cluster::seal::{Kind, OpenError, Opener};
use crate::cluster::warn_limit::WarnLimit;
use crate::raft::NodeId;

/// Bytes read from a peer in one go.
const READ_BYTES: usize = 64 * 1024;
/// The ROUTER only ever sends its greeting and READY.
const ROUTER_READ_BYTES: usize = 1024;

/// Everything the accept loop needs; moved onto the bridge's runtime.
pub(in crate::cluster) struct InboundGuard {
    pub my_id: NodeId,
    /// The ROUTER's Unix socket.
    pub router: PathBuf,
    pub limits: Limits,
    /// Authenticates hellos; its replay marks refuse a captured hello on a new connection.
    pub hellos: Opener,
    /// Ids a hello may claim: the current peers (see `set_peers`).
    pub senders: watch::Receiver<BTreeSet<NodeId>>,
    pub counters: Counters,
}

/// Connections open now, oldest first within each map (ids rise).
#[derive(Default)]
struct Registry {
    next: u64,
    pending: BTreeMap<u64, (IpAddr, AbortHandle)>,
    admitted: BTreeMap<u64, (NodeId, AbortHandle)>,
}

impl Registry {
    fn total(&self) -> usize {
        self.pending.len() + self.admitted.len()
    }

    /// Closes the oldest pending connection matching `which`; true if there was one.
    fn evict_pending(&mut self, which: impl Fn(IpAddr) -> bool) -> bool {
        let oldest = self
            .pending
            .iter()
            .find(|(_, (ip, _))| which(*ip))
            .map(|(&id, _)| id);
        match oldest.and_then(|id| self.pending.remove(&id)) {
            Some((_, handle)) => {
                handle.abort();
                true
            }
            None => false,
        }
    }
}

/// Shared by the accept loop and the connection tasks.
struct Shared {
    my_id: NodeId,
    router: PathBuf,
    limits: Limits,
    senders: watch::Receiver<BTreeSet<NodeId>>,
    counters: Counters,
    registry: Mutex<Registry>,
    hellos: Mutex<Opener>,
    warn_protocol: Mutex<WarnLimit>,
    warn_auth: Mutex<WarnLimit>,
    warn_unknown: Mutex<WarnLimit>,
}

/// Removes its connection from the registry when the task ends, however it ends.
struct Registered {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut registry = lock(&self.shared.registry);
        registry.pending.remove(&self.id);
        registry.admitted.remove(&self.id);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves nothing half-updated worth refusing.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl InboundGuard {
    /// Accepts on `listener` until the runtime is dropped. The listener is made on the bridge's
    /// runtime: a tokio listener belongs to the runtime that made it.
    pub(in crate::cluster) async fn run(self, listener: TcpListener) {
        let shared = Arc::new(Shared {
            my_id: self.my_id,
            router: self.router,
            limits: self.limits,
            senders: self.senders,
            counters: self.counters,
            registry: Mutex::default(),
            hellos: Mutex::new(self.hellos),
            warn_protocol: Mutex::new(WarnLimit::new(std::time::Duration::from_secs(1))),
            warn_auth: Mutex::new(WarnLimit::new(std::time::Duration::from_secs(1))),
            warn_unknown: Mutex::new(WarnLimit::new(std::time::Duration::from_secs(1))),
        });
        loop {
            let (stream, from) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: pause rather than spin.
                    log::warn!("node {}: accept failed: {e}", shared.my_id);
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            admit(&shared, stream, from.ip());
        }
    }
}

/// Registers a new connection as pending, making room within the limits, and starts its task.
fn admit(shared: &Arc<Shared>, stream: TcpStream, ip: IpAddr) {
    let limits = &shared.limits;
    let mut registry = lock(&shared.registry);
    let from_ip = registry.pending.values().filter(|(i, _)| *i == ip).count();
    if from_ip >= limits.max_pending_per_source && registry.evict_pending(|i| i == ip) {
        shared.counters.incr(Counter::GuardEvicted);
    }
    if registry.pending.len() >= limits.max_pending && registry.evict_pending(|_| true) {
        shared.counters.incr(Counter::GuardEvicted);
    }
    if registry.total() >= limits.max_connections {
        shared.counters.incr(Counter::GuardRefused);
        return;
    }
    let id = registry.next;
    registry.next += 1;
    let registered = Registered {
        shared: Arc::clone(shared),
        id,
    };
    let task = tokio::spawn(serve(registered, stream));
    registry.pending.insert(id, (ip, task.abort_handle()));
}

/// Why a connection was closed by the guard.
enum Closed {
    /// Either side closed or failed; nothing to report.
    Gone,
    Timeout,
    Protocol(ZmtpError),
    Auth(String),
    /// An authentic hello from a node that is not (or no longer) a peer.
    UnknownSender(NodeId),
    /// The admitted peer was removed from the peer set.
    Removed(NodeId),
}

async fn serve(registered: Registered, tcp: TcpStream) {
    let shared = Arc::clone(&registered.shared);
    let me = shared.my_id;
    match relay(&registered, tcp).await {
        Closed::Gone => {}
        Closed::Timeout => shared.counters.incr(Counter::GuardTimeout),
        Closed::Protocol(e) => {
            let counter = match e {
                ZmtpError::Oversized { .. } => Counter::DroppedOversized,
                _ => Counter::GuardProtocol,
            };
            shared.counters.incr(counter);
            lock(&shared.warn_protocol).warn(format_args!(
                "node {me}: closed a raft connection that broke the protocol: {e}"
            ));
        }
        Closed::Auth(why) => {
            shared.counters.incr(Counter::DroppedAuth);
            lock(&shared.warn_auth)
                .warn(format_args!("node {me}: refused a raft connection: {why}"));
        }
        Closed::UnknownSender(from) => {
            shared.counters.incr(Counter::DroppedUnknownSender);
            lock(&shared.warn_unknown).warn(format_args!(
                "node {me}: refused a raft connection from node {from}: not a peer"
            ));
        }
        // Not a refused frame: the frames it sent while a member were accepted.
        Closed::Removed(from) => {
            log::info!("node {me}: closed the connection of node {from}, no longer a peer");
        }
    }
}

/// Relays one connection until either side closes or it breaks a rule. The ROUTER is reached
/// only once the peer's greeting has passed: a connection that never greets costs zeromq nothing.
async fn relay(registered: &Registered, mut tcp: TcpStream) -> Closed {
    let shared = &registered.shared;
    let _ = tcp.set_nodelay(true);
    let deadline = tokio::time::sleep(shared.limits.handshake_timeout());
    tokio::pin!(deadline);
    let mut router: Option<UnixStream> = None;
    let mut validator = ZmtpValidator::new(Role::Dealer {
        max_frame_bytes: shared.limits.max_frame_bytes as u64,
        max_hello_bytes: MAX_HELLO_BYTES,
    });
    // Watched from before the hello is checked, so a removal that races with it is still seen.
    let mut members = shared.senders.clone();
    let mut admitted: Option<NodeId> = None;
    let mut from_peer = vec![0u8; READ_BYTES];
    let mut from_router = vec![0u8; ROUTER_READ_BYTES];
    let mut forward = Vec::with_capacity(READ_BYTES);
    loop {
        tokio::select! {
            _ = &mut deadline, if admitted.is_none() => return Closed::Timeout,
            changed = members.changed(), if admitted.is_some() => {
                // Err: the handle is gone and the bridge is stopping.
                if changed.is_err() {
                    return Closed::Gone;
                }
                if let Some(peer) = admitted.filter(|p| !members.borrow_and_update().contains(p)) {
                    return Closed::Removed(peer);
                }
            }
            read = tcp.read(&mut from_peer) => {
                let n = match read {
                    Ok(0) | Err(_) => return Closed::Gone,
                    Ok(n) => n,
                };
                forward.clear();
                match validator.feed(&from_peer[..n], &mut forward) {
                    Err(ZmtpError::NotAHello { len }) => {
                        return Closed::Auth(format!(
                            "its first frame ({len} bytes) is not a hello: the peer does not \
                             seal its frames with a cluster secret"
                        ))
                    }
                    Err(e) => return Closed::Protocol(e),
                    Ok(Some(hello)) => match authenticate(registered, &hello) {
                        Ok(peer) => admitted = Some(peer),
                        Err(closed) => return closed,
                    },
                    Ok(None) => {}
                }
                if forward.is_empty() {
                    continue;
                }
                if router.is_none() {
                    match UnixStream::connect(&shared.router).await {
                        Ok(stream) => router = Some(stream),
                        Err(e) => {
                            log::warn!("node {}: cannot reach the local ROUTER: {e}", shared.my_id);
                            return Closed::Gone;
                        }
                    }
                }
                let Some(to_router) = router.as_mut() else { return Closed::Gone };
                if to_router.write_all(&forward).await.is_err() {
                    return Closed::Gone;
                }
            }
            read = read_from(&mut router, &mut from_router) => {
                let n = match read {
                    Ok(0) | Err(_) => return Closed::Gone,
                    Ok(n) => n,
                };
                if tcp.write_all(&from_router[..n]).await.is_err() {
                    return Closed::Gone;
                }
            }
        }
    }
}

/// Reads from the ROUTER once it is connected; until then, never ready.
async fn read_from(router: &mut Option<UnixStream>, buf: &mut [u8]) -> std::io::Result<usize> {
    match router {
        Some(stream) => stream.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Checks a hello and moves the connection from pending to admitted, closing the oldest other
/// connection of the same member beyond the per-member bound. Returns the member.
fn authenticate(registered: &Registered, hello: &[u8]) -> Result<NodeId, Closed> {
    let shared = &registered.shared;
    let opened = lock(&shared.hellos)
        .open(hello)
        .map_err(|e: OpenError| Closed::Auth(e.to_string()))?;
    if opened.kind != Kind::Hello {
        return Err(Closed::Auth("its first frame is not a hello".to_string()));
    }
    if !shared.senders.borrow().contains(&opened.from) {
        return Err(Closed::UnknownSender(opened.from));
    }
    let mut registry = lock(&shared.registry);
    let Some((_, handle)) = registry.pending.remove(&registered.id) else {
        return Err(Closed::Auth("evicted".to_string()));
    };
    let same: Vec<u64> = registry
        .admitted
        .iter()
        .filter(|(_, (peer, _))| *peer == opened.from)
        .map(|(&id, _)| id)
        .collect();
    let excess = (same.len() + 1).saturating_sub(shared.limits.max_sessions_per_peer);
    for id in same.into_iter().take(excess) {
        if let Some((_, old)) = registry.admitted.remove(&id) {
            old.abort();
        }
    }
    registry
        .admitted
        .insert(registered.id, (opened.from, handle));
    Ok(opened.from)
}
