//! The header every file of the log begins with: what format it is in, and the random salt that
//! binds the file's records to it.
//!
//! `magic: "RKVLOG\r\n" | version: u32 | first_index: u64 | salt: u64 | crc: u32`, little-endian,
//! where `crc` is the CRC-32 of the 28 bytes before it. Every record checksum of the file is
//! seeded with `salt` (see `record.rs`), so a record is valid only in the file it was written
//! to: stale blocks of another segment — a deleted one whose blocks a filesystem hands out again,
//! or an earlier file of the same name — fail their checksum wherever they turn up.

use crate::raft::Index;

/// The format this build writes and reads. Format 1 (raftkv before the header existed) had no
/// header, no salt and a durable mark in every record.
pub(crate) const FORMAT_VERSION: u32 = 2;

/// Bytes of the header at the start of every file.
pub(crate) const FILE_HEADER_BYTES: usize = 32;

/// The `\r\n` makes a file mangled by a text-mode copy fail the magic check.
const MAGIC: [u8; 8] = *b"RKVLOG\r\n";

/// A valid header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileHeader {
    /// For a segment, the index of the first entry it holds or will hold (its name says the
    /// same); 0 in the other files.
    pub first_index: Index,
    /// Seeds the checksum of every record in the file.
    pub salt: u64,
}

/// What the first bytes of a file turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HeaderCheck {
    Valid(FileHeader),
    /// Empty, zeros, or a cut-short start of the magic: the file's creation was interrupted
    /// before its header reached the disk.
    Torn,
    /// Another format (an older raftkv's, or not a log file at all), said why.
    Unsupported(String),
    /// The magic is right but the rest is not: damage to a header that was durable.
    Damaged(String),
}

impl FileHeader {
    /// A header with a fresh random salt.
    pub(crate) fn new(first_index: Index) -> FileHeader {
        FileHeader {
            first_index,
            salt: rand::random(),
        }
    }

    /// The header's bytes.
    pub(crate) fn encode(&self) -> [u8; FILE_HEADER_BYTES] {
        let mut out = [0; FILE_HEADER_BYTES];
        out[..8].copy_from_slice(&MAGIC);
        out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[12..20].copy_from_slice(&self.first_index.to_le_bytes());
        out[20..28].copy_from_slice(&self.salt.to_le_bytes());
        let crc = crc32fast::hash(&out[..28]);
        out[28..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads the header at the start of `bytes` (a whole file).
    pub(crate) fn check(bytes: &[u8]) -> HeaderCheck {
        let start = &bytes[..bytes.len().min(MAGIC.len())];
        // Only a creation cut short leaves these: the header is written and fsynced before
        // anything else goes into the file.
        if start.iter().all(|&b| b == 0)
            || (bytes.len() < FILE_HEADER_BYTES && MAGIC.starts_with(start))
        {
            return HeaderCheck::Torn;
        }
        if start != MAGIC {
            return HeaderCheck::Unsupported(format!(
                "no format-{FORMAT_VERSION} header (written by an older raftkv, which this \
                 version does not read, or not a raftkv log file)"
            ));
        }
        let header = &bytes[..FILE_HEADER_BYTES];
        let u32_at =
            |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes"));
        let u64_at =
            |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
        let version = u32_at(8);
        if crc32fast::hash(&header[..28]) != u32_at(28) {
            return HeaderCheck::Damaged("header checksum mismatch".into());
        }
        if version != FORMAT_VERSION {
            return HeaderCheck::Unsupported(format!(
                "format version {version}; this build reads version {FORMAT_VERSION} only"
            ));
        }
        HeaderCheck::Valid(FileHeader {
            first_index: u64_at(12),
            salt: u64_at(20),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_reads_back() {
        let header = FileHeader::new(42);
        assert_eq!(
            FileHeader::check(&header.encode()),
            HeaderCheck::Valid(header)
        );
        let mut with_records = header.encode().to_vec();
        with_records.extend_from_slice(b"records follow");
        assert_eq!(FileHeader::check(&with_records), HeaderCheck::Valid(header));
    }

    #[test]
    fn salts_differ_between_files() {
        assert_ne!(FileHeader::new(1).salt, FileHeader::new(1).salt);
    }

    #[test]
    fn an_interrupted_creation_is_torn() {
        let bytes = FileHeader::new(7).encode();
        for len in 0..FILE_HEADER_BYTES {
            assert_eq!(
                FileHeader::check(&bytes[..len]),
                HeaderCheck::Torn,
                "{len} bytes"
            );
        }
        assert_eq!(FileHeader::check(&[0; 100]), HeaderCheck::Torn);
    }

    #[test]
    fn a_format_1_segment_is_unsupported() {
        // Format 1 began with a record: crc, length, type 1 (an entry), durable mark.
        let mut old = vec![0x5C, 0x1F, 0xAA, 0x03, 34, 0, 0, 0, 1];
        old.extend_from_slice(&[0; 60]);
        assert!(matches!(
            FileHeader::check(&old),
            HeaderCheck::Unsupported(_)
        ));
    }

    #[test]
    fn another_version_is_unsupported_and_damage_is_damage() {
        let mut bytes = FileHeader::new(3).encode();
        bytes[8] = 9;
        let crc = crc32fast::hash(&bytes[..28]);
        bytes[28..].copy_from_slice(&crc.to_le_bytes());
        match FileHeader::check(&bytes) {
            HeaderCheck::Unsupported(reason) => assert!(reason.contains("version 9"), "{reason}"),
            other => panic!("{other:?}"),
        }
        let mut damaged = FileHeader::new(3).encode();
        damaged[15] ^= 1;
        assert!(matches!(
            FileHeader::check(&damaged),
            HeaderCheck::Damaged(_)
        ));
    }
}
