//! Storage throughput and fsync latency on this machine.
//!
//! `cargo bench --bench storage` runs:
//! - `group_commit/batch_{1,16,256}`: 256-byte entries submitted as fast as the writer accepts
//!   them, timed until the last batch is reported durable (write + fsync under group commit);
//! - `encode_256B/{hand_written,rmp_serde}`: the cost of framing one entry record (crc included)
//!   with our hand-written body or a MessagePack one;
//! - a printed p50/p99 of one 4 KiB append + fdatasync, the floor under every commit.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use raftkv::raft::{Entry, Index, Payload};
use raftkv::storage::{
    encode_entry_record, FileStore, FileStoreOptions, GroupCommit, GroupCommitOptions, Report,
};

const ENTRY_BYTES: usize = 256;

fn entry(index: Index, payload: &Bytes) -> Entry {
    Entry {
        index,
        term: 1,
        payload: Payload::Command(payload.clone()),
    }
}

fn group_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("group_commit");
    // Short runs: every iteration writes real data (over 1 GB per second measured at batch 256).
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let payload = Bytes::from(vec![0xA5; ENTRY_BYTES]);
    for batch_entries in [1u64, 16, 256] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = FileStore::open(dir.path(), FileStoreOptions::default()).expect("a fresh log");
        let (sender, reports) = mpsc::channel::<Report>();
        let writer = GroupCommit::spawn(store, GroupCommitOptions::default(), move |r| {
            let _ = sender.send(r);
        })
        .expect("the writer thread");
        let mut next_index: Index = 1;
        let mut next_batch: u64 = 0;
        group.throughput(Throughput::Elements(batch_entries));
        group.bench_function(BenchmarkId::new("batch", batch_entries), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let batch = (next_index..next_index + batch_entries)
                        .map(|i| entry(i, &payload))
                        .collect();
                    writer
                        .submit(next_batch, None, batch)
                        .expect("the writer runs");
                    next_index += batch_entries;
                    next_batch += 1;
                }
                // Reports arrive in order: the last one means every batch is durable.
                loop {
                    let durable = reports.recv().expect("a report").expect("no I/O error");
                    if durable.batch_id + 1 == next_batch {
                        break;
                    }
                }
                start.elapsed()
            });
        });
        let syncs = writer.sync_count();
        drop(writer);
        if next_batch > 0 {
            println!("group_commit/batch_{batch_entries}: {next_batch} batches, {syncs} fsyncs");
        }
    }
    group.finish();
}

fn encoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_256B");
    let e = entry(42, &Bytes::from(vec![0xA5; ENTRY_BYTES]));
    let mut buf = Vec::with_capacity(1024);
    group.bench_function("hand_written", |b| {
        b.iter(|| {
            buf.clear();
            encode_entry_record(&mut buf, std::hint::black_box(&e), 0);
            buf.len()
        })
    });
    // The same framing around a MessagePack body, so the two differ only in the body encoding.
    group.bench_function("rmp_serde", |b| {
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(&[0; 17]);
            rmp_serde::encode::write(&mut buf, std::hint::black_box(&e)).expect("encodes");
            let len = (buf.len() as u32 - 17).to_le_bytes();
            buf[4..8].copy_from_slice(&len);
            buf[8] = 1;
            let crc = crc32fast::hash(&buf[4..]);
            buf[..4].copy_from_slice(&crc.to_le_bytes());
            buf.len()
        })
    });
    group.finish();
}

/// Appends 4 KiB and fdatasyncs, `samples` times, and prints the latency percentiles.
fn fsync_latency() {
    let samples = 1000;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("fsync-probe");
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("a probe file");
    let block = vec![0x5A; 4096];
    let mut latencies_us: Vec<u128> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            file.write_all(&block).expect("write");
            file.sync_data().expect("fdatasync");
            start.elapsed().as_micros()
        })
        .collect();
    latencies_us.sort_unstable();
    let at = |q: f64| latencies_us[((samples as f64 * q) as usize).min(samples - 1)];
    println!(
        "fsync_latency_4KiB: p50 {} us, p99 {} us, max {} us ({samples} samples)",
        at(0.50),
        at(0.99),
        latencies_us[samples - 1]
    );
}

criterion_group!(benches, group_commit, encoding);

fn main() {
    fsync_latency();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
