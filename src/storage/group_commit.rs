//! Group commit: one writer thread owns the store and makes many queued batches durable with one
//! fsync, so the disk's sync latency is paid per group rather than per batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::error::StorageError;
use super::store::LogStore;
use crate::raft::{Entry, HardState, Index, Term};

/// A batch has been written and synced, or a compaction is done (and durable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Durable {
    /// The id given to [`GroupCommit::submit`] or [`GroupCommit::submit_compact`].
    pub batch_id: u64,
    /// The batch's last entry, to pass to the core; `None` when it held only a hard state, and
    /// for a compaction.
    pub last: Option<(Index, Term)>,
}

/// What the writer reports: each batch durable, in submission order, or the error that stopped it.
/// After an `Err` nothing more is reported and the writer has stopped.
pub type Report = Result<Durable, StorageError>;

/// Limits of a [`GroupCommit`] writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupCommitOptions {
    /// Batches that may wait for the writer; `submit` blocks beyond this (back-pressure).
    pub queue_batches_max: usize,
    /// Batches written under one fsync at most.
    pub group_batches_max: usize,
    /// A group stops growing once its entries reach this many bytes (by [`Entry::size_bytes`]),
    /// bounding the write that delays the group's first batch. One batch may exceed it alone.
    pub group_bytes_max: u64,
}

impl Default for GroupCommitOptions {
    fn default() -> Self {
        GroupCommitOptions {
            queue_batches_max: 4096,
            group_batches_max: 4096,
            group_bytes_max: 8 << 20,
        }
    }
}

/// One unit of the writer's queue, reported durable under its id.
struct Batch {
    batch_id: u64,
    op: Op,
    /// Entry bytes, for [`GroupCommitOptions::group_bytes_max`].
    size_bytes: u64,
}

enum Op {
    Write {
        hard_state: Option<HardState>,
        entries: Vec<Entry>,
    },
    Compact {
        index: Index,
        term: Term,
    },
}

/// The handle on a writer thread that owns a [`LogStore`].
///
/// The writer takes one batch, drains every batch already queued (up to the group limits),
/// writes them all, syncs once, then reports each durable. Batches submitted meanwhile wait for
/// the next round. A compaction is queued like a batch and runs in its place in that order (it
/// syncs the writes before it itself). Closing or dropping the handle lets the writer flush what
/// is queued and stop.
pub struct GroupCommit<S: LogStore + Send + 'static> {
    sender: Option<SyncSender<Batch>>,
    thread: Option<JoinHandle<S>>,
    sync_count: Arc<AtomicU64>,
}

impl<S: LogStore + Send + 'static> GroupCommit<S> {
    /// Starts the writer; `on_report` runs on the writer thread for every [`Report`].
    pub fn spawn(
        store: S,
        options: GroupCommitOptions,
        on_report: impl FnMut(Report) + Send + 'static,
    ) -> Result<Self, StorageError> {
        Self::spawn_timed(store, options, |_| {}, on_report)
    }

    /// Like [`GroupCommit::spawn`]; `on_sync` runs on the writer thread with the time each
    /// successful [`LogStore::sync`] took (the node's fsync latency histogram).
    pub fn spawn_timed(
        store: S,
        options: GroupCommitOptions,
        on_sync: impl FnMut(Duration) + Send + 'static,
        on_report: impl FnMut(Report) + Send + 'static,
    ) -> Result<Self, StorageError> {
        if options.queue_batches_max == 0
            || options.group_batches_max == 0
            || options.group_bytes_max == 0
        {
            return Err(StorageError::InvalidOptions(format!("{options:?}")));
        }
        let (sender, receiver) = mpsc::sync_channel(options.queue_batches_max);
        let sync_count = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            store,
            receiver,
            group_batches_max: options.group_batches_max,
            group_bytes_max: options.group_bytes_max,
            sync_count: Arc::clone(&sync_count),
            on_sync: Box::new(on_sync),
        };
        let thread = std::thread::Builder::new()
            .name("raftkv-log-writer".into())
            .spawn(move || writer.run(on_report))
            .map_err(StorageError::Spawn)?;
        Ok(GroupCommit {
            sender: Some(sender),
            thread: Some(thread),
            sync_count,
        })
    }

    /// Starts the writer with reports delivered on a channel an async task can await. The channel
    /// closes when the writer stops.
    pub fn spawn_with_channel(
        store: S,
        options: GroupCommitOptions,
    ) -> Result<(Self, tokio::sync::mpsc::UnboundedReceiver<Report>), StorageError> {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let writer = Self::spawn(store, options, move |report| {
            // The receiver is gone only when the node is shutting down: nobody needs the report.
            let _ = sender.send(report);
        })?;
        Ok((writer, receiver))
    }

    /// Queues a batch (a hard state and/or entries, as [`LogStore::write`] takes them). Blocks
    /// while the queue is full. Fails once the writer has stopped.
    pub fn submit(
        &self,
        batch_id: u64,
        hard_state: Option<HardState>,
        entries: Vec<Entry>,
    ) -> Result<(), StorageError> {
        let size_bytes = entries.iter().map(|e| e.size_bytes() as u64).sum();
        self.send(Batch {
            batch_id,
            op: Op::Write {
                hard_state,
                entries,
            },
            size_bytes,
        })
    }

    /// Queues a compaction ([`LogStore::compact`]) through `index`, whose entry has `term`. It
    /// runs after every batch submitted before it and before every one submitted after, and is
    /// reported as `Durable { batch_id, last: None }` in that order, once done and durable. The
    /// caller must have made the snapshot covering `index` durable first.
    pub fn submit_compact(
        &self,
        batch_id: u64,
        index: Index,
        term: Term,
    ) -> Result<(), StorageError> {
        self.send(Batch {
            batch_id,
            op: Op::Compact { index, term },
            size_bytes: 0,
        })
    }

    /// Blocks while the queue is full. Fails once the writer has stopped.
    fn send(&self, batch: Batch) -> Result<(), StorageError> {
        let sender = self.sender.as_ref().ok_or(StorageError::WriterStopped)?;
        sender.send(batch).map_err(|_| StorageError::WriterStopped)
    }

    /// How many syncs the writer has completed (a compaction counts as one: it syncs first).
    pub fn sync_count(&self) -> u64 {
        self.sync_count.load(Ordering::Acquire)
    }

    /// Flushes every queued batch, stops the writer and hands the store back. Re-raises the
    /// writer's panic, if it had one (a bug such as a non-contiguous batch).
    pub fn close(mut self) -> S {
        self.sender = None;
        let thread = self
            .thread
            .take()
            .expect("the writer is joined only here or in drop");
        match thread.join() {
            Ok(store) => store,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl<S: LogStore + Send + 'static> Drop for GroupCommit<S> {
    fn drop(&mut self) {
        self.sender = None;
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() && !std::thread::panicking() {
                log::error!("the log writer thread panicked");
            }
        }
    }
}

/// The writer thread's state.
struct Writer<S> {
    store: S,
    receiver: Receiver<Batch>,
    group_batches_max: usize,
    group_bytes_max: u64,
    sync_count: Arc<AtomicU64>,
    on_sync: Box<dyn FnMut(Duration) + Send>,
}

impl<S: LogStore> Writer<S> {
    fn run(mut self, mut on_report: impl FnMut(Report)) -> S {
        let mut group = Vec::with_capacity(self.group_batches_max);
        // `recv` fails only once every sender is gone and the queue is empty: all is flushed.
        while let Ok(first) = self.receiver.recv() {
            let mut group_bytes = first.size_bytes;
            group.push(first);
            while group.len() < self.group_batches_max && group_bytes < self.group_bytes_max {
                match self.receiver.try_recv() {
                    Ok(batch) => {
                        group_bytes += batch.size_bytes;
                        group.push(batch);
                    }
                    Err(_) => break,
                }
            }
            if let Err(e) = self.write_group(&group) {
                log::error!("the log writer stops: {e}");
                on_report(Err(e));
                break;
            }
            for batch in group.drain(..) {
                let last = match &batch.op {
                    Op::Write { entries, .. } => entries.last().map(|e| (e.index, e.term)),
                    Op::Compact { .. } => None,
                };
                on_report(Ok(Durable {
                    batch_id: batch.batch_id,
                    last,
                }));
            }
        }
        self.store
    }

    fn write_group(&mut self, group: &[Batch]) -> Result<(), StorageError> {
        // Whether writes follow the last sync (a compaction syncs what precedes it).
        let mut unsynced = false;
        for batch in group {
            match &batch.op {
                Op::Write {
                    hard_state,
                    entries,
                } => {
                    self.store.write(hard_state.as_ref(), entries)?;
                    unsynced = true;
                }
                Op::Compact { index, term } => {
                    self.store.compact(*index, *term)?;
                    self.sync_count.fetch_add(1, Ordering::Release);
                    unsynced = false;
                }
            }
        }
        if unsynced {
            let started = Instant::now();
            self.store.sync()?;
            (self.on_sync)(started.elapsed());
            self.sync_count.fetch_add(1, Ordering::Release);
        }
        Ok(())
    }
}
