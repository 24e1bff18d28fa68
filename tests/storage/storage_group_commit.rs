//! The group-commit writer: ordering, batching under one fsync, compaction in order with the
//! writes, error reporting, clean shutdown.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use raftkv::raft::{Entry, HardState, Index, Payload, Term};
use raftkv::storage::{
    Durable, FileStore, FileStoreOptions, GroupCommit, GroupCommitOptions, Loaded, LogStore,
    MemStore, Report, StorageError,
};

fn entry(index: Index, term: Term) -> Entry {
    Entry {
        index,
        term,
        payload: Payload::Command(Bytes::from(vec![7; 256])),
    }
}

/// Waits for `count` reports, failing the test after a generous deadline instead of hanging.
fn receive(reports: &mpsc::Receiver<Report>, count: usize) -> Vec<Report> {
    let deadline = Instant::now() + Duration::from_secs(30);
    (0..count)
        .map(|_| {
            let left = deadline.saturating_duration_since(Instant::now());
            reports
                .recv_timeout(left)
                .expect("the writer reported in time")
        })
        .collect()
}

fn durable_ids(reports: Vec<Report>) -> Vec<u64> {
    reports
        .into_iter()
        .map(|r| r.expect("durable").batch_id)
        .collect()
}

#[test]
fn batches_submitted_quickly_are_reported_in_order_with_fewer_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(dir.path(), FileStoreOptions::default()).unwrap();
    let (sender, reports) = mpsc::channel();
    let writer = GroupCommit::spawn(store, GroupCommitOptions::default(), move |r| {
        sender.send(r).unwrap()
    })
    .unwrap();
    let batches = 500u64;
    for id in 0..batches {
        let index = id * 2 + 1;
        writer
            .submit(id, None, vec![entry(index, 1), entry(index + 1, 1)])
            .unwrap();
    }
    let reports = receive(&reports, batches as usize);
    let expected: Vec<Durable> = (0..batches)
        .map(|id| Durable {
            batch_id: id,
            last: Some((id * 2 + 2, 1)),
        })
        .collect();
    assert_eq!(
        reports.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        expected
    );
    let syncs = writer.sync_count();
    assert!(
        syncs >= 1 && syncs < batches,
        "{syncs} syncs for {batches} batches"
    );
    let mut store = writer.close();
    assert_eq!(store.load().unwrap().entries.len() as u64, 2 * batches);
}

/// A store whose `sync` waits until the test opens a gate, so batches pile up meanwhile.
struct GatedStore {
    inner: MemStore,
    gate: Arc<(Mutex<bool>, Condvar)>,
    syncs_started: mpsc::Sender<()>,
}

impl LogStore for GatedStore {
    fn load(&mut self) -> Result<Loaded, StorageError> {
        self.inner.load()
    }

    fn write(
        &mut self,
        hard_state: Option<&HardState>,
        entries: &[Entry],
    ) -> Result<(), StorageError> {
        self.inner.write(hard_state, entries)
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        let _ = self.syncs_started.send(());
        let (open, opened) = &*self.gate;
        let mut open = open.lock().unwrap();
        while !*open {
            open = opened.wait(open).unwrap();
        }
        self.inner.sync()
    }

    fn compact(&mut self, index: Index, term: Term) -> Result<(), StorageError> {
        self.inner.compact(index, term)
    }
}

/// A writer over a [`GatedStore`] whose first batch (id 0, entry 1) is already stuck in its
/// sync. Call the returned function to open the gate.
fn writer_stuck_in_a_sync(
    options: GroupCommitOptions,
) -> (
    GroupCommit<GatedStore>,
    mpsc::Receiver<Report>,
    impl FnOnce(),
) {
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let (syncs_started, sync_started) = mpsc::channel();
    let store = GatedStore {
        inner: MemStore::new(),
        gate: Arc::clone(&gate),
        syncs_started,
    };
    let (sender, reports) = mpsc::channel();
    let writer = GroupCommit::spawn(store, options, move |r| sender.send(r).unwrap()).unwrap();
    writer
        .submit(0, Some(HardState::default()), vec![entry(1, 1)])
        .unwrap();
    sync_started.recv_timeout(Duration::from_secs(30)).unwrap();
    let open = move || {
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
    };
    (writer, reports, open)
}

#[test]
fn batches_queued_during_a_sync_share_the_next_one() {
    let (writer, reports, open_gate) = writer_stuck_in_a_sync(GroupCommitOptions::default());
    for id in 1..=100 {
        writer.submit(id, None, vec![entry(id + 1, 1)]).unwrap();
    }
    open_gate();
    assert_eq!(
        durable_ids(receive(&reports, 101)),
        (0..=100).collect::<Vec<_>>()
    );
    assert_eq!(writer.sync_count(), 2);
    let mut store = writer.close();
    assert_eq!(store.inner.sync_count(), 2);
    assert_eq!(store.load().unwrap().entries.len(), 101);
}

#[test]
fn a_group_stops_growing_at_its_byte_limit() {
    // Each batch holds one entry of 256 + 24 bytes by `Entry::size_bytes`: three fill a group.
    let options = GroupCommitOptions {
        group_bytes_max: 3 * 280,
        ..GroupCommitOptions::default()
    };
    let (writer, reports, open_gate) = writer_stuck_in_a_sync(options);
    for id in 1..=9 {
        writer.submit(id, None, vec![entry(id + 1, 1)]).unwrap();
    }
    open_gate();
    assert_eq!(
        durable_ids(receive(&reports, 10)),
        (0..10).collect::<Vec<_>>()
    );
    // One sync for batch 0, then three groups of three.
    assert_eq!(writer.sync_count(), 4);
}

/// A store whose `sync` fails, as a full or failing disk does.
struct FailingStore;

impl LogStore for FailingStore {
    fn load(&mut self) -> Result<Loaded, StorageError> {
        Ok(Loaded::default())
    }

    fn write(&mut self, _: Option<&HardState>, _: &[Entry]) -> Result<(), StorageError> {
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        Err(StorageError::Io {
            op: "fsync the segment",
            path: "wal-1.log".into(),
            source: std::io::Error::other("no space left on device"),
        })
    }

    fn compact(&mut self, _: Index, _: Term) -> Result<(), StorageError> {
        self.sync()
    }
}

#[test]
fn an_io_error_is_reported_as_a_value_and_stops_the_writer() {
    let (sender, reports) = mpsc::channel();
    let writer = GroupCommit::spawn(FailingStore, GroupCommitOptions::default(), move |r| {
        sender.send(r).unwrap()
    })
    .unwrap();
    writer.submit(0, None, vec![entry(1, 1)]).unwrap();
    let report = receive(&reports, 1).pop().unwrap();
    let message = report.unwrap_err().to_string();
    assert!(
        message.contains("wal-1.log") && message.contains("no space"),
        "{message}"
    );
    // The writer is gone: later submissions fail rather than vanish.
    let deadline = Instant::now() + Duration::from_secs(30);
    while writer.submit(1, None, vec![]).is_ok() {
        assert!(Instant::now() < deadline, "the writer did not stop");
        std::thread::yield_now();
    }
    assert!(matches!(
        writer.submit(2, None, vec![]),
        Err(StorageError::WriterStopped)
    ));
    assert!(
        reports.try_recv().is_err(),
        "nothing is reported after the error"
    );
}

#[test]
fn closing_flushes_every_queued_batch() {
    let (sender, reports) = mpsc::channel();
    let writer = GroupCommit::spawn(MemStore::new(), GroupCommitOptions::default(), move |r| {
        sender.send(r).unwrap()
    })
    .unwrap();
    for id in 0..50 {
        writer.submit(id, None, vec![entry(id + 1, 1)]).unwrap();
    }
    let mut store = writer.close();
    // Every batch was synced: a crash now loses nothing.
    store.crash();
    assert_eq!(store.load().unwrap().entries.len(), 50);
    assert_eq!(
        durable_ids(receive(&reports, 50)),
        (0..50).collect::<Vec<_>>()
    );
}

#[test]
fn a_group_is_bounded_by_its_batch_limit() {
    let options = GroupCommitOptions {
        queue_batches_max: 64,
        group_batches_max: 4,
        ..GroupCommitOptions::default()
    };
    let (sender, reports) = mpsc::channel();
    // Through a boxed trait object, as a node that picks its store at runtime holds it.
    let store: Box<dyn LogStore + Send> = Box::new(MemStore::new());
    let writer = GroupCommit::spawn(store, options, move |r| sender.send(r).unwrap()).unwrap();
    for id in 0..40 {
        writer.submit(id, None, vec![entry(id + 1, 1)]).unwrap();
    }
    assert_eq!(
        durable_ids(receive(&reports, 40)),
        (0..40).collect::<Vec<_>>()
    );
    assert!(
        writer.sync_count() >= 10,
        "{} syncs for 40 batches of at most 4",
        writer.sync_count()
    );
}

#[test]
fn reports_can_be_awaited_from_async_code() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(dir.path(), FileStoreOptions::default()).unwrap();
    let (writer, mut reports) =
        GroupCommit::spawn_with_channel(store, GroupCommitOptions::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hs = HardState {
        term: 1,
        vote: Some(1),
        commit: 0,
    };
    writer.submit(10, Some(hs), vec![]).unwrap();
    writer.submit(11, None, vec![entry(1, 1)]).unwrap();
    let received = runtime.block_on(async {
        let first = reports.recv().await.unwrap().unwrap();
        let second = reports.recv().await.unwrap().unwrap();
        (first, second)
    });
    assert_eq!(
        received,
        (
            Durable {
                batch_id: 10,
                last: None
            },
            Durable {
                batch_id: 11,
                last: Some((1, 1))
            }
        )
    );
    drop(writer);
    // The channel closes once the writer has stopped.
    assert!(runtime.block_on(reports.recv()).is_none());
}

/// §7: the writer compacts in the order of submission: after the batches before it (which it
/// makes durable), before the ones after it; the compaction is reported like a batch.
#[test]
fn a_compaction_runs_in_order_with_the_writes_and_is_reported_like_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileStoreOptions {
        segment_bytes_max: 4096,
        ..FileStoreOptions::default()
    };
    let store = FileStore::open(dir.path(), options).unwrap();
    let (sender, reports) = mpsc::channel();
    let writer = GroupCommit::spawn(store, GroupCommitOptions::default(), move |r| {
        sender.send(r).unwrap()
    })
    .unwrap();
    for id in 0..40 {
        writer.submit(id, None, vec![entry(id + 1, 1)]).unwrap();
    }
    // Entries 1..=40 are queued (maybe not yet written): the compaction must come after them.
    writer.submit_compact(40, 30, 1).unwrap();
    for id in 41..50 {
        writer.submit(id, None, vec![entry(id, 1)]).unwrap();
    }
    let reports = receive(&reports, 50);
    let expected: Vec<Durable> = (0..50)
        .map(|id| Durable {
            batch_id: id,
            last: match id {
                40 => None,
                id if id < 40 => Some((id + 1, 1)),
                id => Some((id, 1)),
            },
        })
        .collect();
    assert_eq!(
        reports.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        expected
    );
    let mut store = writer.close();
    let loaded = store.load().unwrap();
    assert_eq!((loaded.prev_index, loaded.prev_term), (30, 1));
    assert_eq!(
        loaded.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
        (31..=49).collect::<Vec<_>>()
    );
    drop(store);
    let mut store = FileStore::open(dir.path(), options).unwrap();
    assert_eq!(store.load().unwrap(), loaded);
}

/// The writes queued before a compaction are durable once it is reported, even when they share
/// its group: a crash right after loses none of them.
#[test]
fn a_compaction_makes_the_writes_queued_before_it_durable() {
    let (writer, reports, open_gate) = writer_stuck_in_a_sync(GroupCommitOptions::default());
    for id in 1..=5 {
        writer.submit(id, None, vec![entry(id + 1, 1)]).unwrap();
    }
    writer.submit_compact(6, 3, 1).unwrap();
    open_gate();
    assert_eq!(
        durable_ids(receive(&reports, 7)),
        (0..=6).collect::<Vec<_>>()
    );
    // One sync for batch 0, then the compaction's (no writes followed it in its group).
    assert_eq!(writer.sync_count(), 2);
    let mut store = writer.close();
    store.inner.crash();
    let loaded = store.load().unwrap();
    assert_eq!((loaded.prev_index, loaded.prev_term), (3, 1));
    assert_eq!(
        loaded.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
        vec![4, 5, 6]
    );
}

#[test]
fn a_failed_compaction_is_reported_and_stops_the_writer() {
    let (sender, reports) = mpsc::channel();
    let writer = GroupCommit::spawn(FailingStore, GroupCommitOptions::default(), move |r| {
        sender.send(r).unwrap()
    })
    .unwrap();
    writer.submit_compact(0, 5, 1).unwrap();
    let report = receive(&reports, 1).pop().unwrap();
    assert!(report.unwrap_err().to_string().contains("no space"));
    drop(writer);
    assert!(
        reports.try_recv().is_err(),
        "nothing is reported after the error"
    );
}
