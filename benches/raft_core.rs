//! Proposals committed per second by the bare Raft core: a three-node cluster in memory, each
//! output batch "persisted" at once and every message delivered in the same turn. This measures the
//! core's own cost (appending, batching, flow control, commit, hand-off to apply), the ceiling for a
//! node whose disk and network are free.
//!
//! One turn: the leader takes `batch` proposals of 16-byte commands, then outputs are exchanged until
//! the leader has applied them all. Throughput is reported in proposals per second.

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use raftkv::raft::{Config, Message, NodeId, Raft, Restored, Role};
use rand::{rngs::StdRng, SeedableRng};

const NODES: u64 = 3;
const PAYLOAD_BYTES: usize = 16;

/// A cluster whose node 1 leads, with every buffer of the exchange kept for reuse.
struct Cluster {
    nodes: Vec<Raft>,
    in_flight: Vec<(NodeId, NodeId, Message)>,
}

impl Cluster {
    fn new() -> Self {
        let voters: Vec<NodeId> = (1..=NODES).collect();
        let nodes = voters
            .iter()
            .map(|&id| {
                let cfg = Config::new(id, voters.clone());
                let rng = Box::new(StdRng::seed_from_u64(id));
                Raft::new(cfg, Restored::default(), rng).expect("valid config")
            })
            .collect();
        let mut c = Cluster {
            nodes,
            in_flight: Vec::new(),
        };
        while c.nodes[0].status().role != Role::Leader {
            c.nodes[0].tick();
            while c.exchange() {}
        }
        c
    }

    /// Persists and applies every node's output and delivers its messages. Returns false when
    /// nothing was left to do.
    fn exchange(&mut self) -> bool {
        let mut busy = false;
        for (i, raft) in self.nodes.iter_mut().enumerate() {
            let out = raft.take_output();
            if out.is_empty() {
                continue;
            }
            busy = true;
            if let Some(last) = out.entries.last() {
                raft.persisted(last.index, last.term);
            }
            let from = i as NodeId + 1;
            let sent = out.messages.into_iter().chain(out.messages_after_persist);
            self.in_flight.extend(sent.map(|(to, msg)| (from, to, msg)));
        }
        for (from, to, msg) in self.in_flight.drain(..) {
            self.nodes[to as usize - 1].step(from, msg);
        }
        busy
    }

    /// Proposes `batch` commands and exchanges outputs until the leader has applied them.
    fn turn(&mut self, batch: usize, payload: &Bytes) {
        let leader = &mut self.nodes[0];
        let mut last = 0;
        for _ in 0..batch {
            (last, _) = leader.propose(payload.clone()).expect("node 1 leads");
        }
        while self.nodes[0].status().applied_index < last {
            assert!(self.exchange(), "the cluster stalled");
        }
    }
}

fn proposals_committed(c: &mut Criterion) {
    let payload = Bytes::from(vec![0xA5u8; PAYLOAD_BYTES]);
    let mut group = c.benchmark_group("raft_core/commit_3_nodes");
    for batch in [64usize, 1024] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new("batch", batch), &batch, |b, &batch| {
            // A fresh cluster per sample keeps the (never compacted) logs from growing without
            // bound; only the turns are timed.
            b.iter_custom(|turns| {
                let mut cluster = Cluster::new();
                let start = Instant::now();
                for _ in 0..turns {
                    cluster.turn(batch, &payload);
                }
                start.elapsed()
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = proposals_committed
}
criterion_main!(benches);
