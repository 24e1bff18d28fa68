//! A simulated disk: what is durable, and the batches written but not yet synced.
//!
//! Writes are applied in order and synced in order (a write-ahead log): a batch is durable once
//! its sync completes, and then so is every batch before it. A crash loses the unsynced batches —
//! or, sometimes, keeps a prefix of them, which a real disk is also free to do.

use std::collections::VecDeque;

use raftkv::raft::{Entry, HardState, Index, Message, NodeId, Restored, Term};

/// One `Output`'s worth of work for the disk.
#[derive(Debug)]
pub struct Batch {
    pub seq: u64,
    pub hard_state: Option<HardState>,
    /// Replace the log from `entries[0].index` on (truncate, then append).
    pub entries: Vec<Entry>,
    /// Messages that may leave only once this batch (and every earlier one) is durable.
    pub after_persist: Vec<(NodeId, Message)>,
    /// When the sync of this batch completes.
    pub synced_at_us: u64,
}

impl Batch {
    /// The last entry's index and term, to report to the core with `persisted`.
    pub fn last(&self) -> Option<(Index, Term)> {
        self.entries.last().map(|e| (e.index, e.term))
    }
}

/// A log plus hard state; `log[i]` holds index `i + 1`.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    pub hard_state: HardState,
    pub log: Vec<Entry>,
}

impl Disk {
    fn write(&mut self, hard_state: Option<HardState>, entries: &[Entry]) {
        if let Some(hs) = hard_state {
            self.hard_state = hs;
        }
        if let Some(first) = entries.first() {
            self.log.truncate(first.index as usize - 1);
            self.log.extend_from_slice(entries);
        }
    }

    /// The last index held.
    pub fn last_index(&self) -> Index {
        self.log.len() as Index
    }

    /// The term of the entry at `index`, if held (0 for index 0).
    pub fn term(&self, index: Index) -> Option<Term> {
        if index == 0 {
            return Some(0);
        }
        self.log.get(index as usize - 1).map(|e| e.term)
    }
}

/// One node's disk across crashes.
#[derive(Default)]
pub struct Storage {
    /// What survives a crash.
    pub durable: Disk,
    /// What the node asked to write, synced or not: the mirror of the core's own log.
    pub written: Disk,
    unsynced: VecDeque<Batch>,
    next_seq: u64,
}

impl Storage {
    /// True if some write is still waiting for its sync.
    pub fn has_unsynced(&self) -> bool {
        !self.unsynced.is_empty()
    }

    /// When the last unsynced batch will be durable (syncs complete in order).
    pub fn last_sync_us(&self) -> Option<u64> {
        self.unsynced.back().map(|b| b.synced_at_us)
    }

    /// Queues a batch; it becomes durable at `synced_at_us` (but never before an earlier batch).
    /// Returns the batch number and when its sync completes.
    pub fn write(
        &mut self,
        hard_state: Option<HardState>,
        entries: Vec<Entry>,
        after_persist: Vec<(NodeId, Message)>,
        synced_at_us: u64,
    ) -> (u64, u64) {
        self.written.write(hard_state, &entries);
        let synced_at_us = synced_at_us.max(self.last_sync_us().unwrap_or(0));
        self.next_seq += 1;
        self.unsynced.push_back(Batch {
            seq: self.next_seq,
            hard_state,
            entries,
            after_persist,
            synced_at_us,
        });
        (self.next_seq, synced_at_us)
    }

    /// Completes the sync of batch `seq`, if it is still pending (a crash may have dropped it).
    pub fn sync(&mut self, seq: u64) -> Option<Batch> {
        if self.unsynced.front().map(|b| b.seq) != Some(seq) {
            return None;
        }
        let batch = self.unsynced.pop_front()?;
        self.durable.write(batch.hard_state, &batch.entries);
        Some(batch)
    }

    /// The node crashed: the first `keep` unsynced batches reached the disk anyway, the rest are lost.
    /// Returns the hard states that became durable this way and the number of batches lost.
    pub fn crash(&mut self, keep: usize) -> (Vec<HardState>, usize) {
        let lost = self.unsynced.len().saturating_sub(keep);
        let mut kept = Vec::new();
        // Dropping the drain iterator discards the batches past `keep`.
        for batch in self.unsynced.drain(..).take(keep) {
            self.durable.write(batch.hard_state, &batch.entries);
            kept.extend(batch.hard_state);
        }
        self.written = self.durable.clone();
        (kept, lost)
    }

    /// The number of unsynced batches.
    pub fn unsynced_len(&self) -> usize {
        self.unsynced.len()
    }

    /// What a restarting node reads back. The applied state restarts empty: it is rebuilt by
    /// re-applying the log.
    pub fn restored(&self) -> Restored {
        Restored {
            hard_state: self.durable.hard_state,
            prev_index: 0,
            prev_term: 0,
            entries: self.durable.log.clone(),
            applied: 0,
        }
    }
}
