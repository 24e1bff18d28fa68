//! The compacted prefix: `log.prefix` says after which entry `(prev_index, prev_term)` the log
//! starts, once a snapshot covers everything up to it.
//!
//! The file is replaced whole: the new one is written to `log.prefix.tmp`, fsynced, renamed over
//! `log.prefix`, and the directory fsynced. A crash leaves the old file or the new one, never a
//! mix; a leftover temporary file is an interrupted replacement and is removed at open. Unlike
//! the truncate intent, a damaged `log.prefix` is never discarded: it was durable.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use super::error::StorageError;
use super::record::{self, Record};
use super::segment::sync_dir;
use super::small_file::{self, Unreadable};
use crate::raft::{Index, Term};

const FILE_NAME: &str = "log.prefix";
const TEMP_NAME: &str = "log.prefix.tmp";

/// Whether `name` is a file of the prefix (for the files synced at open).
pub(crate) fn is_prefix_file(name: &str) -> bool {
    name == FILE_NAME || name == TEMP_NAME
}

/// The prefix recorded in `dir`, if compaction ever recorded one.
pub(crate) fn read(dir: &Path) -> Result<Option<(Index, Term)>, StorageError> {
    let path = dir.join(FILE_NAME);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("read the log prefix", &path)(e)),
    };
    match small_file::decode(&bytes) {
        Ok(Record::Prefix {
            prev_index,
            prev_term,
        }) => Ok(Some((prev_index, prev_term))),
        Ok(other) => Err(StorageError::corrupt(
            &path,
            0,
            format!("holds {other:?} instead of a prefix"),
        )),
        Err(Unreadable::Unsupported(reason)) => {
            Err(StorageError::UnsupportedFormat { path, reason })
        }
        Err(Unreadable::Torn(reason) | Unreadable::Damaged(reason)) => {
            Err(StorageError::corrupt(&path, 0, reason))
        }
    }
}

/// Records `(prev_index, prev_term)` as the prefix, durably: once this returns, recovery starts
/// the log after it.
pub(crate) fn write(dir: &Path, prev_index: Index, prev_term: Term) -> Result<(), StorageError> {
    let temp = dir.join(TEMP_NAME);
    let bytes =
        small_file::encode(|buf, salt| record::encode_prefix(buf, prev_index, prev_term, salt));
    let mut file = File::create(&temp).map_err(StorageError::io("create", &temp))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_data())
        .map_err(StorageError::io("write", &temp))?;
    let path = dir.join(FILE_NAME);
    fs::rename(&temp, &path).map_err(StorageError::io("rename into place", &path))?;
    sync_dir(dir)
}

/// Removes what an interrupted [`write`] left (durably). Returns whether there was anything.
pub(crate) fn remove_leftover(dir: &Path) -> Result<bool, StorageError> {
    let temp = dir.join(TEMP_NAME);
    match fs::remove_file(&temp) {
        Ok(()) => {
            log::warn!(
                "{}: removed a prefix that a crash left unfinished (the compaction had not \
                 taken effect)",
                temp.display()
            );
            sync_dir(dir)?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StorageError::io("remove", &temp)(e)),
    }
}
