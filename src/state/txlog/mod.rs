//! The per-node transaction log file: one human-readable line per applied entry.
//!
//! The file is derived from the Raft log: after a crash it may lack its last lines or end in a
//! torn one. [`TxLog::open`] cuts a torn tail away and remembers the last complete index; the node
//! then re-applies its log and [`TxLog::push`] skips every entry already in the file, so the file
//! ends up with every index exactly once, in order.
//!
//! # Snapshots
//! A node that installs a snapshot jumps from applied index A to the snapshot's index S without
//! applying A+1..=S. It then either appends those lines verbatim from a node that has them
//! ([`TxLog::lines_between`] there, [`TxLog::push_lines`] here; lines are the same on every node),
//! or writes one marker line ([`TxLog::mark_snapshot`], text in `head.rs`) saying so. Either way
//! the file continues at S+1. A marker is the only line whose index may jump.
//!
//! # Files
//! `node-<id>.log` is the active file. With [`TxLogOptions::rotate_bytes`] it is renamed to
//! `node-<id>.log.<first index, 12 digits>` once it is that long, and the oldest rotated files
//! beyond [`TxLogOptions::keep_files`] are deleted. [`TxLog::check_consistent`] moves a file
//! that does not match the node's Raft log aside (`node-<id>.log.stale-<unix seconds>`).
//!
//! # Durability: when bytes reach the file and the disk
//! - **Written**: [`TxLog::push`], [`TxLog::mark_snapshot`] and [`TxLog::push_lines`] only fill a
//!   buffer in memory. [`TxLog::flush`] hands the whole buffer to the kernel with one `write`
//!   call; the state machine flushes once per applied batch, and dropping a `TxLog` flushes what
//!   is left. There is no other buffering, so after `flush` returns a killed process loses
//!   nothing: the kernel has the bytes.
//! - **Fsynced**: the active file, never — it is derived from the Raft log, which is fsynced, and
//!   a sync per batch would double the cost of a commit. A rotated file is fsynced once, just
//!   before its rename (once per `rotate_bytes`), and the directory after the new active file is
//!   created, so rotated files survive a power cut whole and only the active file's tail is at
//!   risk. Moving a stale file aside fsyncs the directory too.
//! - **After a power cut** the active file may lack any suffix of what was written since the
//!   kernel last wrote it back, or end in NUL bytes (its size was extended, its pages never
//!   written), possibly followed by later lines whose pages did land. `recover.rs` cuts all of it
//!   from the first line that is incomplete or holds a NUL — never keeps it — and the node
//!   rewrites those lines by re-applying its log. Lines the log no longer has (compacted into a
//!   snapshot) cannot be rewritten that way: they come from the leader or are replaced by a
//!   marker, as for a snapshot install.

mod error;
mod escape;
mod files;
mod head;
mod line;
mod options;
mod range;
mod received;
mod recover;
mod rotate;
mod stale;
#[cfg(test)]
mod testing;
pub mod verify;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::raft::{Index, NodeId, Term};
use crate::state::command::Operation;
use crate::state::machine::Applied;

pub use error::TxLogError;
pub(in crate::state) use line::push_result;
pub use options::TxLogOptions;
pub use stale::StaleTxLog;

/// Makes the file a test writes through (`W`) from the file itself, at open and at each rotation.
type Wrap<W> = Box<dyn FnMut(File) -> W + Send>;

/// An open transaction log. Lines are collected by [`TxLog::push`] and written by
/// [`TxLog::flush`] with a single `write` call per batch. `W` is the file (tests wrap it).
pub struct TxLog<W: Write = File> {
    dir: PathBuf,
    /// The active file, `<dir>/node-<id>.log`.
    path: PathBuf,
    options: TxLogOptions,
    /// The active file, locked for as long as it is ours; `out` writes to a clone of it.
    file: File,
    out: W,
    wrap: Wrap<W>,
    /// Lines pushed since the last flush.
    buf: String,
    /// Invariant: the files (after the next flush) hold exactly one line for every index from
    /// their first line up to `last_index`, in order, except where a snapshot marker jumps.
    last_index: Index,
    /// The term on the line of `last_index`; 0 when there is none.
    last_term: Term,
    /// Index of the active file's first line, written or buffered; 0 while it has none.
    active_first_index: Index,
    /// Bytes written to the active file.
    active_len: u64,
    failed: bool,
}

impl TxLog<File> {
    /// Opens or creates `<dir>/node-<node_id>.log` without rotation, cutting away a torn tail
    /// (logged). A complete line that cannot be parsed is [`TxLogError::Corrupt`], naming the line.
    pub fn open(dir: &Path, node_id: NodeId) -> Result<Self, TxLogError> {
        Self::open_with_options(dir, node_id, TxLogOptions::default())
    }

    /// Like [`TxLog::open`], rotating and pruning files as `options` say. When the active file
    /// has no line, the last index is that of the newest rotated file.
    pub fn open_with_options(
        dir: &Path,
        node_id: NodeId,
        options: TxLogOptions,
    ) -> Result<Self, TxLogError> {
        Self::open_with(dir, node_id, options, |file| file)
    }
}

impl<W: Write> TxLog<W> {
    /// Like [`TxLog::open_with_options`], writing through `wrap(file)` (called again for each new
    /// active file): lets a test observe the writes.
    pub fn open_with(
        dir: &Path,
        node_id: NodeId,
        options: TxLogOptions,
        wrap: impl FnMut(File) -> W + Send + 'static,
    ) -> Result<Self, TxLogError> {
        options.validate()?;
        let path = files::active_path(dir, node_id);
        std::fs::create_dir_all(dir).map_err(TxLogError::io(dir))?;
        let file = files::open_locked(&path)?;
        let scan = recover::scan(&path, &file)?;
        cut_torn_tail(&path, &file, &scan)?;
        let (last_index, last_term) = if scan.last_index == 0 {
            newest_rotated_last(&path)?
        } else {
            (scan.last_index, scan.last_term)
        };
        let mut wrap: Wrap<W> = Box::new(wrap);
        let out = wrap(file.try_clone().map_err(TxLogError::io(&path))?);
        Ok(TxLog {
            dir: dir.to_path_buf(),
            path,
            options,
            file,
            out,
            wrap,
            buf: String::new(),
            last_index,
            last_term,
            active_first_index: scan.first_index,
            active_len: scan.complete_len,
            failed: false,
        })
    }

    /// The active file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The index of the last line in the files or waiting in the buffer; 0 if none.
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
    /// entries are applied in order, so a gap is a bug. After a snapshot install, call
    /// [`TxLog::mark_snapshot`] (or [`TxLog::push_lines`]) first.
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
        self.note_line(index, term);
        true
    }

    /// Adds a marker line saying that the entries up to `index` (whose term is `term`) were
    /// installed from a snapshot, not applied here; the next line is `index + 1`. Returns false
    /// (and adds nothing) if the file already reaches `index`: a snapshot behind what was applied
    /// changes nothing in the file.
    pub fn mark_snapshot(&mut self, index: Index, term: Term) -> bool {
        if index <= self.last_index {
            return false;
        }
        head::render_marker(&mut self.buf, index, term);
        self.note_line(index, term);
        true
    }

    /// Records that the buffer now ends with the line of `index`.
    fn note_line(&mut self, index: Index, term: Term) {
        if self.active_first_index == 0 {
            self.active_first_index = index;
        }
        self.last_index = index;
        self.last_term = term;
    }

    /// Writes the buffered lines with one `write` call, then rotates the active file if it has
    /// reached [`TxLogOptions::rotate_bytes`]. No fsync (see the module doc). After a failure
    /// every later flush fails too, since the file may hold part of the batch.
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
        self.active_len += self.buf.len() as u64;
        self.buf.clear();
        if self.rotation_due() {
            // Half a rotation leaves the file names in doubt: nothing more is written.
            self.rotate().inspect_err(|_| self.failed = true)?;
        }
        Ok(())
    }
}

/// Cuts what `scan` found after the last complete line, with a warning.
fn cut_torn_tail(path: &Path, file: &File, scan: &recover::Scan) -> Result<(), TxLogError> {
    if scan.torn_len == 0 {
        return Ok(());
    }
    // The words are the ones operators (and tests/cluster/fault_crash_write.rs) already look for,
    // though a tail may be more than a line since NUL holes count.
    log::warn!(
        "transaction log {}: cutting a torn last line of {} bytes after index {}",
        path.display(),
        scan.torn_len,
        scan.last_index
    );
    file.set_len(scan.complete_len)
        .map_err(TxLogError::io(path))
}

/// The last index and term of the newest rotated file of `active`, (0, 0) if there is none.
fn newest_rotated_last(active: &Path) -> Result<(Index, Term), TxLogError> {
    let rotated = files::rotated_files(active).map_err(TxLogError::io(active))?;
    let Some((_, newest)) = rotated.last() else {
        return Ok((0, 0));
    };
    // Rotated files are fsynced before their rename, so a torn tail here means someone else's
    // doing; it is cut all the same, since lines after it would continue from the cut.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(newest)
        .map_err(TxLogError::io(newest))?;
    let scan = recover::scan(newest, &file)?;
    cut_torn_tail(newest, &file, &scan)?;
    Ok((scan.last_index, scan.last_term))
}

impl<W: Write> std::fmt::Debug for TxLog<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxLog")
            .field("path", &self.path)
            .field("options", &self.options)
            .field("last_index", &self.last_index)
            .field("last_term", &self.last_term)
            .field("pending_bytes", &self.buf.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
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
