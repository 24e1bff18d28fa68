//! What opening, writing or checking a transaction log can fail with.

use std::io;
use std::path::PathBuf;

/// Why the transaction log cannot be opened, written or extended. All but
/// [`TxLogError::Refused`] and [`TxLogError::Options`] are environmental failures: the node should
/// stop with the message.
#[derive(Debug, thiserror::Error)]
pub enum TxLogError {
    /// The file could not be read, cut, renamed or written.
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
    /// Lines received from another node were not appended: they do not continue this file, or
    /// are not lines of a transaction log. Nothing was added; the file is as it was.
    #[error("transaction log {}: received lines refused: {reason}", path.display())]
    Refused {
        /// The transaction log file.
        path: PathBuf,
        /// Which line is wrong, and how.
        reason: String,
    },
    /// The options passed to open are out of range.
    #[error("transaction log options: {reason}")]
    Options {
        /// Which option, and its limit.
        reason: String,
    },
}

impl TxLogError {
    /// An I/O error on `path`, for `map_err`.
    pub(super) fn io(path: &std::path::Path) -> impl Fn(io::Error) -> TxLogError + '_ {
        move |source| TxLogError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
