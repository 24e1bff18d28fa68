//! A simulated disk: what is durable, and the batches written but not yet synced.
//!
//! Writes are applied in order and synced in order (a write-ahead log): a batch is durable once
//! its sync completes, and then so is every batch before it. A crash loses the unsynced batches —
//! or, sometimes, keeps a prefix of them, which a real disk is also free to do, and of the batch
//! after that prefix a prefix of its records (a torn tail).
//!
//! Beside the log lie the snapshot files (`snapshot_store`). A restart reads the newest durable
//! snapshot and the log after it.

use std::collections::VecDeque;

use raftkv::raft::{Entry, HardState, Index, Restored, Term};

use super::config::HarnessBug;
use super::snapshot_store::{SnapshotFile, SnapshotStore};

/// One `Output`'s worth of work for the disk.
#[derive(Debug)]
pub struct Batch {
    pub seq: u64,
    pub hard_state: Option<HardState>,
    /// From an installed snapshot: the log restarts after `(index, term)` (see [`Disk::install`]).
    pub log_prefix: Option<(Index, Term)>,
    /// Replace the log from `entries[0].index` on (truncate, then append).
    pub entries: Vec<Entry>,
    /// When the sync of this batch completes.
    pub synced_at_us: u64,
}

impl Batch {
    /// The records this batch writes, in the order the node's store writes them: the log
    /// prefix (a compaction, a batch of its own), the hard state, then one record per entry.
    pub fn records(&self) -> usize {
        self.log_prefix.is_some() as usize + self.hard_state.is_some() as usize + self.entries.len()
    }

    /// What survives of this batch when a crash tears it after its first `records` records.
    fn torn(&self, records: usize) -> Write {
        let mut left = records;
        let mut take = |present: bool| {
            let kept = present && left > 0;
            left -= kept as usize;
            kept
        };
        let log_prefix = self.log_prefix.filter(|_| take(true));
        let hard_state = self.hard_state.filter(|_| take(true));
        let entries = self.entries[..left.min(self.entries.len())].to_vec();
        (hard_state, log_prefix, entries)
    }
}

/// A log plus hard state. The log holds the entries after `(prev_index, prev_term)`, which a
/// snapshot covers: `log[i]` holds index `prev_index + 1 + i`.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    pub hard_state: HardState,
    pub prev_index: Index,
    pub prev_term: Term,
    pub log: Vec<Entry>,
}

impl Disk {
    fn write(
        &mut self,
        hard_state: Option<HardState>,
        log_prefix: Option<(Index, Term)>,
        entries: &[Entry],
    ) {
        if let Some(hs) = hard_state {
            self.hard_state = hs;
        }
        if let Some((index, term)) = log_prefix {
            self.install(index, term);
        }
        // Entries inside the prefix are covered by a snapshot already (and were committed).
        let entries = match entries.iter().position(|e| e.index > self.prev_index) {
            Some(at) => &entries[at..],
            None => &[],
        };
        if let Some(first) = entries.first() {
            self.log
                .truncate((first.index - self.prev_index - 1) as usize);
            self.log.extend_from_slice(entries);
        }
    }

    /// Restarts the log after `(index, term)`, as an installed snapshot asks (§7): the entries
    /// after `index` stay if the log holds `index` with `term`, otherwise none do. A no-op if
    /// the log was compacted past `index` meanwhile (the snapshot it followed covers it; both
    /// snapshots hold committed entries only).
    pub fn install(&mut self, index: Index, term: Term) {
        if index < self.prev_index {
            return;
        }
        if self.term(index) == Some(term) {
            self.compact(index);
        } else {
            self.log.clear();
            self.prev_index = index;
            self.prev_term = term;
        }
    }

    /// Drops the entries from `index` on (none inside the prefix).
    fn truncate_from(&mut self, index: Index) {
        if index > self.prev_index {
            self.log.truncate((index - self.prev_index - 1) as usize);
        }
    }

    /// Drops the entries through `index`, if the log holds it: a durable snapshot covers them.
    pub fn compact(&mut self, index: Index) {
        let Some(term) = self.term(index).filter(|_| index > self.prev_index) else {
            return;
        };
        self.log.drain(..(index - self.prev_index) as usize);
        self.prev_index = index;
        self.prev_term = term;
    }

    /// The last index held (the prefix's when no entry is).
    pub fn last_index(&self) -> Index {
        self.prev_index + self.log.len() as Index
    }

    /// The term of the entry at `index`, if held, or of the prefix.
    pub fn term(&self, index: Index) -> Option<Term> {
        if index == self.prev_index {
            return Some(self.prev_term);
        }
        if index < self.prev_index {
            return None;
        }
        self.log
            .get((index - self.prev_index - 1) as usize)
            .map(|e| e.term)
    }
}

/// What one batch asks the disk to write: hard state, log prefix, entries.
pub type Write = (Option<HardState>, Option<(Index, Term)>, Vec<Entry>);

/// One node's disk across crashes.
#[derive(Default)]
pub struct Storage {
    /// What survives a crash.
    pub durable: Disk,
    /// What the node asked to write, synced or not: the mirror of the core's own log.
    pub written: Disk,
    /// The snapshot files beside the log.
    pub snapshots: SnapshotStore,
    unsynced: VecDeque<Batch>,
    next_seq: u64,
    /// A deliberate disk fault (a negative control), if any.
    pub fault: Option<HarnessBug>,
    /// Under a fault: writes reported synced that are not durable yet (the next sync makes
    /// them so; a crash loses them).
    lagging: Vec<Write>,
    /// `SkipFsyncOnce` has skipped its sync.
    skipped: bool,
}

impl Storage {
    /// An empty disk with the deliberate fault `fault`, if any (only the disk faults act here).
    pub fn with_fault(fault: Option<HarnessBug>) -> Self {
        Storage {
            fault,
            ..Storage::default()
        }
    }

    /// When the last unsynced batch will be durable (syncs complete in order).
    pub fn last_sync_us(&self) -> Option<u64> {
        self.unsynced.back().map(|b| b.synced_at_us)
    }

    /// Queues batch `seq` (numbered by the node's `Sequencer`, above every earlier one); it
    /// becomes durable at `synced_at_us` (but never before an earlier batch). Returns when its
    /// sync completes.
    pub fn write(&mut self, seq: u64, write: Write, synced_at_us: u64) -> u64 {
        assert!(
            seq >= self.next_seq,
            "batch {seq} numbered below an earlier one"
        );
        let (hard_state, log_prefix, entries) = write;
        self.written.write(hard_state, log_prefix, &entries);
        let synced_at_us = synced_at_us.max(self.last_sync_us().unwrap_or(0));
        self.next_seq = seq + 1;
        self.unsynced.push_back(Batch {
            seq,
            hard_state,
            log_prefix,
            entries,
            synced_at_us,
        });
        synced_at_us
    }

    /// The number a restarted node's first batch takes: above every batch of its past, so that
    /// a sync report of a batch a crash dropped matches nothing.
    pub fn next_batch(&self) -> u64 {
        self.next_seq
    }

    /// True if batch `seq` is the next to complete its sync (a crash may have dropped it).
    pub fn is_next_sync(&self, seq: u64) -> bool {
        self.unsynced.front().map(|b| b.seq) == Some(seq)
    }

    /// Completes the sync of batch `seq`, if it is still pending (a crash may have dropped it).
    /// `promises`: messages wait on it (what `SkipFsyncOnce` lies about).
    pub fn sync(&mut self, seq: u64, promises: bool) -> Option<Batch> {
        if self.unsynced.front().map(|b| b.seq) != Some(seq) {
            return None;
        }
        let batch = self.unsynced.pop_front()?;
        // A later sync covers the earlier writes too.
        for (hard_state, log_prefix, entries) in self.lagging.drain(..) {
            self.durable.write(hard_state, log_prefix, &entries);
        }
        let promises = promises && !batch.entries.is_empty();
        match self.fault {
            Some(HarnessBug::SkipFsyncOnce) if promises && !self.skipped => {
                self.skipped = true;
                let write = (batch.hard_state, batch.log_prefix, batch.entries.clone());
                self.lagging.push(write);
            }
            Some(HarnessBug::MarkBeforeData) if !batch.entries.is_empty() => {
                self.durable.write(batch.hard_state, batch.log_prefix, &[]);
                self.lagging.push((None, None, batch.entries.clone()));
            }
            _ => self
                .durable
                .write(batch.hard_state, batch.log_prefix, &batch.entries),
        }
        Some(batch)
    }

    /// The node crashed: the first `keep` unsynced batches reached the disk anyway, and of the
    /// next one its first `torn` records (a torn tail: the store's recovery keeps every whole
    /// record before the first damaged one); the rest is lost (its snapshot files are
    /// `snapshots`' to crash). Returns the hard states that became durable this way and the
    /// number of batches lost (a torn one counts as lost).
    pub fn crash(&mut self, keep: usize, torn: usize) -> (Vec<HardState>, usize) {
        // Writes reported synced but not durable are lost, and so is everything after them.
        let (keep, torn) = if self.lagging.is_empty() {
            (keep, torn)
        } else {
            (0, 0)
        };
        self.lagging.clear();
        let lost = self.unsynced.len().saturating_sub(keep);
        let mut kept = Vec::new();
        for batch in self.unsynced.iter().take(keep) {
            self.durable
                .write(batch.hard_state, batch.log_prefix, &batch.entries);
            kept.extend(batch.hard_state);
        }
        if let Some(batch) = self.unsynced.get(keep).filter(|_| torn > 0) {
            // The store cuts a conflicting tail before it writes the batch's first record, and
            // that record overwrites the first one cut, so none of the tail survives a tear.
            if let Some(first) = batch.entries.first() {
                self.durable.truncate_from(first.index);
            }
            let (hard_state, log_prefix, entries) = batch.torn(torn);
            self.durable.write(hard_state, log_prefix, &entries);
            kept.extend(hard_state);
        }
        self.unsynced.clear();
        self.written = self.durable.clone();
        (kept, lost)
    }

    /// The unsynced batch a crash that keeps `keep` whole batches would tear, if any.
    pub fn unsynced_batch(&self, keep: usize) -> Option<&Batch> {
        self.unsynced.get(keep)
    }

    /// The number of unsynced batches.
    pub fn unsynced_len(&self) -> usize {
        self.unsynced.len()
    }

    /// Compacts the log through the durable snapshot `index` (both what is durable and what the
    /// core sees written: the entries it covers are durable and committed, never rewritten).
    pub fn compact(&mut self, index: Index) {
        self.durable.compact(index);
        self.written.compact(index);
    }

    /// What a restarting node reads back: the newest durable snapshot, whose state it starts
    /// from, and the durable log after it (read with the rule of an installed snapshot, so a
    /// snapshot whose log prefix was not yet written still counts). Recovery rewrites the log
    /// to what it read.
    pub fn restore(&mut self) -> (Restored, Option<SnapshotFile>) {
        let snapshot = self.snapshots.newest().cloned();
        if let Some(s) = &snapshot {
            if s.index > self.durable.prev_index {
                self.durable.install(s.index, s.term);
            }
        }
        self.written = self.durable.clone();
        let restored = Restored {
            hard_state: self.durable.hard_state,
            prev_index: self.durable.prev_index,
            prev_term: self.durable.prev_term,
            entries: self.durable.log.clone(),
            applied: snapshot.as_ref().map_or(0, |s| s.index),
            // The configuration is in the snapshot's bytes: the caller decodes them and sets it.
            membership: None,
        };
        (restored, snapshot)
    }
}
