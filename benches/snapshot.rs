//! Writing and reading a snapshot of a large state (1,000,000 keys with 256-byte values), and
//! taking the clone a snapshot is written from.
//!
//! `cargo bench --bench snapshot`

use std::path::Path;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use raftkv::raft::Payload;
use raftkv::state::{
    encode, read_snapshot_file, write_snapshot_file, Command, Request, StateConfig, StateMachine,
};

const KEYS: u64 = 1_000_000;
const VALUE_BYTES: usize = 256;
const VOTERS: [u64; 3] = [1, 2, 3];

/// A membership of these voters, without addresses.
fn members(voters: &[u64]) -> raftkv::raft::MembershipEntry {
    raftkv::raft::MembershipEntry {
        membership: raftkv::raft::Membership {
            voters: voters.to_vec(),
            learners: Vec::new(),
        },
        context: Default::default(),
    }
}

/// A machine holding `KEYS` keys, each written by its own entry.
fn machine() -> StateMachine {
    let mut sm = StateMachine::new(StateConfig::default()).expect("valid config");
    let value = Bytes::from(vec![b'v'; VALUE_BYTES]);
    for i in 0..KEYS {
        let command = Command::KvPut {
            key: format!("key-{i:08}"),
            value: value.clone(),
        };
        sm.apply(i + 1, 1, &Payload::Command(encode(&Request::new(command))));
    }
    sm
}

fn write_and_read(c: &mut Criterion) {
    let sm = machine();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.snap");
    let summary = write_snapshot_file(&sm, &members(&VOTERS), &path).expect("write");
    eprintln!(
        "snapshot of {KEYS} keys x {VALUE_BYTES} B: {} bytes ({:.1} MiB)",
        summary.bytes,
        summary.bytes as f64 / f64::from(1 << 20)
    );

    let mut group = c.benchmark_group("snapshot 1M keys x 256 B");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(summary.bytes));
    group.bench_function("write_snapshot_file (fsynced)", |b| {
        b.iter(|| write_snapshot_file(&sm, &members(&VOTERS), &path).expect("write"))
    });
    group.bench_function("read_snapshot_file", |b| b.iter(|| read(&path)));
    group.finish();

    // The consistent view a writer thread is handed: O(1), whatever the size of the state.
    c.bench_function("clone a 1M-key state machine", |b| b.iter(|| sm.clone()));
}

fn read(path: &Path) -> u64 {
    let (sm, meta) = read_snapshot_file(path, StateConfig::default()).expect("read");
    assert_eq!(sm.applied_index(), KEYS);
    meta.index
}

criterion_group!(benches, write_and_read);
criterion_main!(benches);
