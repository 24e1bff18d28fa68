//! Shared helpers of the `cluster_*` tests: free ports, bridges on loopback, waiting on conditions.

// The one port allocator of the process: tests of the bridge and tests of node processes share it.
use super::config as test_config;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use raftkv::cluster::seal::{cluster_id, PeerKeys, Secret};
use raftkv::cluster::{Cluster, ClusterHandle, Envelope, Limits, Outbox, PeerAuth};
use raftkv::raft::NodeId;
use tokio::sync::mpsc::Receiver;

/// The test message type: any serde type works; a string keeps assertions readable.
pub type Msg = String;

/// Generous: the machine is shared, and a deadline only bounds a failing test.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// `n` free loopback addresses (see [`test_config::free_ports`]).
pub fn free_addrs(n: usize) -> Vec<SocketAddr> {
    test_config::free_ports(n)
        .into_iter()
        .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
        .collect()
}

/// Ids 1..=n mapped to `n` free addresses.
pub fn cluster_of(n: usize) -> BTreeMap<NodeId, SocketAddr> {
    (1..).zip(free_addrs(n)).collect()
}

/// Starts node `id` with default limits.
pub fn start(id: NodeId, peers: &BTreeMap<NodeId, SocketAddr>) -> ClusterHandle<Msg> {
    start_with(id, peers, Limits::default())
}

/// Starts node `id` with `limits`.
pub fn start_with(
    id: NodeId,
    peers: &BTreeMap<NodeId, SocketAddr>,
    limits: Limits,
) -> ClusterHandle<Msg> {
    start_keyed(id, peers, limits, test_keys(peers))
}

/// The secret every test cluster shares (tests that need another one make it themselves).
pub const TEST_SECRET: [u8; 32] = [7; 32];

/// Keys for the cluster of `_peers` under [`TEST_SECRET`] (the cluster id comes from the
/// token alone, so every test cluster shares them).
pub fn test_keys(_peers: &BTreeMap<NodeId, SocketAddr>) -> PeerKeys {
    PeerKeys::new(cluster_id("test"), vec![Secret::from_bytes(TEST_SECRET)]).expect("one secret")
}

/// A new session's authentication for a member of `peers` under [`TEST_SECRET`].
pub fn auth(peers: &BTreeMap<NodeId, SocketAddr>) -> PeerAuth {
    PeerAuth {
        keys: test_keys(peers),
        epoch: next_epoch(),
    }
}

/// Rises across the starts of one test process, as a data directory's epoch would.
pub fn next_epoch() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static EPOCH: AtomicU64 = AtomicU64::new(1);
    EPOCH.fetch_add(1, Ordering::Relaxed)
}

/// Starts node `id` with `limits` and `keys`, in a new session (epoch from the clock, rising).
pub fn start_keyed(
    id: NodeId,
    peers: &BTreeMap<NodeId, SocketAddr>,
    limits: Limits,
    keys: PeerKeys,
) -> ClusterHandle<Msg> {
    let epoch = next_epoch();
    Cluster::start(id, peers, limits, PeerAuth { keys, epoch })
        .unwrap_or_else(|e| panic!("start node {id}: {e}"))
}

/// Waits until `node` has connected to `peers` peers at least once, failing the test if it has
/// not within the deadline. The bridge is lossy by contract: frames queued toward a peer whose
/// first connection attempt fails are dropped, so a test that needs its first frame delivered
/// waits for the links first.
pub async fn links_up<M>(node: &ClusterHandle<M>, peers: u64) {
    let counters = node.counters();
    assert!(
        eventually(DEADLINE, || counters.snapshot().connects >= peers).await,
        "node {} connected to fewer than {peers} peers within {DEADLINE:?}",
        node.id()
    );
}

/// Starts every member of `peers` and waits until each one is connected to all the others.
pub async fn start_connected(peers: &BTreeMap<NodeId, SocketAddr>) -> Vec<ClusterHandle<Msg>> {
    let nodes: Vec<_> = peers.keys().map(|&id| start(id, peers)).collect();
    for node in &nodes {
        links_up(node, peers.len() as u64 - 1).await;
    }
    nodes
}

/// The next envelope on `inbox`, failing the test if none comes before the deadline.
pub async fn recv(inbox: &mut Receiver<Envelope<Msg>>) -> Envelope<Msg> {
    match tokio::time::timeout(DEADLINE, inbox.recv()).await {
        Ok(Some(envelope)) => envelope,
        Ok(None) => panic!("inbox closed"),
        Err(_) => panic!("nothing received within {DEADLINE:?}"),
    }
}

/// Polls `condition` every few milliseconds until it holds; false if the deadline passes first.
pub async fn eventually(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    condition()
}

/// Sends `msg` to `to` every few milliseconds (connections come up in the background) until one
/// arrives on `inbox`; `None` if the deadline passes first.
pub async fn send_until_received(
    outbox: &Outbox<Msg>,
    to: NodeId,
    msg: &str,
    inbox: &mut Receiver<Envelope<Msg>>,
    deadline: Duration,
) -> Option<Envelope<Msg>> {
    let start = Instant::now();
    let mut msg_id = 0;
    while start.elapsed() < deadline {
        msg_id += 1;
        let _ = outbox.send(envelope(to, msg_id, msg));
        let wait = tokio::time::timeout(Duration::from_millis(5), inbox.recv());
        // An earlier message still queued for the peer while it was down may arrive first
        // (the outbox keeps a bounded queue per peer): only `msg` itself answers the question.
        if let Ok(Some(envelope)) = wait.await {
            if envelope.msg == msg {
                return Some(envelope);
            }
        }
    }
    None
}

/// An envelope addressed to `pid`.
pub fn envelope(pid: NodeId, msg_id: u64, msg: &str) -> Envelope<Msg> {
    Envelope {
        pid,
        msg_id,
        msg: msg.to_string(),
    }
}
