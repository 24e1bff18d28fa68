//! Segment files: their names, where they live, and how one is scanned record by record.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use super::error::StorageError;
use super::header::FILE_HEADER_BYTES;
use super::record::{self, BadRecord, Record};
use crate::raft::Index;

const PREFIX: &str = "wal-";
const SUFFIX: &str = ".log";

/// A segment file of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SegmentFile {
    /// The index of the first entry this segment holds or will hold (it is named after it).
    pub first_index: Index,
    pub path: PathBuf,
    /// Seeds the checksum of every record in the segment (from its header; 0 until read).
    pub salt: u64,
    /// Bytes in the file that belong to the log, its header included.
    pub len_bytes: u64,
    /// The file's size: `len_bytes` plus, in the last segment, zeros written ahead of the log so
    /// that an fsync after an append does not also have to commit a size change.
    pub alloc_bytes: u64,
}

/// The name of the segment whose first entry is `first_index`; zero-padded so names sort by index.
pub(crate) fn file_name(first_index: Index) -> String {
    format!("{PREFIX}{first_index:020}{SUFFIX}")
}

/// Whether `name` looks like a segment's (well formed or not: see [`list`]).
pub(crate) fn is_segment_name(name: &str) -> bool {
    name.len() >= PREFIX.len() + SUFFIX.len() && name.starts_with(PREFIX) && name.ends_with(SUFFIX)
}

/// The segments in `dir`, ordered by first index. Files that are not segments are ignored (the
/// directory holds other files of the log too); a file that looks like a segment but whose name does
/// not parse is an error, because ignoring it could hide part of the log.
pub(crate) fn list(dir: &Path) -> Result<Vec<SegmentFile>, StorageError> {
    let mut segments = Vec::new();
    for dir_entry in fs::read_dir(dir).map_err(StorageError::io("read the data directory", dir))? {
        let dir_entry = dir_entry.map_err(StorageError::io("read the data directory", dir))?;
        let name = dir_entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if !is_segment_name(name) {
            continue;
        }
        let digits = &name[PREFIX.len()..name.len() - SUFFIX.len()];
        let path = dir_entry.path();
        let first_index = match digits.parse::<Index>() {
            Ok(index) if index > 0 && digits.len() == 20 => index,
            _ => {
                return Err(StorageError::corrupt(
                    &path,
                    0,
                    "unrecognised segment file name",
                ))
            }
        };
        let len_bytes = dir_entry
            .metadata()
            .map_err(StorageError::io("read the metadata of", &path))?
            .len();
        segments.push(SegmentFile {
            first_index,
            path,
            salt: 0,
            len_bytes,
            alloc_bytes: len_bytes,
        });
    }
    segments.sort_by_key(|s| s.first_index);
    Ok(segments)
}

/// Makes the creation or removal of files in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StorageError::io("fsync the directory", dir))
}

/// Calls `visit(offset, record)` for each valid record of `bytes` (a whole segment whose header
/// holds `salt`) after the header, stopping at the first bad one, which is returned with its
/// offset. `visit` may stop the scan with an error.
pub(crate) fn scan(
    bytes: &[u8],
    salt: u64,
    body_bytes_max: u64,
    mut visit: impl FnMut(u64, Record) -> Result<(), StorageError>,
) -> Result<Option<(u64, BadRecord)>, StorageError> {
    let mut offset = FILE_HEADER_BYTES;
    while offset < bytes.len() {
        match record::decode(&bytes[offset..], salt, body_bytes_max) {
            Ok((record, size)) => {
                visit(offset as u64, record)?;
                offset += size;
            }
            Err(bad) => return Ok(Some((offset as u64, bad))),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_index_and_parse_back() {
        let dir = tempfile::tempdir().unwrap();
        for index in [100, 9, 1_000_000] {
            fs::write(dir.path().join(file_name(index)), b"").unwrap();
        }
        fs::write(dir.path().join("README"), b"not a segment").unwrap();
        let firsts: Vec<Index> = list(dir.path())
            .unwrap()
            .iter()
            .map(|s| s.first_index)
            .collect();
        assert_eq!(firsts, vec![9, 100, 1_000_000]);
    }

    #[test]
    fn a_malformed_segment_name_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("wal-12x.log"), b"").unwrap();
        let err = list(dir.path()).unwrap_err();
        assert!(err.to_string().contains("wal-12x.log"), "{err}");
    }
}
