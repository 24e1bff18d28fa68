//! The in-memory view of the replicated log, starting after an arbitrary prefix.

use super::types::{Entry, Index, Term};

/// The entries of the log after `prev_index`, whose term is `prev_term`.
///
/// Invariant: `entries[i].index == prev_index + 1 + i` and terms never decrease along the log.
/// Nothing here assumes the log starts at index 1: compaction later moves `prev_index` forward.
#[derive(Clone, Debug, Default)]
pub struct RaftLog {
    prev_index: Index,
    prev_term: Term,
    entries: Vec<Entry>,
}

impl RaftLog {
    /// A log whose entries follow `(prev_index, prev_term)`. Panics if `entries` break the invariant:
    /// that is corrupt storage, and starting on it would be worse than stopping.
    pub fn new(prev_index: Index, prev_term: Term, entries: Vec<Entry>) -> Self {
        let mut term = prev_term;
        for (expected, e) in (prev_index + 1..).zip(&entries) {
            assert_eq!(e.index, expected, "log entries are not contiguous");
            assert!(e.term >= term, "log terms decrease at index {}", e.index);
            term = e.term;
        }
        RaftLog {
            prev_index,
            prev_term,
            entries,
        }
    }

    /// The index of the first entry held (which may not exist yet if the log is empty).
    pub fn first_index(&self) -> Index {
        self.prev_index + 1
    }

    /// The index of the last entry, or `prev_index` when none is held.
    pub fn last_index(&self) -> Index {
        self.prev_index + self.entries.len() as Index
    }

    /// The term of the last entry (or of the prefix).
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.prev_term, |e| e.term)
    }

    /// The term at `index`, if known: the prefix's term or a held entry's.
    pub fn term(&self, index: Index) -> Option<Term> {
        if index == self.prev_index {
            return Some(self.prev_term);
        }
        self.get(index).map(|e| e.term)
    }

    /// The entry at `index`, if held.
    pub fn get(&self, index: Index) -> Option<&Entry> {
        if index <= self.prev_index {
            return None;
        }
        self.entries.get((index - self.prev_index - 1) as usize)
    }

    /// Entries in `[from, to]`, clipped to what is held.
    pub fn slice(&self, from: Index, to: Index) -> &[Entry] {
        let from = from.max(self.first_index());
        let to = to.min(self.last_index());
        if from > to {
            return &[];
        }
        let lo = (from - self.prev_index - 1) as usize;
        let hi = (to - self.prev_index) as usize;
        &self.entries[lo..hi]
    }

    /// True if a candidate whose log ends at `(index, term)` is at least as up to date as this log
    /// (§5.4.1).
    pub fn is_up_to_date(&self, index: Index, term: Term) -> bool {
        term > self.last_term() || (term == self.last_term() && index >= self.last_index())
    }

    /// True if the log holds an entry at `index` with `term` (or `index` is the prefix).
    pub fn matches(&self, index: Index, term: Term) -> bool {
        self.term(index) == Some(term)
    }

    /// Appends one entry at the end.
    pub fn push(&mut self, entry: Entry) {
        debug_assert_eq!(entry.index, self.last_index() + 1);
        debug_assert!(entry.term >= self.last_term());
        self.entries.push(entry);
    }

    /// Drops every entry at or after `index`. Never drops the prefix.
    pub fn truncate_from(&mut self, index: Index) {
        assert!(
            index > self.prev_index,
            "cannot truncate into the compacted prefix"
        );
        let keep = (index - self.prev_index - 1) as usize;
        self.entries.truncate(keep);
    }

    /// The index of the prefix: entries through it are no longer held (compacted or installed).
    pub fn prev_index(&self) -> Index {
        self.prev_index
    }

    /// Drops the entries through `index`, which must be held: they are covered by a durable
    /// snapshot. A no-op at or below the current prefix.
    pub fn compact(&mut self, index: Index) {
        if index <= self.prev_index {
            return;
        }
        let term = self
            .term(index)
            .expect("compaction stays within the held entries");
        let drop = (index - self.prev_index) as usize;
        self.entries.drain(..drop);
        self.prev_index = index;
        self.prev_term = term;
    }

    /// Makes `(index, term)` the prefix, from an installed snapshot (§7): entries after it are
    /// kept if the log holds `index` with `term`; otherwise the whole log is discarded. Returns
    /// true if entries were kept.
    pub fn install(&mut self, index: Index, term: Term) -> bool {
        let keep = self.matches(index, term) && index >= self.prev_index;
        if keep {
            self.compact(index);
        } else {
            self.entries.clear();
            self.prev_index = index;
            self.prev_term = term;
        }
        keep
    }

    /// The first index of the run of entries with `term` that contains `index` — or, when the log
    /// has no entry at `index`, the first index of the last entry's term.
    pub fn first_index_of_term_at(&self, index: Index) -> Index {
        let index = index.min(self.last_index());
        let Some(term) = self.term(index) else {
            return self.first_index();
        };
        let mut i = index;
        while i > self.first_index() && self.term(i - 1) == Some(term) {
            i -= 1;
        }
        i
    }

    /// The last index holding an entry of `term`, if any.
    pub fn last_index_of_term(&self, term: Term) -> Option<Index> {
        // Terms never decrease along the log, so search backwards and stop below `term`.
        self.entries
            .iter()
            .rev()
            .take_while(|e| e.term >= term)
            .find(|e| e.term == term)
            .map(|e| e.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::Payload;

    fn log_of(prev_index: Index, terms: &[Term]) -> RaftLog {
        let entries = terms
            .iter()
            .enumerate()
            .map(|(i, &term)| Entry {
                index: prev_index + 1 + i as Index,
                term,
                payload: Payload::Noop,
            })
            .collect();
        RaftLog::new(prev_index, 0, entries)
    }

    #[test]
    fn indexes_are_relative_to_the_prefix() {
        let log = log_of(10, &[1, 1, 2]);
        assert_eq!(log.first_index(), 11);
        assert_eq!(log.last_index(), 13);
        assert_eq!(log.term(10), Some(0));
        assert_eq!(log.term(13), Some(2));
        assert_eq!(log.term(9), None);
        assert_eq!(log.term(14), None);
        assert_eq!(log.slice(5, 12).len(), 2);
        assert_eq!(log.slice(14, 20).len(), 0);
    }

    #[test]
    fn term_runs_are_found_in_both_directions() {
        let log = log_of(0, &[1, 1, 2, 2, 2, 4]);
        assert_eq!(log.first_index_of_term_at(5), 3);
        assert_eq!(log.first_index_of_term_at(2), 1);
        assert_eq!(log.first_index_of_term_at(99), 6);
        assert_eq!(log.last_index_of_term(2), Some(5));
        assert_eq!(log.last_index_of_term(3), None);
    }

    #[test]
    fn up_to_date_compares_last_term_then_length() {
        let log = log_of(0, &[1, 2, 2]);
        assert!(log.is_up_to_date(3, 2));
        assert!(log.is_up_to_date(1, 3));
        assert!(!log.is_up_to_date(2, 2));
        assert!(!log.is_up_to_date(9, 1));
    }

    #[test]
    fn compaction_moves_the_prefix_and_keeps_terms() {
        let mut log = log_of(0, &[1, 1, 2, 3]);
        log.compact(2);
        assert_eq!((log.prev_index(), log.first_index(), log.last_index()), (2, 3, 4));
        assert_eq!(log.term(2), Some(1));
        assert_eq!(log.term(1), None);
        log.compact(1);
        assert_eq!(log.prev_index(), 2, "compacting below the prefix does nothing");
    }

    /// §7: "If existing log entry has same index and term as snapshot's last included entry,
    /// retain log entries following it"; otherwise discard the entire log.
    #[test]
    fn installing_a_snapshot_keeps_only_a_matching_suffix() {
        let mut log = log_of(0, &[1, 1, 2, 3]);
        assert!(log.install(3, 2));
        assert_eq!((log.prev_index(), log.last_index(), log.last_term()), (3, 4, 3));
        let mut log = log_of(0, &[1, 1, 2, 3]);
        assert!(!log.install(3, 4), "a different term at the snapshot's index");
        assert_eq!((log.prev_index(), log.last_index(), log.last_term()), (3, 3, 4));
        let mut log = log_of(0, &[1]);
        assert!(!log.install(10, 5), "a log shorter than the snapshot");
        assert_eq!((log.first_index(), log.last_index(), log.term(10)), (11, 10, Some(5)));
    }

    #[test]
    fn truncation_keeps_the_prefix_before_the_index() {
        let mut log = log_of(0, &[1, 1, 1]);
        log.truncate_from(2);
        assert_eq!(log.last_index(), 1);
    }
}
