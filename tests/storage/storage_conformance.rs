//! One suite for every log store: each case runs against `MemStore` and `FileStore`.
//!
//! Restarts are clean (after a sync); crash behaviour is specific to each store and tested apart.
//! Compaction cases cite the Raft paper's §7 (log compaction).

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

fn compacted(hard_state: HardState, prev: (Index, Term), entries: Vec<Entry>) -> Loaded {
    Loaded {
        hard_state,
        prev_index: prev.0,
        prev_term: prev.1,
        entries,
    }
}

/// Entries 1..=30 (term 1) and 31..=60 (term 2) with a hard state, synced: many 1 KiB segments
/// for the file store.
fn sixty_entries(store: &mut impl LogStore) -> HardState {
    let hs = hard_state(2, Some(1), 40);
    store.write(Some(&hs), &entries(1, 30, 1)).unwrap();
    store.write(None, &entries(31, 60, 2)).unwrap();
    store.sync().unwrap();
    hs
}

/// §7: a snapshot that matches the log (same index and term) keeps the entries after it.
fn compaction_keeps_the_entries_after_a_matching_index(mut factory: impl Factory) {
    let mut store = factory.open();
    let hs = sixty_entries(&mut store);
    // Index 25 is in the middle of a segment.
    store.compact(25, 1).unwrap();
    let expected = compacted(hs, (25, 1), {
        let mut kept = entries(26, 30, 1);
        kept.extend(entries(31, 60, 2));
        kept
    });
    assert_eq!(store.load().unwrap(), expected);
    let mut store = factory.restart(store);
    assert_eq!(store.load().unwrap(), expected);
    store.write(None, &entries(61, 65, 2)).unwrap();
    let mut store = factory.restart(store);
    let mut grown = expected;
    grown.entries.extend(entries(61, 65, 2));
    assert_eq!(store.load().unwrap(), grown);
}

/// §7: a snapshot whose last entry conflicts with the log (another term at its index) discards
/// the whole log; the hard state stays.
fn a_snapshot_that_conflicts_with_the_log_discards_it(mut factory: impl Factory) {
    let mut store = factory.open();
    let hs = sixty_entries(&mut store);
    store.compact(45, 3).unwrap();
    let expected = compacted(hs, (45, 3), Vec::new());
    assert_eq!(store.load().unwrap(), expected);
    let mut store = factory.restart(store);
    assert_eq!(store.load().unwrap(), expected);
    // The log continues after the snapshot.
    store.write(None, &entries(46, 50, 3)).unwrap();
    let mut store = factory.restart(store);
    assert_eq!(
        store.load().unwrap(),
        compacted(hs, (45, 3), entries(46, 50, 3))
    );
}

/// §7: a snapshot beyond the end of the log (a follower far behind) discards it too.
fn a_snapshot_beyond_the_log_discards_it(mut factory: impl Factory) {
    let mut store = factory.open();
    let hs = sixty_entries(&mut store);
    store.compact(1000, 4).unwrap();
    let mut store = factory.restart(store);
    assert_eq!(store.load().unwrap(), compacted(hs, (1000, 4), Vec::new()));
    store.write(None, &entries(1001, 1003, 5)).unwrap();
    let mut store = factory.restart(store);
    assert_eq!(
        store.load().unwrap(),
        compacted(hs, (1000, 4), entries(1001, 1003, 5))
    );
}

/// §7: a new member's empty log takes a leader's snapshot as well.
fn an_empty_store_takes_a_snapshot(mut factory: impl Factory) {
    let mut store = factory.open();
    store.compact(7, 2).unwrap();
    let mut store = factory.restart(store);
    assert_eq!(
        store.load().unwrap(),
        compacted(HardState::default(), (7, 2), Vec::new())
    );
    store.write(None, &entries(8, 9, 2)).unwrap();
    let mut store = factory.restart(store);
    assert_eq!(
        store.load().unwrap(),
        compacted(HardState::default(), (7, 2), entries(8, 9, 2))
    );
}

/// Repeating a compaction, or compacting at or below the prefix, changes nothing.
fn compaction_is_idempotent_and_never_goes_back(mut factory: impl Factory) {
    let mut store = factory.open();
    let hs = sixty_entries(&mut store);
    store.compact(40, 2).unwrap();
    store.compact(40, 2).unwrap();
    store.compact(12, 1).unwrap();
    store.compact(40, 9).unwrap();
    let expected = compacted(hs, (40, 2), entries(41, 60, 2));
    assert_eq!(store.load().unwrap(), expected);
    let mut store = factory.restart(store);
    assert_eq!(store.load().unwrap(), expected);
}

/// Compacting in steps through the whole log, with restarts between, down to an empty log that
/// keeps growing; the hard state written once at the start survives every step.
fn compaction_in_steps_through_the_whole_log(mut factory: impl Factory) {
    let mut store = factory.open();
    let hs = sixty_entries(&mut store);
    for (index, term) in [(3, 1), (29, 1), (30, 1), (31, 2), (59, 2), (60, 2)] {
        store.compact(index, term).unwrap();
        store = factory.restart(store);
        let loaded = store.load().unwrap();
        let first_kept = (index + 1).max(31);
        let mut kept = entries(index + 1, 30, 1);
        kept.extend(entries(first_kept, 60, 2));
        assert_eq!(loaded, compacted(hs, (index, term), kept), "after {index}");
    }
    store.write(None, &entries(61, 62, 3)).unwrap();
    let mut store = factory.restart(store);
    assert_eq!(
        store.load().unwrap(),
        compacted(hs, (60, 2), entries(61, 62, 3))
    );
}

/// A conflicting append after compaction truncates only after the prefix (§5.3 with §7).
fn truncation_after_compaction(mut factory: impl Factory) {
    let mut store = factory.open();
    let hs = sixty_entries(&mut store);
    store.compact(20, 1).unwrap();
    store.write(None, &entries(26, 28, 3)).unwrap();
    let mut expected = entries(21, 25, 1);
    expected.extend(entries(26, 28, 3));
    assert_eq!(
        store.load().unwrap(),
        compacted(hs, (20, 1), expected.clone())
    );
    let mut store = factory.restart(store);
    assert_eq!(store.load().unwrap(), compacted(hs, (20, 1), expected));
    // Replacing every entry after the prefix.
    let new_hs = hard_state(4, Some(2), 20);
    store.write(Some(&new_hs), &entries(21, 22, 4)).unwrap();
    let mut store = factory.restart(store);
    assert_eq!(
        store.load().unwrap(),
        compacted(new_hs, (20, 1), entries(21, 22, 4))
    );
}

fn a_write_into_the_compacted_prefix_is_a_bug(mut factory: impl Factory) {
    let mut store = factory.open();
    sixty_entries(&mut store);
    store.compact(30, 1).unwrap();
    let _ = store.write(None, &entries(30, 31, 2));
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
            fn compaction_keeps_the_entries_after_a_matching_index() {
                super::compaction_keeps_the_entries_after_a_matching_index($factory);
            }

            #[test]
            fn a_snapshot_that_conflicts_with_the_log_discards_it() {
                super::a_snapshot_that_conflicts_with_the_log_discards_it($factory);
            }

            #[test]
            fn a_snapshot_beyond_the_log_discards_it() {
                super::a_snapshot_beyond_the_log_discards_it($factory);
            }

            #[test]
            fn an_empty_store_takes_a_snapshot() {
                super::an_empty_store_takes_a_snapshot($factory);
            }

            #[test]
            fn compaction_is_idempotent_and_never_goes_back() {
                super::compaction_is_idempotent_and_never_goes_back($factory);
            }

            #[test]
            fn compaction_in_steps_through_the_whole_log() {
                super::compaction_in_steps_through_the_whole_log($factory);
            }

            #[test]
            fn truncation_after_compaction() {
                super::truncation_after_compaction($factory);
            }

            #[test]
            #[should_panic(expected = "compacted prefix")]
            fn a_write_into_the_compacted_prefix_is_a_bug() {
                super::a_write_into_the_compacted_prefix_is_a_bug($factory);
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
