//! The truncate intent: a one-record file that keeps the latest hard state safe while a truncation
//! deletes the part of the log that holds its record.
//!
//! Protocol (see `FileStore::truncate_from`): write and fsync the intent, cut the log, append the
//! hard state again and fsync, then remove the intent and fsync the directory. A crash anywhere in
//! between leaves a durable intent, and recovery finishes the job from it. A torn intent means the
//! crash came before the cut began, so it is discarded. The file is a header and one record (see
//! `small_file.rs`).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::error::StorageError;
use super::record::{self, Record};
use super::segment::sync_dir;
use super::small_file::{self, Unreadable};
use crate::raft::{HardState, Index};

const FILE_NAME: &str = "truncate.intent";

/// Whether `name` is the intent's file (for the files synced at open).
pub(crate) fn is_intent_file(name: &str) -> bool {
    name == FILE_NAME
}

/// A durable promise: entries from `cut_index` on are to be deleted, and `hard_state` is the
/// latest hard state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TruncateIntent {
    pub cut_index: Index,
    pub hard_state: HardState,
}

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Writes the intent and makes it durable, file and directory entry both.
pub(crate) fn write(dir: &Path, intent: &TruncateIntent) -> Result<(), StorageError> {
    let path = path(dir);
    let buf = small_file::encode(|buf, salt| {
        record::encode_truncate_intent(buf, intent.cut_index, &intent.hard_state, salt)
    });
    let mut file =
        File::create(&path).map_err(StorageError::io("create the truncate intent", &path))?;
    file.write_all(&buf)
        .and_then(|()| file.sync_data())
        .map_err(StorageError::io("write the truncate intent", &path))?;
    sync_dir(dir)
}

/// The intent left by an interrupted truncation, if any. A torn intent is removed and ignored.
pub(crate) fn read(dir: &Path) -> Result<Option<TruncateIntent>, StorageError> {
    let path = path(dir);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("read the truncate intent", &path)(e)),
    };
    match small_file::decode(&bytes) {
        Ok(Record::TruncateIntent {
            cut_index,
            hard_state,
        }) => Ok(Some(TruncateIntent {
            cut_index,
            hard_state,
        })),
        Ok(other) => Err(StorageError::corrupt(
            &path,
            0,
            format!("holds {other:?} instead of a truncate intent"),
        )),
        Err(Unreadable::Unsupported(reason)) => {
            Err(StorageError::UnsupportedFormat { path, reason })
        }
        Err(Unreadable::Damaged(reason)) => Err(StorageError::corrupt(&path, 0, reason)),
        Err(Unreadable::Torn(reason)) => {
            log::warn!(
                "{}: discarding a torn truncate intent ({} bytes, {reason}): the truncation had \
                 not started",
                path.display(),
                bytes.len()
            );
            remove(dir)?;
            Ok(None)
        }
    }
}

/// Removes the intent durably: once this returns, recovery will not redo the truncation.
pub(crate) fn remove(dir: &Path) -> Result<(), StorageError> {
    let path = path(dir);
    fs::remove_file(&path).map_err(StorageError::io("remove the truncate intent", &path))?;
    sync_dir(dir)
}
