//! The peer set changes at run time (`ClusterHandle::set_peers`), as the replicator changes it
//! whenever the configuration in effect changes (Raft thesis §4.1: a server uses the latest
//! configuration in its log, committed or not). A new peer is reached and heard; a removed one
//! is refused both ways; a moved one is reached at its new address; a node started alone (one
//! waiting to join) works once it learns its peers.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::support::bridge::{
    cluster_of, envelope, eventually, free_addrs, recv, send_until_received, start_keyed,
    test_keys, Msg, DEADLINE,
};
use raftkv::cluster::seal::PeerKeys;
use raftkv::cluster::{ClusterError, ClusterHandle, Envelope, Limits, OutboxError, BROADCAST};
use raftkv::config::Address;
use raftkv::raft::NodeId;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::Receiver;
use tokio::task::{JoinHandle, JoinSet};

/// Node `id` of the cluster keyed by `keys`, starting with the peer set `peers`.
fn node(id: NodeId, peers: &BTreeMap<NodeId, SocketAddr>, keys: &PeerKeys) -> ClusterHandle<Msg> {
    start_keyed(id, peers, Limits::default(), keys.clone())
}

/// `all` restricted to `ids`.
fn only(all: &BTreeMap<NodeId, SocketAddr>, ids: &[NodeId]) -> BTreeMap<NodeId, SocketAddr> {
    ids.iter().map(|id| (*id, all[id])).collect()
}

/// The map as the cluster layer keeps it.
fn addresses(map: &BTreeMap<NodeId, SocketAddr>) -> BTreeMap<NodeId, Address> {
    map.iter().map(|(&id, &addr)| (id, addr.into())).collect()
}

/// `msg` from `from` reaches `to`'s inbox (retrying while the link comes up).
async fn reaches(
    from: &ClusterHandle<Msg>,
    to: NodeId,
    inbox: &mut Receiver<Envelope<Msg>>,
    msg: &str,
) {
    let got = send_until_received(&from.outbox(), to, msg, inbox, DEADLINE).await;
    let got = got.unwrap_or_else(|| panic!("{msg:?} never reached node {to}"));
    assert_eq!((got.pid, got.msg.as_str()), (from.id(), msg));
}

#[tokio::test]
async fn a_peer_added_at_run_time_is_sent_to_and_heard_from() {
    let all = cluster_of(3);
    // One cluster throughout: its id comes from the founding members, whoever joins later.
    let keys = test_keys(&all);
    let mut node1 = node(1, &only(&all, &[1, 2]), &keys);
    let mut node2 = node(2, &only(&all, &[1, 2]), &keys);
    let mut node3 = node(3, &all, &keys);
    let (mut inbox1, mut inbox2, mut inbox3) = (
        node1.take_inbox().unwrap(),
        node2.take_inbox().unwrap(),
        node3.take_inbox().unwrap(),
    );
    assert!(matches!(
        node1.outbox().send(envelope(3, 1, "too soon")),
        Err(OutboxError::UnknownPeer(3))
    ));
    // Node 3 already knows node 1, which refuses it until told otherwise.
    let _ = node3.outbox().send(envelope(1, 1, "not yet"));
    let counters1 = node1.counters();
    assert!(
        eventually(DEADLINE, || counters1.snapshot().dropped_unknown_sender
            >= 1)
        .await
    );

    node1.set_peers(&all).unwrap();
    assert_eq!(node1.outbox().peers(), vec![2, 3]);
    reaches(&node1, 3, &mut inbox3, "one to three").await;
    reaches(&node3, 1, &mut inbox1, "three to one").await;
    // The first peers are untouched, and a broadcast now covers the new one.
    assert_eq!(
        node1
            .outbox()
            .send(envelope(BROADCAST, 9, "to all"))
            .unwrap(),
        2
    );
    assert_eq!(recv(&mut inbox2).await, envelope(1, 9, "to all"));
    let from1 = loop {
        let got = recv(&mut inbox3).await;
        // Retries of "one to three" may still be in flight ahead of it.
        if got.msg != "one to three" {
            break got;
        }
    };
    assert_eq!(from1, envelope(1, 9, "to all"));
}

#[tokio::test]
async fn a_removed_peer_is_refused_both_ways_and_reached_again_once_added_back() {
    let all = cluster_of(3);
    let keys = test_keys(&all);
    let mut node1 = node(1, &all, &keys);
    let mut node2 = node(2, &all, &keys);
    let mut node3 = node(3, &all, &keys);
    let (mut inbox1, mut inbox3) = (node1.take_inbox().unwrap(), node3.take_inbox().unwrap());
    let _inbox2 = node2.take_inbox().unwrap();
    reaches(&node3, 1, &mut inbox1, "while a member").await;
    reaches(&node1, 3, &mut inbox3, "one to three").await;

    node1.set_peers(&only(&all, &[1, 2])).unwrap();
    assert!(matches!(
        node1.outbox().send(envelope(3, 1, "gone")),
        Err(OutboxError::UnknownPeer(3))
    ));
    assert_eq!(node1.outbox().peers(), vec![2]);
    assert_eq!(
        node1.outbox().send(envelope(BROADCAST, 2, "all")).unwrap(),
        1
    );
    // Node 3 has not heard and keeps sending: its frames, or its hellos once node 1 has closed
    // its connection, are refused and counted.
    let counters1 = node1.counters();
    let refused_before = counters1.snapshot().dropped_unknown_sender;
    let outbox3 = node3.outbox();
    let mut msg_id = 0;
    let refused = eventually(DEADLINE, || {
        msg_id += 1;
        let _ = outbox3.send(envelope(1, msg_id, "after removal"));
        counters1.snapshot().dropped_unknown_sender >= refused_before + 3
    })
    .await;
    assert!(refused, "{:?}", counters1.snapshot());
    // Node 2's marker comes after whatever node 1 accepted; none of it is node 3's.
    node2.outbox().send(envelope(1, 1, "marker")).unwrap();
    loop {
        let got = recv(&mut inbox1).await;
        assert_ne!(got.msg, "after removal", "{got:?}");
        if got.msg == "marker" {
            break;
        }
    }
    assert!(inbox1.try_recv().is_err());

    // Added back, node 3 is reached again: node 1's frame counters toward it kept rising, so
    // node 3 (still running, still remembering the highest it accepted) takes the new link.
    node1.set_peers(&all).unwrap();
    reaches(&node1, 3, &mut inbox3, "welcome back").await;
    reaches(&node3, 1, &mut inbox1, "glad to be back").await;
    let c3 = node3.counters().snapshot();
    assert_eq!((c3.dropped_replay, c3.dropped_auth), (0, 0), "{c3:?}");
}

/// A TCP forwarder from a fresh loopback port to `target`. Aborting the task closes the port
/// and every connection through it.
async fn forwarder(target: SocketAddr) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        // Dropped with the task: aborts every connection.
        let mut connections = JoinSet::new();
        while let Ok((mut client, _)) = listener.accept().await {
            connections.spawn(async move {
                if let Ok(mut server) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (addr, task)
}

#[tokio::test]
async fn a_peer_whose_address_changed_is_reconnected_at_the_new_one() {
    let all = cluster_of(2);
    let keys = test_keys(&all);
    let (old_addr, old_path) = forwarder(all[&2]).await;
    let mut via_old = all.clone();
    via_old.insert(2, old_addr);
    let mut node1 = node(1, &via_old, &keys);
    let mut node2 = node(2, &all, &keys);
    let mut inbox2 = node2.take_inbox().unwrap();
    reaches(&node1, 2, &mut inbox2, "via the old address").await;

    node1.set_peers(&all).unwrap();
    assert_eq!(node1.peers(), &addresses(&only(&all, &[2])));
    // The old address stops existing: only a link to the new one can deliver now.
    old_path.abort();
    let _ = old_path.await;
    reaches(&node1, 2, &mut inbox2, "at the new address").await;
    // Node 2 kept running throughout: the restarted link continued node 1's session (a new
    // one with the same epoch would have had its hello refused as a replay, under `auth`).
    let c2 = node2.counters().snapshot();
    assert_eq!((c2.dropped_replay, c2.dropped_auth), (0, 0), "{c2:?}");
}

#[tokio::test]
async fn a_bridge_started_alone_works_once_it_learns_its_peers() {
    let all = cluster_of(2);
    let keys = test_keys(&all);
    let mut node1 = node(1, &only(&all, &[1]), &keys);
    let mut inbox1 = node1.take_inbox().unwrap();
    assert!(node1.outbox().peers().is_empty() && node1.peers().is_empty());
    assert_eq!(
        node1
            .outbox()
            .send(envelope(BROADCAST, 1, "nobody"))
            .unwrap(),
        0
    );
    assert!(matches!(
        node1.outbox().send(envelope(2, 1, "x")),
        Err(OutboxError::UnknownPeer(2))
    ));

    let mut node2 = node(2, &all, &keys);
    let mut inbox2 = node2.take_inbox().unwrap();
    // Its own entry in the set is ignored, whatever address it names.
    let mut learned = all.clone();
    learned.insert(1, free_addrs(1)[0]);
    node1.set_peers(&learned).unwrap();
    assert_eq!(node1.local_addr(), all[&1]);
    assert_eq!(node1.outbox().peers(), vec![2]);
    reaches(&node1, 2, &mut inbox2, "hello from the newcomer").await;
    reaches(&node2, 1, &mut inbox1, "welcome").await;
}

#[tokio::test]
async fn the_fault_switch_follows_the_peer_set() {
    let all = cluster_of(3);
    let keys = test_keys(&all);
    let mut node1 = node(1, &only(&all, &[1, 2]), &keys);
    let faults = node1.faults();
    assert!(matches!(faults.block(3), Err(ClusterError::UnknownPeer(3))));

    // Isolated while a peer is added: the partition covers it too, until healed.
    faults.isolate();
    node1.set_peers(&all).unwrap();
    assert!(faults.is_blocked(2) && faults.is_blocked(3));
    faults.heal();
    assert!(!faults.is_blocked(2) && !faults.is_blocked(3));
    faults.block(3).unwrap();
    assert_eq!(node1.outbox().send(envelope(3, 1, "cut")).unwrap(), 0);

    // A removed peer is forgotten by the switch as by the outbox.
    node1.set_peers(&only(&all, &[1, 2])).unwrap();
    assert!(matches!(faults.block(3), Err(ClusterError::UnknownPeer(3))));
}

#[tokio::test]
async fn reserved_ids_are_refused_and_change_nothing() {
    let all = cluster_of(2);
    let keys = test_keys(&all);
    let mut node1 = node(1, &all, &keys);
    let mut bad = all.clone();
    bad.insert(BROADCAST, free_addrs(1)[0]);
    assert!(matches!(
        node1.set_peers(&bad),
        Err(ClusterError::ReservedId(BROADCAST))
    ));
    bad.remove(&BROADCAST);
    bad.insert(0, free_addrs(1)[0]);
    bad.remove(&2);
    assert!(matches!(
        node1.set_peers(&bad),
        Err(ClusterError::ReservedId(0))
    ));
    assert_eq!(node1.outbox().peers(), vec![2]);
    assert_eq!(node1.peers(), &addresses(&only(&all, &[2])));
}

/// Changing the set repeatedly (as a node catching up through several configurations would)
/// leaves exactly the last one in effect.
#[tokio::test]
async fn the_last_of_several_quick_changes_is_the_one_in_effect() {
    let all = cluster_of(3);
    let keys = test_keys(&all);
    let mut node1 = node(1, &only(&all, &[1]), &keys);
    let mut node3 = node(3, &all, &keys);
    let mut inbox3 = node3.take_inbox().unwrap();
    for _ in 0..20 {
        node1.set_peers(&all).unwrap();
        node1.set_peers(&only(&all, &[1, 2])).unwrap();
    }
    node1.set_peers(&only(&all, &[1, 3])).unwrap();
    assert_eq!(node1.outbox().peers(), vec![3]);
    reaches(&node1, 3, &mut inbox3, "settled").await;
}
