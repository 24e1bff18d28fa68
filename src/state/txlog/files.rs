//! The names of a node's transaction log files, and the few file-system steps shared by opening,
//! rotating and moving aside.
//!
//! - `node-<id>.log`: the active file, the only one written;
//! - `node-<id>.log.<first index, 12 digits>`: rotated files, oldest first by name;
//! - `node-<id>.log.stale-<unix seconds>` (and `….stale-<s>.<first index>` for its rotated files):
//!   a history that did not match the node's Raft log, moved aside (`stale.rs`).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::TxLogError;
use crate::raft::{Index, NodeId};

/// `<dir>/node-<id>.log`.
pub(super) fn active_path(dir: &Path, node_id: NodeId) -> PathBuf {
    dir.join(format!("node-{node_id}.log"))
}

/// The name of a file whose first line is `first_index`, rotated away from `active`.
pub(super) fn rotated_path(active: &Path, first_index: Index) -> PathBuf {
    let mut name = active.as_os_str().to_owned();
    name.push(format!(".{first_index:012}"));
    PathBuf::from(name)
}

/// Splits a rotation suffix (`.` and 12 or more digits) off a file name: `node-1.log.000000000042`
/// gives `("node-1.log", Some(42))`, `node-1.log` gives `("node-1.log", None)`.
pub(crate) fn split_rotation(name: &str) -> (&str, Option<Index>) {
    if let Some((stem, digits)) = name.rsplit_once('.') {
        if digits.len() >= 12 && digits.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(index) = digits.parse() {
                return (stem, Some(index));
            }
        }
    }
    (name, None)
}

/// The rotated files of `active`, oldest (lowest first index) first.
pub(super) fn rotated_files(active: &Path) -> io::Result<Vec<(Index, PathBuf)>> {
    let dir = active.parent().unwrap_or(Path::new("."));
    let Some(active_name) = active.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let (stem, Some(first)) = split_rotation(name) {
            if stem == active_name {
                found.push((first, entry.path()));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Opens (creating it if need be) `path` for appending and locks it against a second writer.
pub(super) fn open_locked(path: &Path) -> Result<File, TxLogError> {
    // Append mode: every write lands at the end, wherever a scan left the file offset.
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(TxLogError::io(path))?;
    // Before any scan, which may cut the file: a second writer would interleave lines. The
    // data-dir lock does not cover this when two configs share a log_dir but not a data_dir.
    crate::storage::try_lock_exclusive(&file).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock => TxLogError::Locked {
            path: path.to_path_buf(),
        },
        _ => TxLogError::io(path)(e),
    })?;
    Ok(file)
}

/// Makes renames and creations in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), TxLogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(TxLogError::io(dir))
}

/// Renames `from` to `to`, refusing to replace an existing file (`rename` would, silently).
pub(super) fn rename_new(from: &Path, to: &Path) -> Result<(), TxLogError> {
    if to.exists() {
        let source = io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("cannot rename it to {}: that file exists", to.display()),
        );
        return Err(TxLogError::io(from)(source));
    }
    std::fs::rename(from, to).map_err(TxLogError::io(from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_suffixes_are_twelve_or_more_digits() {
        assert_eq!(
            split_rotation("node-1.log.000000000042"),
            ("node-1.log", Some(42))
        );
        assert_eq!(split_rotation("node-1.log"), ("node-1.log", None));
        assert_eq!(split_rotation("node-1.log.42"), ("node-1.log.42", None));
        assert_eq!(
            split_rotation("node-1.log.stale-1700000000.000000000007"),
            ("node-1.log.stale-1700000000", Some(7))
        );
        assert_eq!(
            split_rotation("node-1.log.stale-1700000000"),
            ("node-1.log.stale-1700000000", None)
        );
    }

    #[test]
    fn rotated_files_are_listed_oldest_first_and_only_for_their_node() {
        let dir = tempfile::tempdir().expect("temp dir");
        let active = active_path(dir.path(), 1);
        for name in [
            "node-1.log.000000000200",
            "node-1.log.000000000001",
            "node-1.log.stale-5",
            "node-11.log.000000000001",
            "node-1.state.json",
        ] {
            std::fs::write(dir.path().join(name), b"").expect("write");
        }
        let found = rotated_files(&active).expect("list");
        let indexes: Vec<Index> = found.iter().map(|(i, _)| *i).collect();
        assert_eq!(indexes, vec![1, 200]);
        assert_eq!(found[0].1, rotated_path(&active, 1));
    }
}
