//! The ways storage can fail. All are environmental failures that stop the node, except
//! `RecordTooLarge`, which rejects one write and leaves the store usable, and `Locked`, which
//! refuses to open a directory another store is using.

use std::io;
use std::path::{Path, PathBuf};

/// A storage failure. I/O and corruption errors name the file (and the byte offset when known)
/// so an operator can find the damage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A system call failed.
    #[error("cannot {op} {}: {source}", .path.display())]
    Io {
        /// What was being done, as a verb phrase ("create the data directory", "fsync").
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The stored log cannot be trusted from `offset` of `path` on, and the damage is not a torn
    /// tail that recovery may drop.
    #[error("corrupt log: {} at byte offset {offset}: {reason}", .path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A file of the data directory is not in the log format this build reads: written by an
    /// older raftkv (which this version does not convert) or not a raftkv log at all. Nothing was
    /// changed on disk.
    #[error("{}: unsupported log format: {reason}", .path.display())]
    UnsupportedFormat { path: PathBuf, reason: String },
    /// One record would exceed the configured limit; nothing of the batch was written.
    #[error("a record of {size_bytes} bytes exceeds the limit of {limit_bytes} bytes")]
    RecordTooLarge { size_bytes: u64, limit_bytes: u64 },
    /// An earlier write or fsync failed. After a failed fsync the kernel may have dropped the dirty
    /// pages, so retrying could report durability that does not exist: the store stays failed.
    #[error(
        "the log store failed earlier and refuses further work (first failure: {first_failure})"
    )]
    Failed { first_failure: String },
    /// Another store holds the data directory's lock: another `raftkv node` process (or another
    /// store in this one) is using it, and a second writer would corrupt the log.
    #[error(
        "data directory {} is locked: {}",
        .dir.display(),
        holder_text(*.holder_pid)
    )]
    Locked {
        dir: PathBuf,
        /// The pid written into the lock file by the holder, if it has written one.
        holder_pid: Option<u32>,
    },
    /// The store's options are out of range.
    #[error("invalid storage options: {0}")]
    InvalidOptions(String),
    /// The group-commit writer thread could not be started.
    #[error("cannot start the log writer thread: {0}")]
    Spawn(#[source] io::Error),
    /// The group-commit writer thread has stopped (after an error, or because it was closed).
    #[error("the log writer has stopped")]
    WriterStopped,
}

impl StorageError {
    /// Adapter for `map_err`: wraps an `io::Error` with what was being done and to which path.
    pub(crate) fn io(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StorageError {
        let path = path.to_path_buf();
        move |source| StorageError::Io { op, path, source }
    }

    /// A corruption error at `offset` of `path`.
    pub(crate) fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> StorageError {
        StorageError::Corrupt {
            path: path.to_path_buf(),
            offset,
            reason: reason.into(),
        }
    }
}

/// Who holds a lock, for [`StorageError::Locked`]'s message.
fn holder_text(holder_pid: Option<u32>) -> String {
    match holder_pid {
        Some(pid) if pid == std::process::id() => {
            format!("another store in this process (pid {pid}) holds it")
        }
        Some(pid) => format!("another process (pid {pid}) holds it"),
        None => "another process holds it".to_string(),
    }
}
