//! The state-machine file: `<log_dir>/node-<id>.state.json`, the node's whole state as `GET
//! /v1/state` shows it, rewritten about once a second while it changes and once more on stop, so
//! that a person can compare nodes by eye next to their transaction logs (`diff` the files of two
//! stopped nodes). It is derived from the Raft log and never read back. It is replaced whole: a
//! temporary file is written and fsynced, renamed over it, and the directory fsynced, so that
//! after a power cut the file is an old version or the new one, never empty or half written
//! (a rename without the fsyncs may reach the disk before the data it names).
//!
//! Rendering a large state takes seconds (100k keys: 32 MB of JSON, 0.8–2.6 s), and a node that
//! spends them on its actor sends no heartbeat and reads no message meanwhile. So the actor only
//! takes a consistent copy (a clone: keys are copied, values are shared `Bytes`) and hands it to
//! a writer thread, which renders and writes while the node goes on. At most one copy is in
//! flight; the next one waits until the writer is done and the spacing below has passed.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Replicator;
use crate::raft::{Index, NodeId};
use crate::state::StateMachine;

/// How often the file is brought up to date while the state changes (at most).
pub(super) const STATE_FILE_INTERVAL: Duration = Duration::from_secs(1);
/// The copy is taken on the actor's thread, so a large state spaces the copies out: after a
/// copy that took `t`, the next waits at least `t` times this, which keeps the file's share of
/// the actor's time under 1%.
const STATE_FILE_SPACING_FACTOR: u32 = 100;

/// Node `id`'s state-machine file in `log_dir`.
pub fn state_file_path(log_dir: &Path, id: NodeId) -> PathBuf {
    log_dir.join(format!("node-{id}.state.json"))
}

impl Replicator {
    /// Hands a copy of the state to the writer thread if anything was applied since the last
    /// copy, the writer is idle and the spacing has passed. A failure to write is logged by the
    /// writer, not fatal: the file is a convenience; the Raft log is the record.
    pub(super) fn write_state_file(&mut self) {
        let applied = self.state.applied_index();
        let started = Instant::now();
        let file = &mut self.state_file;
        if file.copied == Some(applied) || file.not_before.is_some_and(|t| started < t) {
            return;
        }
        let Some(writer) = &file.writer else {
            return;
        };
        // The writer clears the flag once it has written: one copy in flight at most, and the
        // copy is only paid for when it will be taken.
        if writer
            .working
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let copy = Box::new(self.state.clone());
        let took = started.elapsed();
        match writer.tx.try_send(copy) {
            Ok(()) => file.copied = Some(applied),
            // Cannot happen (the flag admits one copy); if it did, the copy is dropped here and
            // the flag cleared, so the file does not stop being refreshed.
            Err(TrySendError::Full(_)) => {
                writer
                    .working
                    .store(false, std::sync::atomic::Ordering::Release);
            }
            Err(TrySendError::Disconnected(_)) => file.writer = None,
        }
        // Jitter, so that nodes which applied the same entries do not all copy at once.
        let jitter = STATE_FILE_INTERVAL.mul_f64(rand::random::<f64>() / 2.0);
        file.not_before = Some(started + took * STATE_FILE_SPACING_FACTOR + jitter);
    }

    /// Writes the file now, on this thread, after the writer has finished (on stop).
    pub(super) fn write_state_file_now(&mut self) {
        if let Some(writer) = self.state_file.writer.take() {
            writer.finish();
        }
        let path = state_file_path(&self.config.cluster().log_dir, self.id);
        if let Err(e) = write_replacing(&path, &self.state.to_json()) {
            log::warn!("node {}: cannot write {}: {e}", self.id, path.display());
        }
    }
}

/// What the state-machine file shows and when it may be rewritten.
#[derive(Debug, Default)]
pub(super) struct StateFile {
    /// The applied index of the last copy handed to the writer.
    copied: Option<Index>,
    /// No copy before this (see [`STATE_FILE_SPACING_FACTOR`]).
    not_before: Option<Instant>,
    writer: Option<Writer>,
}

impl StateFile {
    /// Starts the writer thread for node `id`'s file in `log_dir`.
    pub(super) fn start(log_dir: &Path, id: NodeId) -> io::Result<StateFile> {
        Ok(StateFile {
            copied: None,
            not_before: None,
            writer: Some(Writer::spawn(state_file_path(log_dir, id), id)?),
        })
    }
}

/// The writer thread and its one-slot queue.
#[derive(Debug)]
struct Writer {
    tx: SyncSender<Box<StateMachine>>,
    /// Set by the actor when it hands over a copy, cleared by the thread once that is written.
    working: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    fn spawn(path: PathBuf, id: NodeId) -> io::Result<Writer> {
        let (tx, rx) = mpsc::sync_channel::<Box<StateMachine>>(1);
        let working = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let busy = std::sync::Arc::clone(&working);
        let thread = std::thread::Builder::new()
            .name(format!("raftkv-state-file-{id}"))
            .spawn(move || {
                for state in rx {
                    if let Err(e) = write_replacing(&path, &state.to_json()) {
                        log::warn!("node {id}: cannot write {}: {e}", path.display());
                    }
                    // Dropping a large state is itself work: do it here too.
                    drop(state);
                    busy.store(false, std::sync::atomic::Ordering::Release);
                }
            })?;
        Ok(Writer {
            tx,
            working,
            thread: Some(thread),
        })
    }

    /// Lets the thread write what it holds, then joins it (dropping the sender ends its loop).
    fn finish(mut self) {
        let thread = self.thread.take();
        drop(self);
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// Writes `json` to a temporary file beside `path` and fsyncs it, renames it over `path`, then
/// fsyncs the directory. Runs on the writer thread (or at stop), never on the actor.
fn write_replacing(path: &Path, json: &serde_json::Value) -> io::Result<()> {
    use std::io::Write;
    let mut text = serde_json::to_vec_pretty(json).map_err(io::Error::other)?;
    text.push(b'\n');
    let temporary = path.with_extension("json.tmp");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(&text)?;
    file.sync_data()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}
