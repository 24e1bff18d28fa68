//! One suite for every log store: each case runs against `MemStore` and `FileStore`.
//!
//! Restarts are clean (after a sync); crash behaviour is specific to each store and tested apart.

use bytes::Bytes;
use raftkv::raft::{Entry, HardState, Index, Payload, Term};
use raftkv::storage::{FileStore, FileStoreOptions, Loaded, LogStore, MemStore};
use tempfile::TempDir;

/// Opens stores over one storage location, so a case can restart them.
trait Factory {
    type Store: LogStore;
    fn open(&mut self) -> Self::Store;
    /// Stops `store` after a sync and opens it again, as a node restart does.
    fn restart(&mut self, store: Self::Store) -> Self::Store;
}

struct MemFactory;

impl Factory for MemFactory {
    type Store = MemStore;

    fn open(&mut self) -> MemStore {
        MemStore::new()
    }

    fn restart(&mut self, mut store: MemStore) -> MemStore {
        store.sync().unwrap();
        // A crash after a sync loses nothing: the surviving state is what a restart sees.
        store.crash();
        store
    }
}

/// Small segments so that the cases cross segment boundaries.
struct FileFactory {
    dir: TempDir,
}

impl FileFactory {
    fn new() -> Self {
        FileFactory {
            dir: tempfile::tempdir().unwrap(),
        }
    }
}

impl Factory for FileFactory {
    type Store = FileStore;

    fn open(&mut self) -> FileStore {
        let options = FileStoreOptions {
            segment_bytes_max: 1024,
            ..FileStoreOptions::default()
        };
        FileStore::open(self.dir.path().join("log"), options).unwrap()
    }

    fn restart(&mut self, mut store: FileStore) -> FileStore {
        store.sync().unwrap();
        drop(store);
        self.open()
    }
}

fn entry(index: Index, term: Term) -> Entry {
    // 256-byte payloads that differ per index and term, so a stale entry cannot pass for a new one.
    let data: Vec<u8> = (0..256)
        .map(|i| (index as usize * 31 + term as usize * 7 + i) as u8)
        .collect();
    Entry {
        index,
        term,
        payload: Payload::Command(Bytes::from(data)),
    }
}

fn entries(from: Index, to: Index, term: Term) -> Vec<Entry> {
    (from..=to).map(|i| entry(i, term)).collect()
}

fn hard_state(term: Term, vote: Option<u64>, commit: Index) -> HardState {
    HardState { term, vote, commit }
}

fn loaded(hard_state: HardState, entries: Vec<Entry>) -> Loaded {
    Loaded {
        hard_state,
        prev_index: 0,
        prev_term: 0,
        entries,
    }
}

fn empty_store_loads_nothing(mut factory: impl Factory) {
    let mut store = factory.open();
    assert_eq!(store.load().unwrap(), Loaded::default());
    let mut store = factory.restart(store);
    assert_eq!(store.load().unwrap(), Loaded::default());
}

fn appended_entries_load_back(mut factory: impl Factory) {
    let mut store = factory.open();
    store.write(None, &entries(1, 3, 1)).unwrap();
    store.write(None, &entries(4, 10, 2)).unwrap();
    store.sync().unwrap();
    let mut expected = entries(1, 3, 1);
    expected.extend(entries(4, 10, 2));
    assert_eq!(
        store.load().unwrap(),
        loaded(HardState::default(), expected.clone())
    );
    let mut store = factory.restart(store);
    assert_eq!(
        store.load().unwrap(),
        loaded(HardState::default(), expected)
    );
}

fn truncate_then_append_across_a_segment_boundary(mut factory: impl Factory) {
    // 60 entries of ~290 encoded bytes span many 1 KiB segments; the cut lands in an early one.
    let mut store = factory.open();
    store.write(None, &entries(1, 30, 1)).unwrap();
    store.write(None, &entries(31, 60, 2)).unwrap();
    store.sync().unwrap();
    // §5.3: a conflicting entry and all that follow it are deleted, then the new ones appended.
    store.write(None, &entries(12, 15, 3)).unwrap();
    store.sync().unwrap();
    let mut expected = entries(1, 11, 1);
    expected.extend(entries(12, 15, 3));
    assert_eq!(store.load().unwrap().entries, expected);
    let mut store = factory.restart(store);
    assert_eq!(store.load().unwrap().entries, expected);
    // The log keeps growing from the new end.
    store.write(None, &entries(16, 40, 3)).unwrap();
    let mut store = factory.restart(store);
    expected.extend(entries(16, 40, 3));
    assert_eq!(store.load().unwrap().entries, expected);
}

fn truncation_can_replace_the_whole_log(mut factory: impl Factory) {
    let mut store = factory.open();
    store.write(None, &entries(1, 20, 1)).unwrap();
    store.write(None, &entries(1, 2, 2)).unwrap();
    let mut store = factory.restart(store);
    assert_eq!(store.load().unwrap().entries, entries(1, 2, 2));
}

fn hard_state_round_trips_and_the_latest_wins(mut factory: impl Factory) {
    let mut store = factory.open();
    store.write(Some(&hard_state(1, Some(1), 0)), &[]).unwrap();
    store
        .write(Some(&hard_state(2, Some(3), 1)), &entries(1, 4, 2))
        .unwrap();
    store.write(Some(&hard_state(2, Some(3), 4)), &[]).unwrap();
    store.write(None, &entries(5, 6, 2)).unwrap();
    store.sync().unwrap();
    assert_eq!(store.load().unwrap().hard_state, hard_state(2, Some(3), 4));
    let mut store = factory.restart(store);
    assert_eq!(
        store.load().unwrap(),
        loaded(hard_state(2, Some(3), 4), entries(1, 6, 2))
    );
    store.write(Some(&hard_state(5, None, 4)), &[]).unwrap();
    let mut store = factory.restart(store);
    assert_eq!(store.load().unwrap().hard_state, hard_state(5, None, 4));
}

fn a_truncation_never_loses_the_latest_hard_state(mut factory: impl Factory) {
    let mut store = factory.open();
    store.write(None, &entries(1, 40, 1)).unwrap();
    // The hard state's record sits after every entry, so the cut below removes it.
    store.write(Some(&hard_state(3, Some(2), 10)), &[]).unwrap();
    store.write(None, &entries(20, 22, 3)).unwrap();
    let mut store = factory.restart(store);
    let mut expected = entries(1, 19, 1);
    expected.extend(entries(20, 22, 3));
    assert_eq!(
        store.load().unwrap(),
        loaded(hard_state(3, Some(2), 10), expected)
    );
}

fn many_batches_survive_restarts(mut factory: impl Factory) {
    let mut store = factory.open();
    let mut expected = Vec::new();
    let mut last_hard_state = HardState::default();
    for batch in 0..200u64 {
        let term = 1 + batch / 50;
        let from = expected.len() as Index + 1;
        let batch_entries = entries(from, from + batch % 4, term);
        expected.extend(batch_entries.iter().cloned());
        let hs = (batch % 3 == 0).then(|| hard_state(term, Some(batch % 5 + 1), from - 1));
        if let Some(hs) = hs {
            last_hard_state = hs;
        }
        store.write(hs.as_ref(), &batch_entries).unwrap();
        if batch % 7 == 0 {
            store.sync().unwrap();
        }
        if batch % 61 == 60 {
            store = factory.restart(store);
            assert_eq!(
                store.load().unwrap(),
                loaded(last_hard_state, expected.clone())
            );
        }
    }
    let mut store = factory.restart(store);
    assert_eq!(store.load().unwrap(), loaded(last_hard_state, expected));
}

fn a_batch_that_would_leave_a_gap_is_a_bug(mut factory: impl Factory) {
    let mut store = factory.open();
    store.write(None, &entries(1, 3, 1)).unwrap();
    let _ = store.write(None, &entries(5, 6, 1));
}

fn a_batch_whose_term_decreases_is_a_bug(mut factory: impl Factory) {
    let mut store = factory.open();
    store.write(None, &entries(1, 3, 2)).unwrap();
    let _ = store.write(None, &entries(4, 4, 1));
}

/// Instantiates every case for one store.
macro_rules! conformance {
    ($store:ident, $factory:expr) => {
        mod $store {
            use super::*;

            #[test]
            fn empty_store_loads_nothing() {
                super::empty_store_loads_nothing($factory);
            }

            #[test]
            fn appended_entries_load_back() {
                super::appended_entries_load_back($factory);
            }

            #[test]
            fn truncate_then_append_across_a_segment_boundary() {
                super::truncate_then_append_across_a_segment_boundary($factory);
            }

            #[test]
            fn truncation_can_replace_the_whole_log() {
                super::truncation_can_replace_the_whole_log($factory);
            }

            #[test]
            fn hard_state_round_trips_and_the_latest_wins() {
                super::hard_state_round_trips_and_the_latest_wins($factory);
            }

            #[test]
            fn a_truncation_never_loses_the_latest_hard_state() {
                super::a_truncation_never_loses_the_latest_hard_state($factory);
            }

            #[test]
            fn many_batches_survive_restarts() {
                super::many_batches_survive_restarts($factory);
            }

            #[test]
            #[should_panic(expected = "leaves a gap")]
            fn a_batch_that_would_leave_a_gap_is_a_bug() {
                super::a_batch_that_would_leave_a_gap_is_a_bug($factory);
            }

            #[test]
            #[should_panic(expected = "terms decrease")]
            fn a_batch_whose_term_decreases_is_a_bug() {
                super::a_batch_whose_term_decreases_is_a_bug($factory);
            }
        }
    };
}

conformance!(mem, MemFactory);
conformance!(file, FileFactory::new());
