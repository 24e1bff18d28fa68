//! The raft port under hostile input, through the guard and the frame seal: strangers without
//! the secret, oversized and malformed frames, replays, floods of connections that never
//! greet. Each is closed or dropped and counted, and genuine traffic still flows.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support;
use crate::support::bridge::{
    cluster_of, envelope, eventually, recv, start, start_with, test_keys, DEADLINE,
};
use crate::support::zmtp::{frame, frame_header, greeting, RawPeer};
use raftkv::cluster::seal::{Kind, Sealer, OVERHEAD_BYTES};
use raftkv::cluster::{wire, ClusterHandle, Limits};
use raftkv::raft::NodeId;

const CLOSE: Duration = Duration::from_secs(3);

fn small_limits() -> Limits {
    Limits {
        max_frame_bytes: 4096,
        ..Limits::default()
    }
}

/// A raw peer that holds the test secret and speaks for `from`: the hello is sent.
fn member(peers: &BTreeMap<NodeId, SocketAddr>, from: NodeId, to: NodeId) -> (RawPeer, Sealer) {
    let mut sealer = Sealer::new(&test_keys(peers), from, to, u64::MAX / 2, 1);
    let mut raw = RawPeer::handshaken(peers[&to]);
    raw.send(&frame(&sealer.seal(Kind::Hello, &[])));
    (raw, sealer)
}

async fn wait_counter(
    node: &ClusterHandle<String>,
    what: &str,
    at_least: u64,
    read: fn(&raftkv::cluster::CounterSnapshot) -> u64,
) {
    let counters = node.counters();
    assert!(
        eventually(DEADLINE, || read(&counters.snapshot()) >= at_least).await,
        "{what} stayed below {at_least}: {:?}",
        counters.snapshot()
    );
}

#[tokio::test]
async fn a_stranger_without_the_secret_is_closed_and_counted() {
    let peers = cluster_of(2);
    let mut node1 = start(1, &peers);
    let mut inbox1 = node1.take_inbox().unwrap();
    // A well-formed envelope claiming to come from node 2, but not sealed: what worked before.
    let forged = wire::encode(2, 5, &"forged".to_string()).unwrap();
    let mut raw = RawPeer::handshaken(peers[&1]);
    raw.send(&frame(&forged));
    assert!(raw.closed_within(CLOSE), "the stranger stays connected");
    wait_counter(&node1, "dropped_auth", 1, |c| c.dropped_auth).await;

    let node2 = start(2, &peers);
    node2.outbox().send(envelope(1, 6, "genuine")).unwrap();
    assert_eq!(recv(&mut inbox1).await, envelope(2, 6, "genuine"));
    assert_eq!(node1.counters().snapshot().received, 1);
}

#[tokio::test]
async fn a_64_gib_frame_header_closes_the_connection_before_or_after_the_hello() {
    let peers = cluster_of(2);
    let node1 = start(1, &peers);
    let mut huge = frame_header(64 << 30);
    huge.push(0);
    let mut stranger = RawPeer::handshaken(peers[&1]);
    stranger.send(&huge);
    assert!(stranger.closed_within(CLOSE));
    // Where a hello must come, a frame that long says the peer is no member.
    wait_counter(&node1, "dropped_auth", 1, |c| c.dropped_auth).await;
    let (mut insider, _) = member(&peers, 2, 1);
    insider.send(&huge);
    assert!(insider.closed_within(CLOSE));
    wait_counter(&node1, "dropped_oversized", 1, |c| c.dropped_oversized).await;
}

#[tokio::test]
async fn a_frame_at_the_limit_is_delivered_and_one_byte_over_closes() {
    let peers = cluster_of(2);
    let mut node1 = start_with(1, &peers, small_limits());
    let mut inbox1 = node1.take_inbox().unwrap();
    let (mut raw, mut sealer) = member(&peers, 2, 1);
    let limit = small_limits().max_frame_bytes;
    let mut text = String::new();
    while wire::encode(2, 1, &text).unwrap().len() + OVERHEAD_BYTES < limit {
        text.push('y');
    }
    let at_limit = sealer.seal(Kind::Data, &wire::encode(2, 1, &text).unwrap());
    assert_eq!(at_limit.len(), limit);
    raw.send(&frame(&at_limit));
    assert_eq!(recv(&mut inbox1).await.msg, text);

    text.push('y');
    let over = sealer.seal(Kind::Data, &wire::encode(2, 2, &text).unwrap());
    assert_eq!(over.len(), limit + 1);
    raw.send(&frame(&over));
    assert!(raw.closed_within(CLOSE));
    // The close can reach us before the counter is bumped: await it, then check nothing else moved.
    wait_counter(&node1, "dropped_oversized", 1, |c| c.dropped_oversized).await;
    let c = node1.counters().snapshot();
    assert_eq!((c.received, c.dropped_oversized), (1, 1), "{c:?}");
}

#[tokio::test]
async fn sealed_but_malformed_forged_or_replayed_frames_are_dropped_and_counted() {
    let peers = cluster_of(3);
    let mut node1 = start_with(1, &peers, small_limits());
    let mut inbox1 = node1.take_inbox().unwrap();
    let (mut raw, mut sealer) = member(&peers, 2, 1);
    let valid = sealer.seal(
        Kind::Data,
        &wire::encode(2, 1, &"first".to_string()).unwrap(),
    );
    let mut forged = sealer
        .seal(Kind::Data, &wire::encode(2, 2, &"x".to_string()).unwrap())
        .to_vec();
    *forged.last_mut().unwrap() ^= 1;
    let frames = [
        valid.to_vec(),
        sealer.seal(Kind::Data, b"\xc1 not messagepack").to_vec(),
        // Sealed by node 2 but claiming node 3 inside.
        sealer
            .seal(Kind::Data, &wire::encode(3, 3, &"who".to_string()).unwrap())
            .to_vec(),
        forged,
        valid.to_vec(),
        sealer
            .seal(
                Kind::Data,
                &wire::encode(2, 9, &"last".to_string()).unwrap(),
            )
            .to_vec(),
    ];
    for f in &frames {
        raw.send(&frame(f));
    }
    assert_eq!(recv(&mut inbox1).await, envelope(2, 1, "first"));
    // Last: the frames above were handled once this one is delivered (one connection).
    assert_eq!(recv(&mut inbox1).await, envelope(2, 9, "last"));
    let c = node1.counters().snapshot();
    assert_eq!(
        (
            c.received,
            c.dropped_decode,
            c.dropped_unknown_sender,
            c.dropped_auth,
            c.dropped_replay
        ),
        (2, 1, 1, 1, 1),
        "{c:?}"
    );
}

/// A TCP relay that records what the client sends.
fn recording_proxy(target: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let tape = Arc::clone(&recorded);
    std::thread::spawn(move || {
        let Ok((mut client, _)) = listener.accept() else {
            return;
        };
        let mut server = TcpStream::connect(target).unwrap();
        let (mut client_r, mut server_w) =
            (client.try_clone().unwrap(), server.try_clone().unwrap());
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = client_r.read(&mut buf) {
                // Recorded before it is forwarded: once the node has received a frame, the
                // tape holds it.
                tape.lock().unwrap().extend_from_slice(&buf[..n]);
                if n == 0 || server_w.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
        let mut buf = [0u8; 65536];
        while let Ok(n) = server.read(&mut buf) {
            if n == 0 || client.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    (addr, recorded)
}

#[tokio::test]
async fn a_session_captured_on_the_wire_and_replayed_is_refused() {
    let peers = cluster_of(2);
    let mut node1 = start(1, &peers);
    let mut inbox1 = node1.take_inbox().unwrap();
    let (proxy, tape) = recording_proxy(peers[&1]);
    let mut via_proxy = peers.clone();
    via_proxy.insert(1, proxy);
    // Node 2 reaches node 1 through the recording proxy (same ids, so the same cluster).
    let node2 = support::bridge::start_keyed(2, &via_proxy, Limits::default(), test_keys(&peers));
    for i in 1..=3 {
        node2.outbox().send(envelope(1, i, "captured")).unwrap();
    }
    for i in 1..=3 {
        assert_eq!(recv(&mut inbox1).await, envelope(2, i, "captured"));
    }
    let captured = tape.lock().unwrap().clone();
    assert!(captured.len() > 64 + 40, "the tape holds the session");

    // The whole session again, byte for byte, on a new connection: its hello is stale.
    let mut replay = RawPeer::connect(peers[&1]);
    replay.send(&captured);
    assert!(
        replay.closed_within(CLOSE),
        "a replayed session is admitted"
    );
    wait_counter(&node1, "dropped_auth", 1, |c| c.dropped_auth).await;
    assert_eq!(node1.counters().snapshot().received, 3);
    assert!(
        inbox1.try_recv().is_err(),
        "a replayed envelope reached the inbox"
    );
}

#[tokio::test]
async fn random_bytes_after_a_valid_greeting_close_the_connection() {
    let peers = cluster_of(2);
    let mut node1 = start(1, &peers);
    let mut inbox1 = node1.take_inbox().unwrap();
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..20 {
        let mut raw = RawPeer::connect(peers[&1]);
        let mut bytes = greeting();
        for _ in 0..256 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            bytes.push(rng as u8);
        }
        raw.send(&bytes);
        assert!(raw.closed_within(CLOSE), "garbage kept the connection open");
    }
    let node2 = start(2, &peers);
    node2.outbox().send(envelope(1, 1, "still here")).unwrap();
    assert_eq!(recv(&mut inbox1).await, envelope(2, 1, "still here"));
}

#[tokio::test]
async fn connections_that_never_greet_time_out_and_cannot_lock_a_member_out() {
    let peers = cluster_of(2);
    let limits = Limits {
        handshake_timeout_ms: 300,
        ..Limits::default()
    };
    let mut node1 = start_with(1, &peers, limits.clone());
    let mut inbox1 = node1.take_inbox().unwrap();
    // Far more silent connections than the pending bounds allow, all from one address.
    let silent: Vec<RawPeer> = (0..400).map(|_| RawPeer::connect(peers[&1])).collect();
    // Each beyond the per-source bound closes the oldest (unless its time ran out first).
    let closed_early = 400 - limits.max_pending_per_source as u64;
    wait_counter(&node1, "guard_evicted + guard_timeout", closed_early, |c| {
        c.guard_evicted + c.guard_timeout
    })
    .await;
    assert!(node1.counters().snapshot().guard_evicted > 0);
    // A member connecting in the middle of the flood still gets in.
    let node2 = start(2, &peers);
    node2.outbox().send(envelope(1, 1, "through")).unwrap();
    assert_eq!(recv(&mut inbox1).await, envelope(2, 1, "through"));
    // The ones still pending are closed when their handshake time runs out.
    wait_counter(&node1, "guard_timeout", 1, |c| c.guard_timeout).await;
    drop(silent);
}

#[tokio::test]
async fn during_a_secret_rollover_old_and_new_senders_are_both_heard() {
    use raftkv::cluster::seal::{cluster_id, PeerKeys, Secret};
    let peers = cluster_of(3);
    let id = cluster_id("test");
    let (old, new) = (Secret::generate(), Secret::generate());
    let keys = |secrets: Vec<Secret>| PeerKeys::new(id, secrets).unwrap();
    // Step 1 of the rollover: node 1 already accepts both and seals with the old one; node 2
    // has moved on to the new one (step 2) and still accepts the old; node 3 knows only the new.
    let mut node1 = start_keyed_with(1, &peers, keys(vec![old.clone(), new.clone()]));
    let mut node2 = start_keyed_with(2, &peers, keys(vec![new.clone(), old.clone()]));
    let mut node3 = start_keyed_with(3, &peers, keys(vec![new]));
    let (mut inbox1, mut inbox2, mut inbox3) = (
        node1.take_inbox().unwrap(),
        node2.take_inbox().unwrap(),
        node3.take_inbox().unwrap(),
    );
    node2.outbox().send(envelope(1, 1, "new to both")).unwrap();
    assert_eq!(recv(&mut inbox1).await, envelope(2, 1, "new to both"));
    node1.outbox().send(envelope(2, 2, "old to both")).unwrap();
    assert_eq!(recv(&mut inbox2).await, envelope(1, 2, "old to both"));
    node2.outbox().send(envelope(3, 3, "new to new")).unwrap();
    assert_eq!(recv(&mut inbox3).await, envelope(2, 3, "new to new"));
    // Node 3 never accepted the old secret: node 1's frames stop at its door, counted.
    node1.outbox().send(envelope(3, 4, "old to new")).unwrap();
    wait_counter(&node3, "dropped_auth", 1, |c| c.dropped_auth).await;
    assert!(inbox3.try_recv().is_err());
}

fn start_keyed_with(
    id: NodeId,
    peers: &BTreeMap<NodeId, SocketAddr>,
    keys: raftkv::cluster::seal::PeerKeys,
) -> ClusterHandle<String> {
    support::bridge::start_keyed(id, peers, Limits::default(), keys)
}
