//! Throughput of the state machine and the transaction log.
//!
//! `cargo bench --bench state`

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use raftkv::raft::{Entry, Payload};
use raftkv::state::{encode, Command, Request, StateConfig, StateMachine, TxLog};

const BATCH: usize = 100;

/// A mix of writes from many session clients: students, 64-byte values, stack pushes.
fn entries(count: usize) -> Vec<Entry> {
    (0..count)
        .map(|i| {
            let i = i as u64;
            let command = match i % 4 {
                0 => Command::StackCreate { label: 1 },
                1 => Command::StudentPut {
                    roll_no: i % 1000,
                    name: format!("Student {i}"),
                    address: "1 Main St".into(),
                    phone: "555-0100".into(),
                },
                2 => Command::KvPut {
                    key: format!("key-{}", i % 1000),
                    value: Bytes::from(vec![b'v'; 64]),
                },
                _ => Command::StackPush {
                    stack_id: 1,
                    item: i as i64,
                },
            };
            let request = Request::with_session(i % 500, i, command);
            Entry {
                index: i + 1,
                term: 1,
                payload: Payload::Command(encode(&request)),
            }
        })
        .collect()
}

fn machine() -> StateMachine {
    StateMachine::new(StateConfig::default()).expect("valid config")
}

fn apply(c: &mut Criterion) {
    let entries = entries(10_000);
    let mut group = c.benchmark_group("state");
    group.throughput(Throughput::Elements(entries.len() as u64));
    group.bench_function("apply 10k entries", |b| {
        b.iter_batched(
            machine,
            |mut sm| {
                for e in &entries {
                    sm.apply(e.index, e.term, &e.payload);
                }
                sm
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("apply_batch 10k entries + txlog, 100 per batch", |b| {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut node = 0;
        b.iter_batched(
            || {
                // A fresh file per iteration, so lines are written rather than skipped.
                node += 1;
                (machine(), TxLog::open(dir.path(), node).expect("open"))
            },
            |(mut sm, mut log)| {
                for chunk in entries.chunks(BATCH) {
                    sm.apply_batch(chunk, &mut log).expect("batch");
                }
                (sm, log)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn reopen(c: &mut Criterion) {
    let entries = entries(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let mut log = TxLog::open(dir.path(), 1).expect("open");
        let mut sm = machine();
        for chunk in entries.chunks(1000) {
            sm.apply_batch(chunk, &mut log).expect("batch");
        }
    }
    let mut group = c.benchmark_group("txlog");
    group.throughput(Throughput::Elements(entries.len() as u64));
    group.sample_size(10);
    group.bench_function("open a 100k-line log", |b| {
        b.iter(|| TxLog::open(dir.path(), 1).expect("open").last_index())
    });
    group.finish();
}

criterion_group!(benches, apply, reopen);
criterion_main!(benches);
