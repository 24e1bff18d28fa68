//! Why a snapshot cannot be read. Every message names the file (or stream) and the byte offset, so
//! that a person can tell a truncated copy from a damaged disk from a file that is not ours.

use std::io;

use crate::state::StateConfigError;

/// A snapshot that cannot be read or restored. Expected failures: a snapshot can come from a disk
/// or from the network, so no input bytes make the reader panic.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be opened or read.
    #[error("snapshot {file}: cannot read: {source}")]
    Io {
        /// The file or stream.
        file: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The magic bytes are wrong: some other file.
    #[error("snapshot {file}: not a raftkv snapshot (starts with {found:02x?})")]
    NotASnapshot {
        /// The file or stream.
        file: String,
        /// The first bytes found (fewer than eight if that is all there was).
        found: Vec<u8>,
    },
    /// A snapshot of a format version this build does not read.
    #[error(
        "snapshot {file}: format version {found} is not supported (this build reads version \
         {supported})"
    )]
    UnsupportedVersion {
        /// The file or stream.
        file: String,
        /// The version in the file.
        found: u32,
        /// The one version this build reads.
        supported: u32,
    },
    /// The input ended before the snapshot did.
    #[error("snapshot {file}: truncated: expected at least {expected} bytes, found {found}")]
    Truncated {
        /// The file or stream.
        file: String,
        /// Bytes needed to get past the point where the input ended.
        expected: u64,
        /// Bytes there were.
        found: u64,
    },
    /// Stored and computed CRC-32 differ: bytes were damaged.
    #[error(
        "snapshot {file}: checksum mismatch in {part} at byte {offset}: stored {stored:08x}, \
         computed {computed:08x}"
    )]
    Checksum {
        /// The file or stream.
        file: String,
        /// Which part: a numbered record of a kind, or the whole file.
        part: String,
        /// Where that part starts.
        offset: u64,
        /// The CRC in the file.
        stored: u32,
        /// The CRC of the bytes read.
        computed: u32,
    },
    /// Intact bytes (or a damaged length) that do not form a valid snapshot.
    #[error("snapshot {file}: malformed at byte {offset}: {reason}")]
    Malformed {
        /// The file or stream.
        file: String,
        /// Where the offending record or field starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The configuration given to restore the state with is invalid.
    #[error("snapshot {file}: cannot restore with this configuration: {source}")]
    Config {
        /// The file or stream.
        file: String,
        /// Why the configuration is refused.
        #[source]
        source: StateConfigError,
    },
}
