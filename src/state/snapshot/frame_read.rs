//! Reading the framing back: the preamble, then one verified record at a time, then the trailer.
//!
//! Every length comes from the input, so each is bounded before it is used, and a payload buffer
//! grows only as bytes actually arrive: a damaged length costs an error, never a large allocation.

use std::io::{self, Read};

use serde::de::DeserializeOwned;

use super::format::{
    Kind, FRAME_HEAD_BYTES, MAX_RECORD_BYTES, PREAMBLE_BYTES, SNAPSHOT_FORMAT_VERSION,
    SNAPSHOT_FORMAT_VERSION_MIN, SNAPSHOT_MAGIC, TRAILER_BYTES, TRAILER_KIND,
};
use super::SnapshotError;

/// Reads frames from `input`, checking each record's CRC as it arrives and the file CRC at the end.
pub(super) struct FrameReader<R: Read> {
    input: R,
    /// How errors name the input.
    file: String,
    /// Bytes consumed so far. Invariant: `file_crc` covers exactly these bytes.
    offset: u64,
    file_crc: crc32fast::Hasher,
    /// Records read so far.
    records: u64,
    /// The payload of the last record read; reused.
    payload: Vec<u8>,
}

/// The page size etcd pads a snapshot stream to before its SHA-256.
pub const ETCD_PAGE_BYTES: u64 = 512;

/// The length of the SHA-256 that ends etcd's snapshot stream.
pub const ETCD_HASH_BYTES: usize = 32;

/// The most bytes etcd's envelope adds after the trailer: padding short of a page, and the hash.
const ETCD_ENVELOPE_MAX: usize = ETCD_PAGE_BYTES as usize - 1 + ETCD_HASH_BYTES;

/// What comes next in a snapshot.
pub(super) enum Next<'a> {
    /// A record whose checksum matched.
    Record(Record<'a>),
    /// The trailer, verified (length, file CRC, nothing after it): the snapshot is complete.
    End {
        /// The CRC-32 of everything before the trailer.
        crc: u32,
    },
}

/// One record whose checksum matched.
pub(super) struct Record<'a> {
    pub(super) kind: Kind,
    /// Where its frame starts.
    pub(super) offset: u64,
    payload: &'a [u8],
    file: &'a str,
}

impl Record<'_> {
    /// Decodes the payload as `T`; bytes left over are an error, as a payload holds one value.
    pub(super) fn decode<T: DeserializeOwned>(&self) -> Result<T, SnapshotError> {
        let mut rest = self.payload;
        let decoded = T::deserialize(&mut rmp_serde::Deserializer::new(&mut rest));
        let name = self.kind.name();
        let value = decoded.map_err(|e| self.malformed(format!("{name} record: {e}")))?;
        if !rest.is_empty() {
            let left = rest.len();
            return Err(self.malformed(format!("{left} bytes left over in a {name} record")));
        }
        Ok(value)
    }

    /// An error about this record.
    pub(super) fn malformed(&self, reason: String) -> SnapshotError {
        SnapshotError::Malformed {
            file: self.file.to_string(),
            offset: self.offset,
            reason,
        }
    }
}

impl<R: Read> FrameReader<R> {
    /// Checks the magic and the version.
    pub(super) fn start(input: R, file: String) -> Result<Self, SnapshotError> {
        let mut reader = FrameReader {
            input,
            file,
            offset: 0,
            file_crc: crc32fast::Hasher::new(),
            records: 0,
            payload: Vec::new(),
        };
        let mut magic = [0; SNAPSHOT_MAGIC.len()];
        let got = reader.read_up_to(&mut magic)?;
        if magic[..got] != SNAPSHOT_MAGIC[..got] {
            return Err(SnapshotError::NotASnapshot {
                file: reader.file,
                found: magic[..got].to_vec(),
            });
        }
        if got < magic.len() {
            return Err(reader.truncated(PREAMBLE_BYTES));
        }
        let mut version = [0; 4];
        reader.fill(&mut version)?;
        let version = u32::from_le_bytes(version);
        if !(SNAPSHOT_FORMAT_VERSION_MIN..=SNAPSHOT_FORMAT_VERSION).contains(&version) {
            return Err(SnapshotError::UnsupportedVersion {
                file: reader.file,
                found: version,
                supported: SNAPSHOT_FORMAT_VERSION,
            });
        }
        debug_assert_eq!(reader.offset, PREAMBLE_BYTES);
        Ok(reader)
    }

    /// How errors name the input.
    pub(super) fn file(&self) -> &str {
        &self.file
    }

    /// Bytes read so far.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads the next record, or the trailer.
    pub(super) fn next(&mut self) -> Result<Next<'_>, SnapshotError> {
        let start = self.offset;
        // The file CRC covers everything before the trailer, and this may be its first byte.
        let crc_before = self.file_crc.clone();
        let mut head = [0; FRAME_HEAD_BYTES];
        self.fill(&mut head[..1])?;
        if head[0] == TRAILER_KIND {
            return self.trailer(start, crc_before.finalize());
        }
        self.fill(&mut head[1..])?;
        let len = u32::from_le_bytes(head[1..].try_into().expect("four bytes"));
        if len > MAX_RECORD_BYTES {
            return Err(self.malformed(
                start,
                format!("a record claims {len} bytes, over the limit of {MAX_RECORD_BYTES} (a damaged length?)"),
            ));
        }
        self.read_payload(len)?;
        let mut stored = [0; 4];
        self.fill(&mut stored)?;
        let stored = u32::from_le_bytes(stored);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head);
        crc.update(&self.payload);
        let computed = crc.finalize();
        self.records += 1;
        let kind = Kind::from_byte(head[0]);
        if stored != computed {
            let kind = kind.map_or_else(
                || format!("kind {:#04x}", head[0]),
                |k| k.name().to_string(),
            );
            return Err(SnapshotError::Checksum {
                file: self.file.clone(),
                part: format!("record {} ({kind})", self.records),
                offset: start,
                stored,
                computed,
            });
        }
        let Some(kind) = kind else {
            return Err(self.malformed(start, format!("unknown record kind {:#04x}", head[0])));
        };
        Ok(Next::Record(Record {
            kind,
            offset: start,
            payload: &self.payload,
            file: &self.file,
        }))
    }

    /// Verifies the trailer that starts at `start` (its kind byte already read) against the file
    /// CRC of everything before it, then that nothing follows.
    fn trailer(&mut self, start: u64, computed: u32) -> Result<Next<'_>, SnapshotError> {
        let mut rest = [0; TRAILER_BYTES - 1];
        self.fill(&mut rest)?;
        let body_bytes = u64::from_le_bytes(rest[..8].try_into().expect("eight bytes"));
        let stored = u32::from_le_bytes(rest[8..].try_into().expect("four bytes"));
        if body_bytes != start {
            let reason = format!("the trailer says {body_bytes} bytes precede it, but {start} do");
            return Err(self.malformed(start, reason));
        }
        if stored != computed {
            return Err(SnapshotError::Checksum {
                file: self.file.clone(),
                part: "the whole file".to_string(),
                offset: 0,
                stored,
                computed,
            });
        }
        // What etcd's Maintenance.Snapshot appends may follow (the gRPC API sends it, so that
        // `etcdctl snapshot save` takes the file): zeros up to a multiple of 512 bytes, then a
        // 32-byte SHA-256. The records' CRCs already vouch for the content, so only the shape
        // is checked.
        let end = self.offset;
        let mut extra = [0; ETCD_ENVELOPE_MAX + 1];
        let got = self.read_up_to(&mut extra)?;
        let envelope = (ETCD_HASH_BYTES..=ETCD_ENVELOPE_MAX).contains(&got)
            && (end + got as u64) % ETCD_PAGE_BYTES == ETCD_HASH_BYTES as u64
            && extra[..got - ETCD_HASH_BYTES].iter().all(|b| *b == 0);
        if got > 0 && !envelope {
            return Err(self.malformed(end, "bytes after the trailer".to_string()));
        }
        Ok(Next::End { crc: computed })
    }

    /// Reads a payload of `len` bytes into `self.payload`.
    fn read_payload(&mut self, len: u32) -> Result<(), SnapshotError> {
        self.payload.clear();
        // `take` + `read_to_end` grows the buffer with the bytes that arrive, not with `len`.
        let got = (&mut self.input)
            .take(u64::from(len))
            .read_to_end(&mut self.payload)
            .map_err(|e| self.io(e))?;
        self.file_crc.update(&self.payload);
        self.offset += got as u64;
        if got < len as usize {
            return Err(self.truncated(self.offset + u64::from(len) - got as u64));
        }
        Ok(())
    }

    /// Fills `buf` completely, or fails as truncated.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), SnapshotError> {
        let got = self.read_up_to(buf)?;
        if got < buf.len() {
            return Err(self.truncated(self.offset + (buf.len() - got) as u64));
        }
        Ok(())
    }

    /// Reads until `buf` is full or the input ends; returns how many bytes were read.
    fn read_up_to(&mut self, buf: &mut [u8]) -> Result<usize, SnapshotError> {
        let mut got = 0;
        while got < buf.len() {
            match self.input.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(e)),
            }
        }
        self.file_crc.update(&buf[..got]);
        self.offset += got as u64;
        Ok(got)
    }

    fn truncated(&self, expected: u64) -> SnapshotError {
        SnapshotError::Truncated {
            file: self.file.clone(),
            expected,
            found: self.offset,
        }
    }

    fn malformed(&self, offset: u64, reason: String) -> SnapshotError {
        SnapshotError::Malformed {
            file: self.file.clone(),
            offset,
            reason,
        }
    }

    fn io(&self, source: io::Error) -> SnapshotError {
        SnapshotError::Io {
            file: self.file.clone(),
            source,
        }
    }
}
