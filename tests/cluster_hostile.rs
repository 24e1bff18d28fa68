//! Frames that are not envelopes from a member — garbage, truncated MessagePack, several parts, an
//! unknown sender id, an oversized frame — are dropped and counted, and valid traffic still flows.

mod cluster_support;

use bytes::Bytes;
use cluster_support::{cluster_of, envelope, recv, start, start_with, DEADLINE};
use raftkv::cluster::{wire, CounterSnapshot, Limits};
use zeromq::{DealerSocket, Socket, SocketSend, ZmqMessage};

/// A raw DEALER connected to `addr`, as a hostile or buggy program would use.
async fn raw_dealer(addr: std::net::SocketAddr) -> DealerSocket {
    let mut socket = DealerSocket::new();
    tokio::time::timeout(DEADLINE, socket.connect(&format!("tcp://{addr}")))
        .await
        .expect("connect in time")
        .expect("connect");
    socket
}

#[tokio::test]
async fn malformed_frames_are_dropped_and_counted() {
    let peers = cluster_of(2);
    let limits = Limits {
        max_frame_bytes: 4096,
        ..Limits::default()
    };
    let mut node1 = start_with(1, &peers, limits);
    let mut inbox1 = node1.take_inbox().unwrap();
    let mut raw = raw_dealer(peers[&1]).await;

    let valid = wire::encode(2, 5, &"forged but well-formed".to_string()).unwrap();
    let frames: Vec<ZmqMessage> = vec![
        ZmqMessage::from(Bytes::from_static(b"\xc1 not messagepack at all")),
        ZmqMessage::from(valid.slice(..valid.len() - 3)),
        ZmqMessage::try_from(vec![valid.clone(), valid.clone()]).unwrap(),
        ZmqMessage::from(wire::encode(99, 1, &"who am I".to_string()).unwrap()),
        ZmqMessage::from(wire::encode(1, 1, &"from myself".to_string()).unwrap()),
        ZmqMessage::from(wire::encode(2, 1, &"x".repeat(5000)).unwrap()),
        // Last: the frames above were processed once this one is delivered (one connection).
        ZmqMessage::from(valid),
    ];
    for frame in frames {
        raw.send(frame).await.unwrap();
    }
    assert_eq!(
        recv(&mut inbox1).await,
        envelope(2, 5, "forged but well-formed")
    );
    assert_eq!(
        node1.counters().snapshot(),
        CounterSnapshot {
            received: 1,
            dropped_decode: 3,
            dropped_unknown_sender: 2,
            dropped_oversized: 1,
            ..CounterSnapshot::default()
        }
    );

    // The real peer is still heard.
    let node2 = start(2, &peers);
    node2.outbox().send(envelope(1, 6, "genuine")).unwrap();
    assert_eq!(recv(&mut inbox1).await, envelope(2, 6, "genuine"));
}

#[tokio::test]
async fn a_frame_just_under_the_limit_is_accepted() {
    let peers = cluster_of(2);
    let limits = Limits {
        max_frame_bytes: 4096,
        ..Limits::default()
    };
    let mut node1 = start_with(1, &peers, limits.clone());
    let mut inbox1 = node1.take_inbox().unwrap();
    let node2 = start_with(2, &peers, limits);
    // A 4000-character string encodes in 4000 + 3 (str16 header) + 3 (array, two small ints).
    let big = "y".repeat(4000);
    assert!(wire::encode(2, 1, &big).unwrap().len() <= 4096);
    node2.outbox().send(envelope(1, 1, &big)).unwrap();
    assert_eq!(recv(&mut inbox1).await.msg, big);
    assert_eq!(node1.counters().snapshot().dropped_oversized, 0);
}
