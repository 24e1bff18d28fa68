//! A dead or stalled peer never blocks the node; the test-only fault switch cuts chosen links.

use std::time::{Duration, Instant};

use crate::support::bridge::{
    cluster_of, envelope, eventually, recv, start, start_connected, DEADLINE,
};
use raftkv::cluster::{ClusterError, BROADCAST};

#[tokio::test]
async fn absent_and_stalled_peers_do_not_block_sends_to_others() {
    let mut peers = cluster_of(3);
    // Node 4 accepts TCP connections but never speaks ZeroMQ: connected, yet nothing gets through.
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    peers.insert(4, stalled.local_addr().unwrap());
    let node1 = start(1, &peers);
    let mut node2 = start(2, &peers);
    let mut inbox2 = node2.take_inbox().unwrap();
    // Node 3 is never started.

    let outbox = node1.outbox();
    let began = Instant::now();
    for i in 0..20_000u64 {
        outbox.send(envelope(3, i, "to the absent")).unwrap();
        outbox.send(envelope(4, i, "to the stalled")).unwrap();
    }
    let elapsed = began.elapsed();
    assert!(
        elapsed < Duration::from_secs(2),
        "40,000 sends took {elapsed:?}"
    );

    let counters = node1.counters();
    let dropped = || {
        let c = counters.snapshot();
        c.dropped_queue_full + c.dropped_unreachable
    };
    // Each dead peer holds at most its queue (1024 frames); everything else was dropped. A link
    // that is emptying its queue counts the frames once it is done, hence `eventually`.
    assert!(
        eventually(DEADLINE, || dropped() >= 2 * (20_000 - 1024)).await,
        "dropped only {}",
        dropped()
    );
    assert!(eventually(DEADLINE, || counters.snapshot().dropped_unreachable > 0).await);

    outbox.send(envelope(2, 1, "still flowing")).unwrap();
    assert_eq!(recv(&mut inbox2).await, envelope(1, 1, "still flowing"));
}

#[tokio::test]
async fn the_fault_switch_drops_traffic_both_ways_until_healed() {
    // Frames sent before a peer's connection is up may be dropped (Raft resends; this test
    // must not): start once every link is up.
    let mut nodes = start_connected(&cluster_of(3)).await;
    let mut inboxes: Vec<_> = nodes.iter_mut().map(|n| n.take_inbox().unwrap()).collect();
    let faults1 = nodes[0].faults();
    let counters1 = nodes[0].counters();
    let dropped_before = counters1.snapshot().dropped_fault_out;

    faults1.block(2).unwrap();
    assert!(faults1.is_blocked(2) && !faults1.is_blocked(3));
    // Outbound: not queued, counted.
    assert_eq!(nodes[0].outbox().send(envelope(2, 1, "cut")).unwrap(), 0);
    assert_eq!(
        nodes[0]
            .outbox()
            .send(envelope(BROADCAST, 2, "half"))
            .unwrap(),
        1
    );
    assert_eq!(recv(&mut inboxes[2]).await, envelope(1, 2, "half"));
    assert_eq!(counters1.snapshot().dropped_fault_out - dropped_before, 2);
    // Inbound: node 2's envelope reaches node 1's socket and is dropped there.
    nodes[1].outbox().send(envelope(1, 3, "unheard")).unwrap();
    assert!(eventually(DEADLINE, || counters1.snapshot().dropped_fault_in == 1).await);
    assert!(inboxes[0].try_recv().is_err());
    assert!(inboxes[1].try_recv().is_err());

    faults1.unblock(2).unwrap();
    nodes[1].outbox().send(envelope(1, 4, "heard")).unwrap();
    assert_eq!(recv(&mut inboxes[0]).await, envelope(2, 4, "heard"));

    faults1.isolate();
    assert_eq!(
        nodes[0]
            .outbox()
            .send(envelope(BROADCAST, 5, "alone"))
            .unwrap(),
        0
    );
    faults1.heal();
    assert_eq!(
        nodes[0]
            .outbox()
            .send(envelope(BROADCAST, 6, "back"))
            .unwrap(),
        2
    );
    assert_eq!(recv(&mut inboxes[1]).await, envelope(1, 6, "back"));
    assert_eq!(recv(&mut inboxes[2]).await, envelope(1, 6, "back"));

    assert!(matches!(
        faults1.block(99),
        Err(ClusterError::UnknownPeer(99))
    ));
}
