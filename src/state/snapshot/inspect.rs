//! Checking a snapshot file without restoring it (for `raftkv snapshot status FILE`).

use std::io::BufReader;
use std::path::Path;

use super::format::Kind;
use super::frame_read::{FrameReader, Next};
use super::read::{open, read_header};
use super::{SnapshotCounts, SnapshotError, SnapshotMeta};

/// What [`inspect`] found in a snapshot file.
#[derive(Debug)]
pub struct SnapshotStatus {
    /// Index, term and membership from the header.
    pub meta: SnapshotMeta,
    /// The state machine's clock when the snapshot was taken (ms since the Unix epoch).
    pub now_ms: u64,
    /// The records of each kind the header announces.
    pub counts: SnapshotCounts,
    /// The file's size.
    pub size_bytes: u64,
    /// The CRC-32 of the file before its trailer, when the file is intact.
    pub crc: Option<u32>,
    /// The first damage found after the header, if any: a record or the whole file failing its
    /// checksum, a truncation, or records that do not match the header's counts.
    pub damage: Option<SnapshotError>,
}

impl SnapshotStatus {
    /// True when every checksum matched and the file is complete.
    pub fn checksum_ok(&self) -> bool {
        self.damage.is_none()
    }
}

/// Reads the header of the snapshot at `path` and walks its records, checking every checksum
/// without decoding or restoring anything. A file whose header cannot be read (not a snapshot,
/// another version, a damaged or truncated header) is an error; damage further on is reported in
/// [`SnapshotStatus::damage`], alongside what the header says.
pub fn inspect(path: &Path) -> Result<SnapshotStatus, SnapshotError> {
    let (file, name) = open(path)?;
    let size_bytes = match file.metadata() {
        Ok(metadata) => metadata.len(),
        Err(source) => return Err(SnapshotError::Io { file: name, source }),
    };
    let mut frames = FrameReader::start(BufReader::new(file), name)?;
    let header = read_header(&mut frames)?;
    let mut found = SnapshotCounts::default();
    let outcome = loop {
        match frames.next() {
            Err(damage) => break Err(damage),
            Ok(Next::End { crc }) => break Ok(crc),
            Ok(Next::Record(record)) => match record.kind {
                Kind::Student => found.students += 1,
                Kind::Key => found.keys += 1,
                Kind::Stack => found.stacks += 1,
                Kind::Session => found.sessions += 1,
                Kind::Lease => found.leases += 1,
                Kind::History => found.history_records += 1,
                Kind::StackItems => {}
                Kind::Header => break Err(record.malformed("a second header".to_string())),
            },
        }
    };
    let outcome = outcome.and_then(|crc| {
        if found == header.counts {
            return Ok(crc);
        }
        Err(SnapshotError::Malformed {
            file: frames.file().to_string(),
            offset: frames.offset(),
            reason: format!("found {found}, the header counts {}", header.counts),
        })
    });
    Ok(SnapshotStatus {
        meta: SnapshotMeta {
            index: header.index,
            term: header.term,
            membership: header.membership(),
        },
        now_ms: header.now_ms,
        counts: header.counts,
        size_bytes,
        crc: outcome.as_ref().ok().copied(),
        damage: outcome.err(),
    })
}
