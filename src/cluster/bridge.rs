//! Starting and stopping a bridge, and changing its peers. It runs on its own OS thread with
//! its own single-threaded tokio runtime, so it behaves the same under actix's runtime, plain
//! tokio, or a plain test, and a stalled socket can never stall the node's own executor.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use zeromq::{RouterSocket, Socket};

use super::counters::Counters;
use super::envelope::Envelope;
use super::error::ClusterError;
use super::faults::Faults;
use super::guard::InboundGuard;
use super::inbound::Inbound;
use super::limits::Limits;
use super::links::{LinkCommand, Links};
use super::outbox::Outbox;
use super::peers::{check_ids, PeerSet};
use super::seal::{Opener, PeerKeys};
use crate::config::Address;
use crate::raft::NodeId;

/// Starts cluster bridges.
pub struct Cluster;

/// How a bridge proves itself to its peers and checks them.
#[derive(Clone, Debug)]
pub struct PeerAuth {
    /// The cluster's id and secrets.
    pub keys: PeerKeys,
    /// This start's session number: it must exceed every earlier start's (peers refuse frames
    /// of older sessions). [`crate::storage::next_peer_epoch`] keeps one per data directory.
    pub epoch: u64,
}

/// A running bridge. Dropping it shuts it down.
pub struct ClusterHandle<M> {
    my_id: NodeId,
    local_addr: SocketAddr,
    outbox: Outbox<M>,
    inbox: Option<mpsc::Receiver<Envelope<M>>>,
    counters: Counters,
    faults: Faults,
    peers: PeerSet,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// The private directory of the bridge's Unix sockets; removed on shutdown.
    dir: PathBuf,
}

impl Cluster {
    /// Listens on `peers[my_id]` and connects to every other peer.
    ///
    /// Returns once the listening socket is bound (so a peer may send at once); connections to
    /// peers are made in the background and remade whenever lost. `peers` lists every member,
    /// this node included: it is the initial peer set, which [`ClusterHandle::set_peers`]
    /// changes later; it may hold this node alone (a node waiting to join a cluster). Every
    /// frame is sealed and opened with `auth`.
    pub fn start<M, A>(
        my_id: NodeId,
        peers: &BTreeMap<NodeId, A>,
        limits: Limits,
        auth: PeerAuth,
    ) -> Result<ClusterHandle<M>, ClusterError>
    where
        M: Serialize + DeserializeOwned + Send + 'static,
        A: Clone + Into<Address>,
    {
        limits.validate()?;
        let peers = addresses(peers);
        check_ids(&peers)?;
        let addr = peers
            .get(&my_id)
            .cloned()
            .ok_or(ClusterError::NotAMember(my_id))?;
        // Bound here, synchronously, so an address in use fails `start` itself. std sets
        // SO_REUSEADDR on Unix, so a restarted node can rebind while old connections linger.
        let listener = addr
            .resolve()
            .and_then(TcpListener::bind)
            .map_err(|source| ClusterError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ClusterError::Bind { addr, source })?;

        let dir = private_dir(my_id).map_err(|e| {
            ClusterError::Start(format!("cannot create a private socket directory: {e}"))
        })?;
        let router_path = dir.join("router.sock");
        // Random per start, so two starts never share a key even if their epochs were equal.
        let salt: u64 = rand::random();
        let counters = Counters::default();
        let faults = Faults::new();
        let outbox = Outbox::new(my_id, counters.clone(), faults.clone());
        let (senders_tx, senders) = watch::channel(BTreeSet::new());
        let (links_tx, links_rx) = mpsc::unbounded_channel();
        let mut peer_set = PeerSet {
            my_id,
            addrs: BTreeMap::new(),
            peer_queue_len: limits.peer_queue_len,
            senders: senders_tx,
            links: links_tx,
        };
        // The initial peers are added as any later change adds them, before the bridge thread
        // starts: a peer's first hello is accepted, and its link starts once the runtime runs.
        peer_set.set(&peers, &outbox, &faults)?;
        let links = Links::new(my_id, &limits, &counters, &dir, &auth, salt);
        let (inbox_tx, inbox_rx) = mpsc::channel(limits.inbox_len);
        let inbound = Inbound {
            my_id,
            senders: senders.clone(),
            max_frame_bytes: limits.max_frame_bytes,
            inbox: inbox_tx,
            counters: counters.clone(),
            faults: faults.clone(),
            opener: Opener::new(auth.keys.clone(), my_id),
        };
        let guard = InboundGuard {
            my_id,
            router: router_path.clone(),
            limits: limits.clone(),
            hellos: Opener::new(auth.keys, my_id),
            senders,
            counters: counters.clone(),
        };
        let (stop_tx, stop_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name(format!("raftkv-cluster-{my_id}"))
            .spawn(move || {
                run(
                    listener,
                    guard,
                    router_path,
                    inbound,
                    (links, links_rx),
                    stop_rx,
                    ready_tx,
                )
            })
            .map_err(|e| ClusterError::Start(e.to_string()))?;
        let started = ready_rx
            .recv()
            .unwrap_or_else(|_| Err("the bridge thread exited while starting".to_string()));
        if let Err(why) = started {
            // The thread has already returned (it reports failure as its last act).
            let _ = thread.join();
            let _ = std::fs::remove_dir_all(&dir);
            return Err(ClusterError::Start(why));
        }
        Ok(ClusterHandle {
            my_id,
            local_addr,
            outbox,
            inbox: Some(inbox_rx),
            counters,
            faults,
            peers: peer_set,
            stop: Some(stop_tx),
            thread: Some(thread),
            dir,
        })
    }
}

/// A fresh directory only this user can enter, for the bridge's Unix sockets: nobody else on
/// the machine can reach the ROUTER behind the guard.
fn private_dir(my_id: NodeId) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let name = format!(
        "raftkv-{}-{my_id}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    );
    let dir = std::env::temp_dir().join(name);
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(dir)
}

/// The bridge thread: bind the ROUTER to its private socket, start the guard on the raft port,
/// the receive loop and the task that starts and stops one link per peer, wait for the stop
/// signal, then drop the runtime, which cancels every task and closes every socket.
fn run<M: DeserializeOwned + Send + 'static>(
    listener: TcpListener,
    guard: InboundGuard,
    router_path: PathBuf,
    inbound: Inbound<M>,
    (links, commands): (Links, mpsc::UnboundedReceiver<LinkCommand>),
    stop: oneshot::Receiver<()>,
    ready: std::sync::mpsc::SyncSender<Result<(), String>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(format!("cannot build a runtime: {e}")));
            return;
        }
    };
    runtime.block_on(async move {
        let mut router = RouterSocket::new();
        if let Err(e) = router
            .bind(&format!("ipc://{}", router_path.display()))
            .await
        {
            let _ = ready.send(Err(format!("cannot bind the local ROUTER: {e}")));
            return;
        }
        let listener = match listener
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(listener))
        {
            Ok(listener) => listener,
            Err(e) => {
                let _ = ready.send(Err(format!("cannot listen: {e}")));
                return;
            }
        };
        tokio::spawn(guard.run(listener));
        tokio::spawn(inbound.run(router));
        tokio::spawn(links.run(commands));
        let _ = ready.send(Ok(()));
        // Err means the handle was dropped without `shutdown`: stop all the same.
        let _ = stop.await;
    });
    drop(runtime);
}

impl<M> ClusterHandle<M> {
    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.my_id
    }

    /// The address the ROUTER listens on (the configured one, with the real port if it was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A sender of envelopes to peers; clone it freely.
    pub fn outbox(&self) -> Outbox<M> {
        self.outbox.clone()
    }

    /// The receiver of envelopes from peers (`pid` = sender). There is one: the first call takes it.
    pub fn take_inbox(&mut self) -> Option<mpsc::Receiver<Envelope<M>>> {
        self.inbox.take()
    }

    /// The bridge's counters (a live view; call `snapshot`).
    pub fn counters(&self) -> Counters {
        self.counters.clone()
    }

    /// The test-only switch that drops traffic with chosen peers.
    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }

    /// Makes `peers` the set of nodes this bridge talks to: every member the node should reach,
    /// by id and raft address (this node's own entry, if present, is ignored: its listening
    /// address never changes). Refuses the reserved ids 0 and [`super::BROADCAST`], changing
    /// nothing.
    ///
    /// On return, every [`Outbox`] (its `send`, `peers`, and broadcasts) and the receiving side
    /// already use the new set: a new peer has a queue, a removed one's queue is dropped with
    /// whatever it held (lost, as Raft tolerates) and its frames and hellos are refused and
    /// counted as `dropped_unknown_sender`. The sockets follow on the bridge thread a moment
    /// later: a new peer is connected to, a removed one's link and inbound connections are
    /// closed, and a peer whose address changed is reconnected at the new one. Its session
    /// (frame counters) continues, so a peer that keeps running accepts the new link. The
    /// fault switch follows too.
    pub fn set_peers<A: Clone + Into<Address>>(
        &mut self,
        peers: &BTreeMap<NodeId, A>,
    ) -> Result<(), ClusterError> {
        self.peers
            .set(&addresses(peers), &self.outbox, &self.faults)
    }

    /// The peers this bridge talks to now, by id and raft address (this node excluded).
    pub fn peers(&self) -> &BTreeMap<NodeId, Address> {
        &self.peers.addrs
    }

    /// Stops the bridge: closes every socket and frees the listening port before returning.
    /// Afterwards the outbox answers [`super::OutboxError::Closed`] and the inbox ends.
    /// Idempotent. Blocks briefly on the bridge thread; call it off any latency-critical path.
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic on the bridge thread is a bug; surface it rather than hide it.
            let joined = thread.join();
            remove_private_dir(&self.dir);
            if let Err(panic) = joined {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// The peer map with every address as the cluster layer keeps it: a host name stays a name,
/// looked up again each time a link connects.
fn addresses<A: Clone + Into<Address>>(peers: &BTreeMap<NodeId, A>) -> BTreeMap<NodeId, Address> {
    peers
        .iter()
        .map(|(&id, addr)| (id, addr.clone().into()))
        .collect()
}

fn remove_private_dir(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        log::debug!("cannot remove {}: {e}", dir.display());
    }
}

impl<M> Drop for ClusterHandle<M> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Do not risk a second panic while unwinding; just ask the thread to stop.
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
            return;
        }
        self.shutdown();
    }
}
