//! The contract every log store honours, and what a store hands back at startup.

use super::error::StorageError;
use crate::raft::{Entry, HardState, Index, Term};

/// Everything a node needs from storage to rebuild its core after a restart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    /// The latest hard state written, or the default (term 0, no vote) for a fresh store.
    pub hard_state: HardState,
    /// The index of the log's prefix: `entries` start at `prev_index + 1`. 0 until compaction.
    pub prev_index: Index,
    /// The term of the entry at `prev_index` (0 for the empty prefix).
    pub prev_term: Term,
    /// Invariant: contiguous from `prev_index + 1`, terms never decrease.
    pub entries: Vec<Entry>,
}

/// A durable Raft log plus hard state.
///
/// `write` may buffer; only `sync` promises durability. A crash may lose any suffix of the writes
/// made since the last successful `sync` (whole batches, or a batch's later records), never
/// anything before it. Implementations must not assume the log starts at index 1.
pub trait LogStore {
    /// The stored state. Called at startup; valid at any time.
    fn load(&mut self) -> Result<Loaded, StorageError>;

    /// Records `hard_state` (when given) and then `entries` with truncate-then-append semantics:
    /// every stored entry with index >= `entries[0].index` is deleted first.
    ///
    /// Panics if `entries` are not contiguous, start past the end of the log or inside the
    /// compacted prefix, or decrease in term: those are caller bugs that would corrupt the log.
    fn write(
        &mut self,
        hard_state: Option<&HardState>,
        entries: &[Entry],
    ) -> Result<(), StorageError>;

    /// Makes every earlier `write` durable.
    fn sync(&mut self) -> Result<(), StorageError>;

    /// Drops the log up to and including `index`, whose entry has term `term`, because a durable
    /// snapshot covers it. The caller guarantees that snapshot exists before calling.
    ///
    /// First makes every earlier `write` durable, as `sync` does. Then, when `index` is above
    /// the current prefix:
    /// - if the log holds the entry `(index, term)`, the entries after it are kept (Raft §7);
    /// - otherwise (the log is shorter, or its entry at `index` has another term: a follower
    ///   installing a leader's snapshot) every entry is discarded.
    ///
    /// Either way `load` then reports `prev_index = index`, `prev_term = term` and only the kept
    /// entries; the hard state is unchanged, and the next entry written must be the one after
    /// the last kept (`index + 1` for an emptied log). At or below the current `prev_index` this
    /// does nothing beyond the sync, so repeating a compaction is harmless.
    ///
    /// Durable when it returns. A crash during it leaves a store that loads either the old
    /// prefix or the new one, with no entry missing after whichever it is, and the hard state
    /// intact. (With the old prefix, a discarding compaction may already have deleted the
    /// entries from `index` on: they conflict with the snapshot.)
    fn compact(&mut self, index: Index, term: Term) -> Result<(), StorageError>;
}

/// Asserts the preconditions of [`LogStore::write`] for a log holding `(prev_index, last_index]`
/// whose entry before `entries[0]` has term `term_before`.
pub(crate) fn assert_batch_fits(
    prev_index: Index,
    last_index: Index,
    term_before: Term,
    entries: &[Entry],
) {
    let Some(first) = entries.first() else {
        return;
    };
    assert!(
        first.index > prev_index,
        "write at index {} reaches into the compacted prefix (prev_index {prev_index})",
        first.index
    );
    assert!(
        first.index <= last_index + 1,
        "write at index {} leaves a gap after the last index {last_index}",
        first.index
    );
    let mut term = term_before;
    for (offset, entry) in entries.iter().enumerate() {
        assert_eq!(
            entry.index,
            first.index + offset as Index,
            "batch entries are not contiguous"
        );
        assert!(
            entry.term >= term,
            "batch terms decrease at index {}",
            entry.index
        );
        term = entry.term;
    }
}

/// Lets a node pick its store at runtime (`Box<dyn LogStore + Send>`) and still hand it to
/// [`crate::storage::GroupCommit`].
impl<S: LogStore + ?Sized> LogStore for Box<S> {
    fn load(&mut self) -> Result<Loaded, StorageError> {
        (**self).load()
    }

    fn write(
        &mut self,
        hard_state: Option<&HardState>,
        entries: &[Entry],
    ) -> Result<(), StorageError> {
        (**self).write(hard_state, entries)
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        (**self).sync()
    }

    fn compact(&mut self, index: Index, term: Term) -> Result<(), StorageError> {
        (**self).compact(index, term)
    }
}
