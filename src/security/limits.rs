//! The bound on open client connections per listener, and the file-descriptor budget it must fit.
//!
//! Every door counts its open connections against a [`ConnectionLimit`]; past it a new connection
//! is closed at once (after a one-line error where the protocol has one), so that a flood of
//! connections costs the node neither memory nor the file descriptors its log needs.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// File descriptors kept for everything that is not a client connection: log segments,
/// snapshots, peer sockets, listeners.
pub const RESERVED_FDS: u64 = 512;

/// Open connections one listener allows.
#[derive(Clone, Debug)]
pub struct ConnectionLimit {
    slots: Arc<Semaphore>,
    limit: usize,
}

impl ConnectionLimit {
    /// A bound of `limit` open connections.
    pub fn new(limit: usize) -> Self {
        ConnectionLimit {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// A place for one more connection, released when dropped; `None` when all are taken.
    pub fn try_open(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.slots).try_acquire_owned().ok()
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// Raises the process's soft limit on open files to its hard limit (as Go's runtime does for
/// etcd) and returns the soft limit now in force.
pub fn raise_open_files_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
        limit.rlim_cur
    }
}

/// The connections each of `listeners` may hold: `configured`, lowered if the listeners together
/// would use more file descriptors than `open_files` leaves after [`RESERVED_FDS`].
pub fn per_listener(configured: usize, listeners: usize, open_files: u64) -> usize {
    let budget = open_files.saturating_sub(RESERVED_FDS) / listeners.max(1) as u64;
    configured.min(budget.max(1) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listeners_share_what_the_descriptor_limit_leaves() {
        assert_eq!(per_listener(1024, 3, 20_000), 1024);
        assert_eq!(per_listener(1024, 3, 1024), 170);
        assert_eq!(per_listener(1024, 3, 100), 1);
        let limit = ConnectionLimit::new(2);
        let (a, b) = (limit.try_open(), limit.try_open());
        assert!(a.is_some() && b.is_some() && limit.try_open().is_none());
        drop(a);
        assert!(limit.try_open().is_some());
    }
}
