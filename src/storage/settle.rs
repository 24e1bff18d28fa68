//! Before recovery reads anything: make the data directory durable as it is, and read it from the
//! disk rather than from the page cache.
//!
//! Why: a previous process may have died after an fsync failed. Linux then marks the pages it
//! could not write clean while keeping their contents in the cache, so a new process would read
//! back data that never reached the disk, believe it, and build on it (the "fsyncgate" problem).
//! So every file of the log is fsynced (writing back whatever the dead process left dirty; a
//! failure here stops the start) and then its cached pages are dropped, so that recovery reads
//! what the device holds. The directory is fsynced too, for files created or removed without it.
//!
//! Limits: dropping pages is advice (`POSIX_FADV_DONTNEED`): the kernel keeps pages that are
//! mapped, locked or dirty, and a filesystem may ignore it (tmpfs has no device behind the cache
//! anyway). A device that acknowledges a flush it has not made is not detected.

use std::fs::{self, File};
use std::os::unix::io::AsRawFd;
use std::path::Path;

use super::error::StorageError;
use super::segment::{self, sync_dir};
use super::{intent, prefix};

/// Fsyncs each file of the log in `dir` and drops its cached pages, then fsyncs `dir`.
pub(crate) fn sync_and_drop_cache(dir: &Path) -> Result<(), StorageError> {
    let listing = fs::read_dir(dir).map_err(StorageError::io("read the data directory", dir))?;
    for dir_entry in listing {
        let dir_entry = dir_entry.map_err(StorageError::io("read the data directory", dir))?;
        let name = dir_entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if !(segment::is_segment_name(name)
            || intent::is_intent_file(name)
            || prefix::is_prefix_file(name))
        {
            continue;
        }
        let path = dir_entry.path();
        let file = File::open(&path).map_err(StorageError::io("open before recovery", &path))?;
        file.sync_all()
            .map_err(StorageError::io("fsync before recovery", &path))?;
        drop_cached_pages(&file, &path);
    }
    sync_dir(dir)
}

fn drop_cached_pages(file: &File, path: &Path) {
    // SAFETY: posix_fadvise reads no memory; the descriptor is open for the whole call.
    let errno = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if errno != 0 {
        log::warn!(
            "{}: cannot drop cached pages before recovery (errno {errno}): recovery may read the \
             page cache instead of the disk",
            path.display()
        );
    }
}
