//! How large the active file may grow and how many rotated files are kept.

use super::TxLogError;

/// Rotation and retention of one node's transaction log. The default rotates never and keeps
/// everything, as before rotation existed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxLogOptions {
    /// Once a flush leaves the active file at least this long, it is renamed to
    /// `node-<id>.log.<index of its first line, 12 digits>` and a new active file starts (`None`:
    /// never). Rotation happens between batches, so a file ends at most one batch past it.
    pub rotate_bytes: Option<u64>,
    /// Rotated files kept; the oldest beyond this are deleted at each rotation (`None`: all).
    /// The active file is not counted.
    pub keep_files: Option<usize>,
}

impl TxLogOptions {
    /// The smallest `rotate_bytes`: below it a busy node would make a file per batch.
    pub const MIN_ROTATE_BYTES: u64 = 4096;

    /// The most bytes one [`super::TxLog::push_lines`] call takes: they wait in memory until the
    /// next flush. A leader's [`super::TxLog::lines_between`] should be asked for no more.
    pub const MAX_RECEIVED_BYTES: usize = 4 * 1024 * 1024;

    /// Checks the limits; [`super::TxLog`] does it at open.
    pub fn validate(&self) -> Result<(), TxLogError> {
        match self.rotate_bytes {
            Some(bytes) if bytes < Self::MIN_ROTATE_BYTES => Err(TxLogError::Options {
                reason: format!(
                    "rotate_bytes is {bytes}, below the minimum of {}",
                    Self::MIN_ROTATE_BYTES
                ),
            }),
            _ => Ok(()),
        }
    }
}
