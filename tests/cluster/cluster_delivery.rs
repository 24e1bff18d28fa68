//! Envelopes reach the addressed peer with `pid` rewritten to the sender; broadcast reaches all.

use crate::support::bridge::{auth, cluster_of, envelope, eventually, recv, start, DEADLINE};
use raftkv::cluster::{Cluster, ClusterError, Envelope, Limits, OutboxError, BROADCAST};

#[tokio::test]
async fn an_envelope_arrives_at_the_addressed_peer_with_the_sender_as_pid() {
    let peers = cluster_of(3);
    let node1 = start(1, &peers);
    let mut node2 = start(2, &peers);
    let mut node3 = start(3, &peers);
    let (mut inbox2, mut inbox3) = (node2.take_inbox().unwrap(), node3.take_inbox().unwrap());

    assert_eq!(node1.outbox().send(envelope(2, 7, "to two")).unwrap(), 1);
    assert_eq!(recv(&mut inbox2).await, envelope(1, 7, "to two"));

    // Node 3 hears from node 1 only after this marker: the first envelope went to node 2 alone.
    node1.outbox().send(envelope(3, 8, "to three")).unwrap();
    assert_eq!(recv(&mut inbox3).await, envelope(1, 8, "to three"));
    assert!(inbox2.try_recv().is_err() && inbox3.try_recv().is_err());
}

#[tokio::test]
async fn broadcast_reaches_every_peer_but_the_sender() {
    let peers = cluster_of(3);
    let mut nodes: Vec<_> = peers.keys().map(|&id| start(id, &peers)).collect();
    let mut inboxes: Vec<_> = nodes.iter_mut().map(|n| n.take_inbox().unwrap()).collect();

    assert_eq!(
        nodes[1]
            .outbox()
            .send(envelope(BROADCAST, 1, "all"))
            .unwrap(),
        2
    );
    assert_eq!(recv(&mut inboxes[0]).await, envelope(2, 1, "all"));
    assert_eq!(recv(&mut inboxes[2]).await, envelope(2, 1, "all"));
    assert!(
        inboxes[1].try_recv().is_err(),
        "a broadcast does not loop back"
    );
}

#[tokio::test]
async fn one_link_preserves_order_and_counts_every_frame() {
    let peers = cluster_of(2);
    let node1 = start(1, &peers);
    let mut node2 = start(2, &peers);
    let mut inbox2 = node2.take_inbox().unwrap();
    let outbox = node1.outbox();
    // Fewer than the per-peer queue length, so none can be dropped.
    for i in 0..1000 {
        assert_eq!(outbox.send(envelope(2, i, &format!("m{i}"))).unwrap(), 1);
    }
    for i in 0..1000 {
        assert_eq!(recv(&mut inbox2).await, envelope(1, i, &format!("m{i}")));
    }
    // Counted once ZeroMQ took the frame, which may be a moment after the peer already has it.
    let counters1 = node1.counters();
    assert!(eventually(DEADLINE, || counters1.snapshot().sent == 1000).await);
    assert_eq!(node2.counters().snapshot().received, 1000);
}

#[tokio::test]
async fn raft_messages_cross_the_wire_intact() {
    use raftkv::raft::{Body, Entry, Message, Payload};
    let peers = cluster_of(2);
    let node1 = Cluster::start::<Message, _>(1, &peers, Limits::default(), auth(&peers)).unwrap();
    let mut node2 =
        Cluster::start::<Message, _>(2, &peers, Limits::default(), auth(&peers)).unwrap();
    let mut inbox2 = node2.take_inbox().unwrap();
    let msg = Message {
        term: 4,
        body: Body::Append {
            prev_log_index: 9,
            prev_log_term: 3,
            entries: vec![Entry {
                index: 10,
                term: 4,
                payload: Payload::Command(bytes::Bytes::from_static(b"put k v")),
            }],
            leader_commit: 9,
        },
    };
    node1
        .outbox()
        .send(Envelope {
            pid: 2,
            msg_id: 1,
            msg: msg.clone(),
        })
        .unwrap();
    let got = tokio::time::timeout(DEADLINE, inbox2.recv()).await;
    assert_eq!(
        got.unwrap().unwrap(),
        Envelope {
            pid: 1,
            msg_id: 1,
            msg
        }
    );
}

#[tokio::test]
async fn unknown_destinations_and_oneself_are_refused() {
    let peers = cluster_of(2);
    let node1 = start(1, &peers);
    assert!(matches!(
        node1.outbox().send(envelope(9, 1, "x")),
        Err(OutboxError::UnknownPeer(9))
    ));
    assert!(matches!(
        node1.outbox().send(envelope(1, 1, "x")),
        Err(OutboxError::UnknownPeer(1))
    ));
}

#[tokio::test]
async fn after_shutdown_the_outbox_refuses_and_the_inbox_ends() {
    let peers = cluster_of(2);
    let mut node1 = start(1, &peers);
    let mut inbox1 = node1.take_inbox().unwrap();
    let outbox = node1.outbox();
    node1.shutdown();
    node1.shutdown(); // idempotent
    assert!(matches!(
        outbox.send(envelope(2, 1, "late")),
        Err(OutboxError::Closed)
    ));
    assert_eq!(inbox1.recv().await, None);
}

#[test]
fn start_refuses_bad_arguments() {
    let peers = cluster_of(2);
    let not_member = Cluster::start::<String, _>(3, &peers, Limits::default(), auth(&peers));
    assert!(matches!(not_member, Err(ClusterError::NotAMember(3))));

    let mut reserved = peers.clone();
    reserved.insert(0, "127.0.0.1:1".parse().unwrap());
    let result = Cluster::start::<String, _>(1, &reserved, Limits::default(), auth(&reserved));
    assert!(matches!(result, Err(ClusterError::ReservedId(0))));

    let limits = Limits {
        peer_queue_len: 0,
        ..Limits::default()
    };
    let result = Cluster::start::<String, _>(1, &peers, limits, auth(&peers));
    assert!(matches!(result, Err(ClusterError::InvalidLimits(_))));

    let _first = Cluster::start::<String, _>(1, &peers, Limits::default(), auth(&peers)).unwrap();
    let second = Cluster::start::<String, _>(1, &peers, Limits::default(), auth(&peers));
    assert!(
        matches!(second, Err(ClusterError::Bind { .. })),
        "the port is taken"
    );
}

/// The bridge runs on its own thread and runtime, so it works the same under actix's
/// single-threaded runtime, where the replicator lives.
#[actix_rt::test]
async fn works_under_the_actix_runtime() {
    let peers = cluster_of(2);
    let node1 = start(1, &peers);
    let mut node2 = start(2, &peers);
    let mut inbox2 = node2.take_inbox().unwrap();
    node1.outbox().send(envelope(2, 1, "from actix")).unwrap();
    assert_eq!(recv(&mut inbox2).await, envelope(1, 1, "from actix"));
}

/// ... and with no async runtime at all: `send` never waits, `try_recv` polls.
#[test]
fn works_without_any_runtime() {
    let peers = cluster_of(2);
    let node1 = start(1, &peers);
    let mut node2 = start(2, &peers);
    let mut inbox2 = node2.take_inbox().unwrap();
    node1.outbox().send(envelope(2, 1, "plain")).unwrap();
    let began = std::time::Instant::now();
    let got = loop {
        if let Ok(envelope) = inbox2.try_recv() {
            break envelope;
        }
        assert!(began.elapsed() < DEADLINE, "nothing arrived");
        std::thread::yield_now();
    };
    assert_eq!(got, envelope(1, 1, "plain"));
}
