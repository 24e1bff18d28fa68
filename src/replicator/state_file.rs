//! The state-machine file: `<log_dir>/node-<id>.state.json`, the node's whole state as `GET
//! /v1/state` shows it, rewritten about once a second while it changes and once more on stop, so
//! that a person can compare nodes by eye next to their transaction logs (`diff` the files of two
//! stopped nodes). It is derived from the Raft log and never read back: it is replaced with a
//! rename (never half written) but not fsynced.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Replicator;
use crate::raft::NodeId;

/// How often the file is brought up to date while the state changes.
pub(super) const STATE_FILE_INTERVAL: Duration = Duration::from_secs(1);

/// Node `id`'s state-machine file in `log_dir`.
pub fn state_file_path(log_dir: &Path, id: NodeId) -> PathBuf {
    log_dir.join(format!("node-{id}.state.json"))
}

impl Replicator {
    /// Rewrites the state-machine file if anything was applied since it was last written. A
    /// failure is logged, not fatal: the file is a convenience; the Raft log is the record.
    pub(super) fn write_state_file(&mut self) {
        let applied = self.state.applied_index();
        if self.state_file_applied == Some(applied) {
            return;
        }
        let path = state_file_path(&self.config.cluster().log_dir, self.id);
        match write_replacing(&path, &self.state.to_json()) {
            Ok(()) => self.state_file_applied = Some(applied),
            Err(e) => log::warn!("node {}: cannot write {}: {e}", self.id, path.display()),
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
