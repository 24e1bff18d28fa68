//! A quick measurement, not a pass/fail test: run with
//! `cargo test --test cluster cluster_throughput -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use crate::support::bridge::{cluster_of, envelope, eventually, recv, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run it by hand"]
async fn one_way_throughput_and_round_trip_latency() {
    let peers = cluster_of(2);
    let mut node1 = start(1, &peers);
    let mut node2 = start(2, &peers);
    let mut inbox1 = node1.take_inbox().unwrap();
    let mut inbox2 = node2.take_inbox().unwrap();
    let (outbox1, counters2) = (node1.outbox(), node2.counters());

    // Warm up: the connection is made in the background.
    outbox1.send(envelope(2, 0, "warm-up")).unwrap();
    recv(&mut inbox2).await;

    // One way. Node 2's inbox is read concurrently; what it cannot hold is dropped and counted,
    // so "arrived" (received + dropped_inbox_full) measures what the link carried.
    const N: u64 = 200_000;
    let reader = tokio::spawn(async move { while inbox2.recv().await.is_some() {} });
    let arrived = || {
        let c = counters2.snapshot();
        c.received + c.dropped_inbox_full - 1
    };
    let began = Instant::now();
    let mut full = 0u64;
    for i in 0..N {
        // A full queue drops: wait for room instead, to measure what the link carries.
        while outbox1.send(envelope(2, i, "0123456789abcdef")).unwrap() == 0 {
            full += 1;
            tokio::task::yield_now().await;
        }
    }
    assert!(eventually(Duration::from_secs(30), || arrived() == N).await);
    let secs = began.elapsed().as_secs_f64();
    eprintln!(
        "one-way: {N} envelopes (16-byte payload, 28-byte frames) in {secs:.3} s = {:.0} msg/s; \
         {} dropped at node 2's full inbox; {full} retries on node 1's full queue",
        N as f64 / secs,
        counters2.snapshot().dropped_inbox_full,
    );
    node2.shutdown();
    reader.await.unwrap();

    // Round trips: node 2 echoes every envelope back to its sender.
    let mut node2 = start(2, &peers);
    let mut inbox2 = node2.take_inbox().unwrap();
    let outbox2 = node2.outbox();
    let echo = tokio::spawn(async move {
        while let Some(e) = inbox2.recv().await {
            let _ = outbox2.send(envelope(e.pid, e.msg_id, &e.msg));
        }
    });
    let mut rtts = Vec::with_capacity(5000);
    let mut i = 0;
    while rtts.len() < 5000 {
        i += 1;
        let sent = Instant::now();
        outbox1.send(envelope(2, i, "ping")).unwrap();
        // The first pings may go out before node 1 reconnects to the new node 2.
        match tokio::time::timeout(Duration::from_millis(100), inbox1.recv()).await {
            Ok(Some(back)) if back.msg_id == i => rtts.push(sent.elapsed()),
            _ => continue,
        }
    }
    rtts.sort();
    let pct = |p: usize| rtts[rtts.len() * p / 100];
    eprintln!(
        "round trip over 5000 pings: p50 {:?}, p90 {:?}, p99 {:?}",
        pct(50),
        pct(90),
        pct(99)
    );
    node2.shutdown();
    echo.await.unwrap();
}
