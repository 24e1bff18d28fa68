//! The state-machine file: `<log_dir>/node-<id>.state.json`, the node's whole state as `GET
//! /v1/state` shows it, rewritten about once a second while it changes and once more on stop, so
//! that a person can compare nodes by eye next to their transaction logs (`diff` the files of two
//! stopped nodes). It is derived from the Raft log and never read back: it is replaced with a
//! rename (never half written) but not fsynced.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Replicator;
use crate::raft::{Index, NodeId};

/// How often the file is brought up to date while the state changes (at most).
pub(super) const STATE_FILE_INTERVAL: Duration = Duration::from_secs(1);
/// The file is rendered on the actor's thread, so a large state spaces the writes out: after a
/// write that took `t`, the next waits at least `t` times this, which keeps the file's share of the
/// actor's time under 1% (a 50 ms render of a big state is then redone every 5 s, not every 1 s).
const STATE_FILE_SPACING_FACTOR: u32 = 100;

/// Node `id`'s state-machine file in `log_dir`.
pub fn state_file_path(log_dir: &Path, id: NodeId) -> PathBuf {
    log_dir.join(format!("node-{id}.state.json"))
}

impl Replicator {
    /// Rewrites the state-machine file if anything was applied since it was last written. A
    /// failure is logged, not fatal: the file is a convenience; the Raft log is the record.
    pub(super) fn write_state_file(&mut self) {
        let applied = self.state.applied_index();
        let started = Instant::now();
        if self.state_file.applied == Some(applied) || started < self.state_file.not_before {
            return;
        }
        let path = state_file_path(&self.config.cluster().log_dir, self.id);
        match write_replacing(&path, &self.state.to_json()) {
            Ok(()) => self.state_file.applied = Some(applied),
            Err(e) => log::warn!("node {}: cannot write {}: {e}", self.id, path.display()),
        }
        self.state_file.not_before = started + started.elapsed() * STATE_FILE_SPACING_FACTOR;
    }

    /// Like [`Replicator::write_state_file`], without waiting for the spacing (on stop).
    pub(super) fn write_state_file_now(&mut self) {
        self.state_file.not_before = Instant::now();
        self.write_state_file();
    }
}

/// What the state-machine file shows and when it may be rewritten.
#[derive(Debug)]
pub(super) struct StateFile {
    /// The applied index the file shows, once written.
    applied: Option<Index>,
    /// No rewrite before this (see [`STATE_FILE_SPACING_FACTOR`]).
    not_before: Instant,
}

impl Default for StateFile {
    fn default() -> Self {
        StateFile {
            applied: None,
            not_before: Instant::now(),
        }
    }
}

/// Writes `json` to a temporary file beside `path`, then renames it over `path`.
fn write_replacing(path: &Path, json: &serde_json::Value) -> io::Result<()> {
    let mut text = serde_json::to_vec_pretty(json).map_err(io::Error::other)?;
    text.push(b'\n');
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}
