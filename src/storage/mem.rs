//! An in-memory log store for tests and simulation; it can model a crash losing unsynced writes.

use super::error::StorageError;
use super::store::{assert_batch_fits, Loaded, LogStore};
use crate::raft::{Entry, HardState, Index, Term};

/// A [`LogStore`] in memory. It keeps two views: what has been written and what has been synced.
/// [`MemStore::crash`] throws the difference away, as a power cut would. A compaction syncs
/// first and then applies to both views at once: a crash sees it whole or not at all.
#[derive(Clone, Debug, Default)]
pub struct MemStore {
    durable: MemLog,
    written: MemLog,
    /// Writes applied to `written` but not yet to `durable`, oldest first.
    unsynced: Vec<Write>,
    sync_count: u64,
}

#[derive(Clone, Debug, Default)]
struct MemLog {
    hard_state: HardState,
    prev_index: Index,
    prev_term: Term,
    entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
struct Write {
    hard_state: Option<HardState>,
    entries: Vec<Entry>,
}

impl MemStore {
    /// An empty store whose log starts at index 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose log follows the prefix `(prev_index, prev_term)`, as after compaction.
    pub fn with_prefix(prev_index: Index, prev_term: Term) -> Self {
        let log = MemLog {
            prev_index,
            prev_term,
            ..MemLog::default()
        };
        MemStore {
            durable: log.clone(),
            written: log,
            ..MemStore::default()
        }
    }

    /// Simulates a crash: every write since the last successful `sync` is lost.
    pub fn crash(&mut self) {
        self.crash_keeping(0);
    }

    /// Simulates a crash after the first `writes` unsynced writes had reached the disk on their own
    /// (as the page cache may flush them): those survive, later ones are lost.
    pub fn crash_keeping(&mut self, writes: usize) {
        let kept = writes.min(self.unsynced.len());
        for write in self.unsynced.drain(..kept) {
            self.durable
                .apply(write.hard_state.as_ref(), &write.entries);
        }
        self.unsynced.clear();
        self.written = self.durable.clone();
    }

    /// How many times `sync` has succeeded.
    pub fn sync_count(&self) -> u64 {
        self.sync_count
    }

    /// How many writes a crash would lose right now.
    pub fn unsynced_writes(&self) -> usize {
        self.unsynced.len()
    }
}

impl MemLog {
    fn last_index(&self) -> Index {
        self.prev_index + self.entries.len() as Index
    }

    fn term_before(&self, index: Index) -> Term {
        match index.saturating_sub(1).checked_sub(self.prev_index + 1) {
            Some(offset) => self.entries.get(offset as usize).map_or(0, |e| e.term),
            None => self.prev_term,
        }
    }

    /// [`LogStore::compact`] on this view.
    fn compact(&mut self, index: Index, term: Term) {
        if index <= self.prev_index {
            return;
        }
        let keeps_suffix = index <= self.last_index() && self.term_before(index + 1) == term;
        if keeps_suffix {
            self.entries.drain(..(index - self.prev_index) as usize);
        } else {
            self.entries.clear();
        }
        self.prev_index = index;
        self.prev_term = term;
    }

    fn apply(&mut self, hard_state: Option<&HardState>, entries: &[Entry]) {
        if let Some(hs) = hard_state {
            self.hard_state = *hs;
        }
        let Some(first) = entries.first() else {
            return;
        };
        assert_batch_fits(
            self.prev_index,
            self.last_index(),
            self.term_before(first.index),
            entries,
        );
        self.entries
            .truncate((first.index - self.prev_index - 1) as usize);
        self.entries.extend_from_slice(entries);
    }
}

impl LogStore for MemStore {
    fn load(&mut self) -> Result<Loaded, StorageError> {
        Ok(Loaded {
            hard_state: self.written.hard_state,
            prev_index: self.written.prev_index,
            prev_term: self.written.prev_term,
            entries: self.written.entries.clone(),
        })
    }

    fn write(
        &mut self,
        hard_state: Option<&HardState>,
        entries: &[Entry],
    ) -> Result<(), StorageError> {
        self.written.apply(hard_state, entries);
        self.unsynced.push(Write {
            hard_state: hard_state.copied(),
            entries: entries.to_vec(),
        });
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        for write in self.unsynced.drain(..) {
            self.durable
                .apply(write.hard_state.as_ref(), &write.entries);
        }
        self.sync_count += 1;
        Ok(())
    }

    fn compact(&mut self, index: Index, term: Term) -> Result<(), StorageError> {
        self.sync()?;
        // Atomic here; `FileStore` gets the same guarantee from the order of its steps.
        self.durable.compact(index, term);
        self.written.compact(index, term);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::Payload;

    fn entries(from: Index, to: Index, term: Term) -> Vec<Entry> {
        (from..=to)
            .map(|index| Entry {
                index,
                term,
                payload: Payload::Noop,
            })
            .collect()
    }

    fn hs(term: Term) -> HardState {
        HardState {
            term,
            vote: None,
            commit: 0,
        }
    }

    #[test]
    fn a_crash_loses_exactly_the_unsynced_writes() {
        let mut store = MemStore::new();
        store.write(Some(&hs(1)), &entries(1, 3, 1)).unwrap();
        store.sync().unwrap();
        store.write(Some(&hs(2)), &entries(2, 5, 2)).unwrap();
        assert_eq!(store.unsynced_writes(), 1);
        store.crash();
        let loaded = store.load().unwrap();
        assert_eq!(
            (loaded.hard_state, loaded.entries),
            (hs(1), entries(1, 3, 1))
        );
        assert_eq!(store.unsynced_writes(), 0);
    }

    #[test]
    fn a_crash_may_keep_a_prefix_of_the_unsynced_writes() {
        let mut store = MemStore::new();
        store.write(None, &entries(1, 2, 1)).unwrap();
        store.write(Some(&hs(3)), &entries(3, 3, 1)).unwrap();
        store.write(None, &entries(4, 4, 1)).unwrap();
        store.crash_keeping(2);
        let loaded = store.load().unwrap();
        assert_eq!(
            (loaded.hard_state, loaded.entries),
            (hs(3), entries(1, 3, 1))
        );
    }

    #[test]
    fn a_log_may_start_after_a_prefix() {
        let mut store = MemStore::with_prefix(10, 4);
        store.write(None, &entries(11, 12, 4)).unwrap();
        store.write(None, &entries(11, 11, 5)).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!((loaded.prev_index, loaded.prev_term), (10, 4));
        assert_eq!(loaded.entries, entries(11, 11, 5));
    }

    /// Raft §7 with a crash on either side: a compaction is whole or absent, and it makes the
    /// writes before it durable.
    #[test]
    fn a_crash_sees_a_compaction_whole_and_the_writes_before_it() {
        let mut store = MemStore::new();
        store.write(Some(&hs(1)), &entries(1, 5, 1)).unwrap();
        store.sync().unwrap();
        store.write(Some(&hs(2)), &entries(6, 9, 2)).unwrap();
        let mut before = store.clone();
        before.crash();
        let loaded = before.load().unwrap();
        assert_eq!((loaded.prev_index, loaded.entries.len()), (0, 5));

        store.compact(7, 2).unwrap();
        assert_eq!(store.unsynced_writes(), 0);
        store.write(None, &entries(10, 10, 2)).unwrap();
        store.crash();
        let loaded = store.load().unwrap();
        assert_eq!(
            (loaded.prev_index, loaded.prev_term, loaded.hard_state),
            (7, 2, hs(2))
        );
        assert_eq!(loaded.entries, entries(8, 9, 2));
    }

    #[test]
    fn a_snapshot_that_does_not_match_empties_the_log() {
        let mut store = MemStore::new();
        store.write(Some(&hs(3)), &entries(1, 5, 1)).unwrap();
        store.compact(4, 2).unwrap();
        store.crash();
        let loaded = store.load().unwrap();
        assert_eq!(
            (loaded.prev_index, loaded.prev_term, loaded.hard_state),
            (4, 2, hs(3))
        );
        assert!(loaded.entries.is_empty());
    }

    #[test]
    #[should_panic(expected = "compacted prefix")]
    fn a_write_into_the_prefix_is_a_bug() {
        let mut store = MemStore::with_prefix(10, 4);
        let _ = store.write(None, &entries(10, 11, 4));
    }
}
