//! The data directory's lock: at most one [`FileStore`](super::FileStore) per directory, across
//! processes and within one, so two writers can never interleave appends to one log.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::error::StorageError;

const FILE_NAME: &str = "LOCK";

/// An exclusive `flock` on `<dir>/LOCK`, held while this value lives. The file holds the holder's
/// pid, for the error a second opener gets.
///
/// `flock` locks belong to the open file description, so a second open in the same process is
/// refused like one from another process; the kernel drops the lock when the descriptor is closed,
/// on drop or when the process dies (a SIGKILLed node restarts without any cleanup). Rust opens
/// files close-on-exec, so a child process does not inherit it.
#[derive(Debug)]
pub(crate) struct DirLock {
    file: File,
    path: PathBuf,
}

impl DirLock {
    /// Takes the lock of `dir` (which must exist) without waiting. Fails with
    /// [`StorageError::Locked`] if another store holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock, StorageError> {
        let path = dir.join(FILE_NAME);
        // No truncation here: until the lock is ours, the file holds the current holder's pid.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(StorageError::io("open the lock file", &path))?;
        if let Err(error) = try_lock_exclusive(&file) {
            if error.kind() != io::ErrorKind::WouldBlock {
                return Err(StorageError::io("lock", &path)(error));
            }
            return Err(StorageError::Locked {
                dir: dir.to_path_buf(),
                holder_pid: read_pid(&mut file),
            });
        }
        // The pid is for people only (the lock is the flock, not the content), so no fsync.
        let pid = std::process::id();
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{pid}"))
            .map_err(StorageError::io("write the pid into", &path))?;
        Ok(DirLock { file, path })
    }
}

impl Drop for DirLock {
    /// Empties the file while the lock is still ours, so a clean stop leaves no stale pid; the file
    /// itself stays: unlinking a lock file lets a later opener lock a different inode than a
    /// concurrent one.
    fn drop(&mut self) {
        if let Err(e) = self.file.set_len(0) {
            log::warn!("{}: cannot clear the pid: {e}", self.path.display());
        }
    }
}

/// The pid the holder wrote, if it has written one yet (it locks before it writes).
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// An exclusive `flock` on `file` without waiting (`WouldBlock` if another open file description
/// holds it), held until the descriptor is closed: on drop, or by the kernel when the process
/// dies, so a killed node restarts without cleanup.
pub(crate) fn try_lock_exclusive(file: &File) -> io::Result<()> {
    // SAFETY: flock takes a descriptor `file` owns for the whole call; it touches no memory.
    match unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}
