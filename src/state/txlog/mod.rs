//! The per-node transaction log file: one human-readable line per applied entry.
//!
//! The file is derived from the Raft log, so it is never fsynced: after a crash it may lack its last
//! lines or end in a torn one. [`TxLog::open`] cuts a torn line away and remembers the last complete
//! index; the node then re-applies its log from index 1 and [`TxLog::push`] skips every entry
//! already in the file, so the file ends up with every index exactly once, in order.

mod escape;
mod line;
mod recover;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::raft::{Index, NodeId, Term};
use crate::state::command::Operation;
use crate::state::machine::Applied;

pub(in crate::state) use line::push_result;

/// Why the transaction log cannot be opened or written. Both are environmental failures: the node
/// should stop with the message.
#[derive(Debug, thiserror::Error)]
pub enum TxLogError {
    /// The file could not be read, cut, or written.
    #[error("transaction log {}: {source}", path.display())]
    Io {
        /// The transaction log file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A complete line that is not ours, or out of order. The file must be repaired or removed by a
    /// person: it is derived, so removing it loses nothing but the history it held.
    #[error("transaction log {}:{line_number}: {reason}", path.display())]
    Corrupt {
        /// The transaction log file.
        path: PathBuf,
        /// 1-based number of the offending line.
        line_number: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Another open transaction log (in this process or another) holds the file: two nodes
    /// configured with the same id and log directory.
    #[error("transaction log {} is in use by another node (same id and log_dir?)", path.display())]
    Locked {
        /// The transaction log file.
        path: PathBuf,
    },
    /// An earlier write failed, so the file may end in part of a batch; nothing more is written.
    #[error("transaction log {}: an earlier write failed", path.display())]
    Failed {
        /// The transaction log file.
        path: PathBuf,
    },
}

/// An open transaction log. Lines are collected by [`TxLog::push`] and written by
/// [`TxLog::flush`] with a single `write` call per batch. `W` is the file (tests wrap it).
#[derive(Debug)]
pub struct TxLog<W: Write = File> {
    path: PathBuf,
    out: W,
    /// Lines pushed since the last flush.
    buf: String,
    /// Invariant: the file (after the next flush) holds exactly one line for every index from its
    /// first line up to `last_index`, in order.
    last_index: Index,
    failed: bool,
}

impl TxLog<File> {
    /// Opens or creates `<dir>/node-<node_id>.log`, cutting away a torn last line (logged). A
    /// complete line that cannot be parsed is [`TxLogError::Corrupt`], naming the line.
    pub fn open(dir: &Path, node_id: NodeId) -> Result<Self, TxLogError> {
        Self::open_with(dir, node_id, |file| file)
    }
}

impl<W: Write> TxLog<W> {
    /// Like [`TxLog::open`], writing through `wrap(file)`: lets a test observe the writes.
    pub fn open_with(
        dir: &Path,
        node_id: NodeId,
        wrap: impl FnOnce(File) -> W,
    ) -> Result<Self, TxLogError> {
        let path = dir.join(format!("node-{node_id}.log"));
        let io_err = |source| TxLogError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io_err)?;
        // Append mode: every write lands at the end, wherever the scan left the file offset.
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io_err)?;
        // Before the scan, which may cut the file: a second writer would interleave lines. The
        // data-dir lock does not cover this when two configs share a log_dir but not a data_dir.
        crate::storage::try_lock_exclusive(&file).map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock => TxLogError::Locked { path: path.clone() },
            _ => io_err(e),
        })?;
        let scan = recover::scan(&path, &file)?;
        if scan.torn_len > 0 {
            log::warn!(
                "transaction log {}: cutting a torn last line of {} bytes after index {}",
                path.display(),
                scan.torn_len,
                scan.last_index
            );
            file.set_len(scan.complete_len).map_err(io_err)?;
        }
        Ok(TxLog {
            path,
            out: wrap(file),
            buf: String::new(),
            last_index: scan.last_index,
            failed: false,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The index of the last line in the file or waiting in the buffer; 0 if none.
    pub fn last_index(&self) -> Index {
        self.last_index
    }

    /// Bytes waiting for [`TxLog::flush`].
    pub fn pending_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Adds the line of an applied entry to the buffer; returns false (and adds nothing) if the
    /// file already has this index, as happens while a restarted node re-applies its log.
    ///
    /// Panics if `index` would leave a gap after [`TxLog::last_index`] (unless the log is empty):
    /// entries are applied in order, so a gap is a bug.
    pub fn push(&mut self, index: Index, term: Term, op: &Operation, applied: &Applied) -> bool {
        if index <= self.last_index {
            return false;
        }
        assert!(
            self.last_index == 0 || index == self.last_index + 1,
            "transaction log {}: entry {index} would leave a gap after {}",
            self.path.display(),
            self.last_index
        );
        line::render(&mut self.buf, index, term, op, applied);
        self.last_index = index;
        true
    }

    /// Writes the buffered lines with one `write` call. No fsync: the file is derived from the
    /// Raft log. After a failure every later flush fails too, since the file may hold part of the
    /// batch.
    pub fn flush(&mut self) -> Result<(), TxLogError> {
        if self.failed {
            return Err(TxLogError::Failed {
                path: self.path.clone(),
            });
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Err(source) = self.out.write_all(self.buf.as_bytes()) {
            self.failed = true;
            return Err(TxLogError::Io {
                path: self.path.clone(),
                source,
            });
        }
        self.buf.clear();
        Ok(())
    }
}

impl<W: Write> Drop for TxLog<W> {
    /// Best effort: lines pushed but not flushed are written on a clean shutdown.
    fn drop(&mut self) {
        if !self.buf.is_empty() && !self.failed {
            if let Err(e) = self.flush() {
                log::error!("{e}");
            }
        }
    }
}
