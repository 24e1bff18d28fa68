//! Reading a snapshot back into a state machine, verifying as it streams.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::format::{Kind, MAX_VOTERS};
use super::frame_read::{FrameReader, Next};
use super::records::HeaderRecord;
use super::restore::Restore;
use super::{SnapshotError, SnapshotMeta};
use crate::state::{StateConfig, StateMachine};

/// Buffer between the input and the records, so a snapshot is read in large reads.
const READ_BUFFER_BYTES: usize = 256 << 10;

/// How errors name an input that is not a file.
const STREAM_NAME: &str = "(stream)";

/// Reads a snapshot from `input` and restores the state machine it holds, with `config` (which
/// must be the one every replica shares). Checks every record's CRC as it arrives, every
/// invariant of the state as it is rebuilt, and the trailer's length and file CRC at the end: a
/// machine is returned only for a complete, intact, valid snapshot, and it then applies entry
/// `meta.index + 1` exactly as the machine that was written would have.
///
/// Streams: memory is the restored state plus one record. Never panics, whatever the bytes.
pub fn read_snapshot(
    input: impl Read,
    config: StateConfig,
) -> Result<(StateMachine, SnapshotMeta), SnapshotError> {
    read_named(input, STREAM_NAME.to_string(), config)
}

/// [`read_snapshot`] from a file; errors name `path`.
pub fn read_snapshot_file(
    path: &Path,
    config: StateConfig,
) -> Result<(StateMachine, SnapshotMeta), SnapshotError> {
    let (file, name) = open(path)?;
    read_named(
        BufReader::with_capacity(READ_BUFFER_BYTES, file),
        name,
        config,
    )
}

/// Opens a snapshot file; returns it and how errors name it.
pub(super) fn open(path: &Path) -> Result<(File, String), SnapshotError> {
    let name = path.display().to_string();
    match File::open(path) {
        Ok(file) => Ok((file, name)),
        Err(source) => Err(SnapshotError::Io { file: name, source }),
    }
}

fn read_named(
    input: impl Read,
    file: String,
    config: StateConfig,
) -> Result<(StateMachine, SnapshotMeta), SnapshotError> {
    if let Err(source) = config.validate() {
        return Err(SnapshotError::Config { file, source });
    }
    let mut frames = FrameReader::start(input, file)?;
    let header = read_header(&mut frames)?;
    let mut restore = Restore::new(header, config);
    while let Next::Record(record) = frames.next()? {
        restore.record(&record)?;
    }
    restore.finish(frames.file(), frames.offset())
}

/// Reads and checks the header, the first record.
pub(super) fn read_header<R: Read>(
    frames: &mut FrameReader<R>,
) -> Result<HeaderRecord<'static>, SnapshotError> {
    let offset = frames.offset();
    let malformed = |file: &str, reason: String| SnapshotError::Malformed {
        file: file.to_string(),
        offset,
        reason,
    };
    let record = match frames.next()? {
        Next::Record(record) => record,
        Next::End { .. } => {
            return Err(malformed(
                frames.file(),
                "no header before the trailer".into(),
            ));
        }
    };
    if record.kind != Kind::Header {
        return Err(record.malformed(format!(
            "the first record is a {} record",
            record.kind.name()
        )));
    }
    let header: HeaderRecord<'static> = record.decode()?;
    if header.voters.len() + header.learners.len() > MAX_VOTERS {
        let reason = format!(
            "{} members, over the limit of {MAX_VOTERS}",
            header.voters.len() + header.learners.len()
        );
        return Err(record.malformed(reason));
    }
    if let Err(why) = header.membership().membership.validate() {
        return Err(record.malformed(why));
    }
    // Stack ids start at 1 (whether it follows the last stack is checked once they are read).
    if header.next_stack_id == 0 {
        let reason = format!("the next stack id {} is impossible", header.next_stack_id);
        return Err(record.malformed(reason));
    }
    Ok(header)
}
