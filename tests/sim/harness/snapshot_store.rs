//! A node's snapshot files on its simulated disk: the durable ones, the ones being written, and
//! the partial file of a snapshot being received.
//!
//! A write is "write a temporary file, fsync, rename": it completes after a sync delay, and a
//! crash before that leaves nothing (the temporary file is ignored on restart). The partial file
//! of an incoming snapshot is never durable: a crash loses it.

use bytes::Bytes;
use raftkv::raft::{Index, NodeId, Term};

/// Durable snapshots kept, newest first dropped last: a leader may still be sending an older one.
const KEEP: usize = 2;

/// A snapshot file: the applied state through `(index, term)`, encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotFile {
    pub index: Index,
    pub term: Term,
    pub bytes: Bytes,
}

/// Why a snapshot is being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Taken of the node's own applied state; the log is compacted once it is durable.
    Local,
    /// Received from leader `from`; installed once it is durable.
    Received { from: NodeId },
}

/// A snapshot write waiting for its sync.
#[derive(Clone, Debug)]
pub struct PendingWrite {
    pub seq: u64,
    pub file: SnapshotFile,
    pub origin: Origin,
}

/// The bytes held so far of a snapshot being received.
#[derive(Debug)]
struct Incoming {
    index: Index,
    term: Term,
    bytes: Vec<u8>,
    /// Every byte arrived and the file is being written: later chunks change nothing.
    complete: bool,
}

/// What a received chunk did to the partial file.
#[derive(Debug, Default)]
pub struct Receipt {
    /// Bytes now held of the chunk's snapshot: the answer to the leader.
    pub held: u64,
    /// The chunk started a new transfer.
    pub started: bool,
    /// The chunk threw away an unfinished transfer of another snapshot.
    pub interrupted: bool,
    /// The chunk completed the snapshot: these bytes are to be written.
    pub complete: Option<SnapshotFile>,
}

/// The snapshot files of one node.
#[derive(Debug, Default)]
pub struct SnapshotStore {
    /// Ascending by index, at most [`KEEP`].
    durable: Vec<SnapshotFile>,
    pending: Vec<PendingWrite>,
    incoming: Option<Incoming>,
    next_seq: u64,
}

impl SnapshotStore {
    /// The newest durable snapshot.
    pub fn newest(&self) -> Option<&SnapshotFile> {
        self.durable.last()
    }

    /// The index of the newest durable snapshot (0 without one).
    pub fn newest_index(&self) -> Index {
        self.newest().map_or(0, |s| s.index)
    }

    /// The durable snapshot through `index`, if still kept.
    pub fn get(&self, index: Index) -> Option<&SnapshotFile> {
        self.durable.iter().find(|s| s.index == index)
    }

    /// True if a snapshot of the node's own state is being written.
    pub fn writing_local(&self) -> bool {
        self.pending.iter().any(|w| w.origin == Origin::Local)
    }

    /// Starts writing `file`; returns the write's number for [`SnapshotStore::finish`].
    pub fn start(&mut self, file: SnapshotFile, origin: Origin) -> u64 {
        self.next_seq += 1;
        let seq = self.next_seq;
        self.pending.push(PendingWrite { seq, file, origin });
        seq
    }

    /// Write `seq` was synced and renamed into place, unless a crash dropped it. Returns it, and
    /// whether its file is new (a received snapshot may already be held).
    pub fn finish(&mut self, seq: u64) -> Option<(PendingWrite, bool)> {
        let at = self.pending.iter().position(|w| w.seq == seq)?;
        let write = self.pending.remove(at);
        if let Some(inc) = &self.incoming {
            if (inc.index, inc.term) == (write.file.index, write.file.term) {
                self.incoming = None;
            }
        }
        if self.get(write.file.index).is_some() {
            return Some((write, false));
        }
        let at = self.durable.partition_point(|s| s.index < write.file.index);
        self.durable.insert(at, write.file.clone());
        if self.durable.len() > KEEP {
            self.durable.remove(0);
        }
        Some((write, true))
    }

    /// Deletes the durable snapshot through `index` (a received one the core refused).
    pub fn discard(&mut self, index: Index) {
        self.durable.retain(|s| s.index != index);
    }

    /// Takes a chunk of snapshot `(index, term)`: kept only if it continues the bytes held of that
    /// snapshot; offset 0 of another snapshot starts afresh, any other offset of another snapshot
    /// leaves nothing held (the leader then starts over).
    pub fn receive(
        &mut self,
        index: Index,
        term: Term,
        offset: u64,
        data: &[u8],
        done: bool,
    ) -> Receipt {
        let mut receipt = Receipt::default();
        let same = self
            .incoming
            .as_ref()
            .is_some_and(|i| (i.index, i.term) == (index, term));
        if !same {
            receipt.interrupted = self.incoming.as_ref().is_some_and(|i| !i.complete);
            self.incoming = None;
            if offset != 0 {
                return receipt;
            }
            receipt.started = true;
            self.incoming = Some(Incoming {
                index,
                term,
                bytes: Vec::new(),
                complete: false,
            });
        }
        let inc = self.incoming.as_mut().expect("set above");
        if !inc.complete && offset == inc.bytes.len() as u64 {
            inc.bytes.extend_from_slice(data);
            if done {
                inc.complete = true;
                receipt.complete = Some(SnapshotFile {
                    index,
                    term,
                    bytes: Bytes::from(inc.bytes.clone()),
                });
            }
        }
        receipt.held = inc.bytes.len() as u64;
        receipt
    }

    /// The node crashed: pending writes and the partial file vanish. Returns how many writes were
    /// lost and whether an unfinished transfer was.
    pub fn crash(&mut self) -> (usize, bool) {
        let lost = self.pending.len();
        self.pending.clear();
        let partial = self.incoming.take().is_some_and(|i| !i.complete);
        (lost, partial)
    }
}
