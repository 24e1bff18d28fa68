//! Commits per second and commit latency of a 3-replicator cluster in one process: temp dirs with
//! real fsync, real ZeroMQ on loopback, the real actors. Each proposer sends one `Propose` to the
//! leader and waits for it to apply before sending the next, so latency is what a client sees
//! minus HTTP.
//!
//! `cargo bench --bench cluster` prints, per number of concurrent proposers, the commits per
//! second, the p50/p99/max latency and the fsyncs per commit on the leader. Optional arguments
//! (after `--`): `--seconds N` per level (default 3) and `--proposers 1,16,64`.

#[path = "../tests/support/config.rs"]
mod config;
#[path = "../tests/support/inproc.rs"]
mod inproc;
#[path = "../tests/support/machine.rs"]
mod machine;

use std::time::{Duration, Instant};

use actix::Addr;
use bytes::Bytes;
use raftkv::raft::Role;
use raftkv::replicator::{GetMetrics, GetStatus, Propose, Replicator};
use raftkv::state::{Command, Request};

use inproc::InProcCluster;

/// What one level of concurrency measured.
struct Figures {
    proposers: usize,
    commits: usize,
    failed: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
    fsyncs: u64,
}

impl Figures {
    fn percentile_us(&self, p: f64) -> u64 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let rank = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        self.latencies_us[rank]
    }

    fn print(&self) {
        let per_sec = self.commits as f64 / self.elapsed.as_secs_f64();
        println!(
            "cluster/propose proposers={:<3} commits/s={:>8.0}  p50={:>6} us  p99={:>6} us  \
             max={:>6} us  leader fsyncs/commit={:.3}  (commits={} failed={} in {:.1?})",
            self.proposers,
            per_sec,
            self.percentile_us(0.50),
            self.percentile_us(0.99),
            self.latencies_us.last().copied().unwrap_or(0),
            self.fsyncs as f64 / self.commits.max(1) as f64,
            self.commits,
            self.failed,
            self.elapsed,
        );
    }
}

/// The node that leads now, asking each in turn (a leader change under load is possible on a
/// shared machine: proposers follow it rather than fail for the rest of the run).
/// The leader's fsyncs so far: the count of its fsync histogram.
const FSYNC_COUNT: &str = "raftkv_disk_wal_fsync_duration_seconds_count";

async fn find_leader(nodes: &[Addr<Replicator>]) -> usize {
    loop {
        for (i, node) in nodes.iter().enumerate() {
            if node
                .send(GetStatus)
                .await
                .is_ok_and(|s| s.role == Role::Leader)
            {
                return i;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs `proposers` closed-loop proposers against the leader among `nodes` for `duration`.
async fn measure(nodes: &[Addr<Replicator>], proposers: usize, duration: Duration) -> Figures {
    let first_leader = find_leader(nodes).await;
    let fsyncs_before = nodes[first_leader]
        .send(GetMetrics)
        .await
        .expect("leader")
        .value(FSYNC_COUNT)
        .unwrap_or(0.0);
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..proposers)
        .map(|p| {
            let nodes = nodes.to_vec();
            actix::spawn(async move {
                let value = Bytes::from(vec![b'v'; 64]);
                let mut latencies_us = Vec::new();
                let mut failed = 0;
                let mut n = 0u64;
                let mut leader = first_leader;
                while Instant::now() < deadline {
                    n += 1;
                    let command = Command::KvPut {
                        key: format!("p{p}-{}", n % 128),
                        value: value.clone(),
                    };
                    let sent = Instant::now();
                    match nodes[leader].send(Propose(Request::new(command))).await {
                        Ok(Ok(_)) => latencies_us.push(sent.elapsed().as_micros() as u64),
                        other => {
                            if failed == 0 {
                                eprintln!("proposer {p}: first failure: {other:?}");
                            }
                            failed += 1;
                            leader = find_leader(&nodes).await;
                        }
                    }
                }
                (latencies_us, failed)
            })
        })
        .collect();
    let mut latencies_us = Vec::new();
    let mut failed = 0;
    for task in tasks {
        let (l, f) = task.await.expect("proposer task");
        latencies_us.extend(l);
        failed += f;
    }
    let elapsed = start.elapsed();
    latencies_us.sort_unstable();
    let fsyncs = nodes[first_leader]
        .send(GetMetrics)
        .await
        .expect("leader")
        .value(FSYNC_COUNT)
        .unwrap_or(0.0)
        - fsyncs_before;
    // A count: an f64 holds it exactly.
    let fsyncs = fsyncs as u64;
    Figures {
        proposers,
        commits: latencies_us.len(),
        failed,
        elapsed,
        latencies_us,
        fsyncs,
    }
}

/// `--seconds N` and `--proposers a,b,c`; anything else (cargo's `--bench`) is ignored.
fn parse_args() -> (Duration, Vec<usize>) {
    let mut seconds = 3.0;
    let mut levels = vec![1, 16, 64];
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        match pair[0].as_str() {
            "--seconds" => seconds = pair[1].parse().expect("--seconds takes a number"),
            "--proposers" => {
                levels = pair[1]
                    .split(',')
                    .map(|n| n.trim().parse().expect("--proposers takes numbers"))
                    .collect()
            }
            _ => {}
        }
    }
    (Duration::from_secs_f64(seconds), levels)
}

fn main() {
    let (duration, levels) = parse_args();
    let system = actix::System::new();
    system.block_on(async move {
        let mut cluster = InProcCluster::configure(3, "");
        cluster.taps = false;
        // One thread per node, as one process per node would have.
        cluster.threads = true;
        for id in 1..=3 {
            cluster.start_node(id);
        }
        cluster.wait_for_leader(Duration::from_secs(10)).await;
        let nodes: Vec<Addr<Replicator>> = (1..=3).map(|id| cluster.addr(id)).collect();
        // Warm up: connections, page cache, the first segment file.
        measure(&nodes, 16, Duration::from_millis(500)).await;
        for proposers in levels {
            measure(&nodes, proposers, duration).await.print();
        }
        cluster.stop_all().await;
    });
}
