//! A peer that stops and starts again on the same address is reached again within a second:
//! zeromq 0.7's DEALER does not reconnect by itself, so the bridge rebuilds it.

use std::time::{Duration, Instant};

use crate::support::bridge::{
    cluster_of, envelope, eventually, recv, send_until_received, start, DEADLINE,
};

#[tokio::test]
async fn a_restarted_peer_receives_again_within_a_second() {
    let peers = cluster_of(2);
    let node1 = start(1, &peers);
    let mut node2 = start(2, &peers);
    let mut inbox2 = node2.take_inbox().unwrap();
    node1.outbox().send(envelope(2, 1, "before")).unwrap();
    assert_eq!(recv(&mut inbox2).await, envelope(1, 1, "before"));

    node2.shutdown();
    drop(inbox2);
    // Keep node 1 trying until its backoff has grown to the cap: the slow case for reconnecting.
    let (outbox, counters) = (node1.outbox(), node1.counters());
    let down = Instant::now();
    while counters.snapshot().dropped_unreachable < 10 {
        assert!(
            down.elapsed() < DEADLINE,
            "node 1 never noticed node 2 was gone"
        );
        let _ = outbox.send(envelope(2, 0, "while down"));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Restarting on the very same address proves shutdown freed the port.
    let mut node2 = start(2, &peers);
    let mut inbox2 = node2.take_inbox().unwrap();
    let restarted = Instant::now();

    let got = send_until_received(&outbox, 2, "after", &mut inbox2, Duration::from_secs(1)).await;
    let elapsed = restarted.elapsed();
    let got = got.unwrap_or_else(|| panic!("nothing reached the restarted peer in {elapsed:?}"));
    assert_eq!((got.pid, got.msg.as_str()), (1, "after"));
    eprintln!("restarted peer reached again after {elapsed:?}");
    let c = node1.counters().snapshot();
    assert!(c.reconnects >= 1 && c.connects == c.reconnects + 1, "{c:?}");
}

#[tokio::test]
async fn a_peer_started_late_is_reached_once_it_listens() {
    let peers = cluster_of(2);
    let node1 = start(1, &peers);
    let outbox = node1.outbox();
    // Nothing listens on node 2's address yet: frames are dropped (counted), never blocked.
    outbox.send(envelope(2, 1, "too early")).unwrap();
    let counters = node1.counters();
    assert!(eventually(DEADLINE, || counters.snapshot().dropped_unreachable >= 1).await);

    let mut node2 = start(2, &peers);
    let mut inbox2 = node2.take_inbox().unwrap();
    // Node 1 is still retrying, maybe in the middle of an attempt that began before node 2
    // listened and will fail; that attempt must not drop a frame sent after it began.
    outbox.send(envelope(2, 2, "on time")).unwrap();
    assert_eq!(recv(&mut inbox2).await, envelope(1, 2, "on time"));
}
