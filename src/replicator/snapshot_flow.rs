//! Snapshots on the actor: taking them in the background and compacting after, sending them to
//! followers the core names, receiving and installing them.
//!
//! The consistent view: the state machine's collections are persistent maps, so cloning it is
//! O(1) and shares every node; the clone is frozen at the applied index of the moment and a
//! thread of its own streams it to a file while the actor goes on applying (each change copies
//! only the path it touches).

use std::time::{Duration, Instant};

use actix::prelude::*;

use super::drive::fatal;
use super::snapshots::Held;
use super::txlog_catchup::PendingInstall;
use super::Replicator;
use crate::raft::{Index, SnapshotChunk, SnapshotSend, Term};
use crate::state::{write_snapshot_file, StateConfig};

/// A background snapshot write ended.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct SnapshotWritten {
    index: Index,
    term: Term,
    result: Result<Held, String>,
    took: Duration,
}

/// Bytes of a snapshot per message: far below the peer frame limit, large enough that a
/// transfer is not dominated by round trips.
pub(super) const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;

impl Replicator {
    /// Starts a snapshot of the applied state when enough entries were applied since the last.
    pub(super) fn maybe_snapshot(&mut self, ctx: &mut Context<Self>) {
        let applied = self.state.applied_index();
        let last = self.snapshots.newest().map_or(0, |h| h.index);
        let every = self.config.cluster().snapshot_entries;
        if self.snapshots.writing || applied < last + every {
            return;
        }
        self.snapshots.writing = true;
        let view = self.state.clone();
        let (index, term) = (view.applied_index(), view.applied_term());
        let membership = self
            .raft
            .membership_at(index)
            .expect("the log is never compacted past what is applied")
            .clone();
        let path = self.snapshots.path_for(index, term);
        let addr = ctx.address();
        let id = self.id;
        let spawned = std::thread::Builder::new()
            .name(format!("snapshot-{id}"))
            .spawn(move || {
                let started = Instant::now();
                let result = write_snapshot_file(&view, &membership, &path)
                    .map(|_| Held { index, term, path })
                    .map_err(|e| e.to_string());
                addr.do_send(SnapshotWritten {
                    index,
                    term,
                    result,
                    took: started.elapsed(),
                });
            });
        if let Err(e) = spawned {
            log::error!("node {id}: cannot start a snapshot thread: {e}");
            self.snapshots.writing = false;
        }
    }

    /// A snapshot is durable: compact the core's log behind it and the stored log behind the one
    /// before it (so a damaged newest file can still be recovered from the older one).
    fn on_snapshot_written(&mut self, done: SnapshotWritten, ctx: &mut Context<Self>) {
        self.snapshots.writing = false;
        let held = match done.result {
            Ok(held) => held,
            Err(e) => {
                // The log is intact: nothing is compacted, the next attempt comes later.
                log::error!("node {}: snapshot at {} failed: {e}", self.id, done.index);
                self.metrics.snapshot_failures.inc();
                return;
            }
        };
        log::info!(
            "node {}: snapshot at index {} term {} written in {} ms",
            self.id,
            done.index,
            done.term,
            done.took.as_millis()
        );
        self.metrics.snapshots_written.inc();
        self.metrics
            .snapshot_save_duration
            .observe(done.took.as_secs_f64());
        let trailing = self.config.cluster().snapshot_trailing_entries;
        let core_to = held.index.saturating_sub(trailing);
        // The stored log keeps everything after the fallback snapshot.
        let store_to = match self.snapshots.newest() {
            Some(prev) if prev.index < core_to => Some((prev.index, prev.term)),
            Some(_) => self.raft.log().term(core_to).map(|t| (core_to, t)),
            None => None,
        };
        self.snapshots.add(held);
        if core_to > self.raft.log().prev_index() {
            self.raft.compact(core_to);
        }
        if let Some((index, term)) = store_to {
            self.compact_store(index, term, ctx);
        }
    }

    /// Has the writer thread drop the stored log through `(index, term)`, in order with writes:
    /// a batch of its own, which later promises wait for.
    pub(super) fn compact_store(&mut self, index: Index, term: Term, ctx: &mut Context<Self>) {
        if index <= self.store_prefix {
            return;
        }
        self.store_prefix = index;
        let batch_id = self.sequencer.open_own_batch();
        if let Err(e) = self.writer().submit_compact(batch_id, index, term) {
            fatal(ctx, &format!("log writer: {e}"));
        }
    }

    /// Leader: sends the chunks the core asks for.
    pub(super) fn send_snapshot_chunks(
        &mut self,
        sends: Vec<SnapshotSend>,
        ctx: &mut Context<Self>,
    ) {
        for send in sends {
            match self
                .snapshots
                .read_chunk(send.to, send.index, send.offset, SNAPSHOT_CHUNK_BYTES)
            {
                Ok(Some(chunk)) => self.raft.send_snapshot_chunk(send.to, chunk),
                Ok(None) => log::warn!(
                    "node {}: node {} needs a snapshot and none is held yet",
                    self.id,
                    send.to
                ),
                Err(e) => {
                    log::error!("node {}: cannot read a snapshot to send: {e}", self.id);
                    self.snapshots.outgoing.remove(&send.to);
                }
            }
        }
        self.schedule_drive(ctx);
    }

    /// Follower: keeps the chunks that continue the snapshot being received, answers each, and
    /// installs the snapshot once the last chunk is in.
    pub(super) fn receive_snapshot_chunks(
        &mut self,
        chunks: Vec<SnapshotChunk>,
        ctx: &mut Context<Self>,
    ) {
        for chunk in chunks {
            if let Some(p) = &self.pending_install {
                // Already whole and waiting for its lines: say so; keep nothing else meanwhile.
                let same = (chunk.index, chunk.term) == (p.held.index, p.held.term);
                let held_bytes = if same { p.len } else { 0 };
                self.raft
                    .snapshot_received(chunk.from, chunk.index, held_bytes);
                continue;
            }
            let held_bytes =
                match self
                    .snapshots
                    .receive(chunk.index, chunk.term, chunk.offset, &chunk.data)
                {
                    Ok(n) => n,
                    Err(e) => {
                        fatal(ctx, &format!("cannot store a received snapshot: {e}"));
                        return;
                    }
                };
            let complete = chunk.done && held_bytes == chunk.offset + chunk.data.len() as u64;
            if complete {
                self.install(chunk.from, ctx);
            } else {
                self.raft
                    .snapshot_received(chunk.from, chunk.index, held_bytes);
            }
        }
        self.schedule_drive(ctx);
    }

    /// The whole snapshot is in: make it durable and check it; it is installed once the
    /// transaction-log lines it covers are fetched ([`Replicator::fetch_lines_then_install`]).
    fn install(&mut self, from: crate::raft::NodeId, ctx: &mut Context<Self>) {
        let held = match self.snapshots.finish_incoming() {
            Ok(held) => held,
            Err(e) => {
                fatal(
                    ctx,
                    &format!("cannot make a received snapshot durable: {e}"),
                );
                return;
            }
        };
        let started = Instant::now();
        let (state, meta) =
            match crate::state::read_snapshot_file(&held.path, StateConfig::default()) {
                Ok(loaded) => loaded,
                Err(e) => {
                    // Damaged in transit or on disk: drop it and ask for it again from the start.
                    log::error!("node {}: received snapshot refused: {e}", self.id);
                    let _ = std::fs::remove_file(&held.path);
                    self.raft.snapshot_received(from, held.index, 0);
                    return;
                }
            };
        if (meta.index, meta.term) != (held.index, held.term) {
            let _ = std::fs::remove_file(&held.path);
            return;
        }
        log::info!(
            "node {}: received a snapshot from node {from} at index {} term {} ({} ms to load)",
            self.id,
            held.index,
            held.term,
            started.elapsed().as_millis()
        );
        let len = std::fs::metadata(&held.path).map_or(0, |m| m.len());
        let pending = PendingInstall {
            from,
            held,
            state,
            membership: meta.membership,
            len,
        };
        self.fetch_lines_then_install(pending, ctx);
    }
}

impl Handler<SnapshotWritten> for Replicator {
    type Result = ();

    fn handle(&mut self, done: SnapshotWritten, ctx: &mut Context<Self>) {
        self.on_snapshot_written(done, ctx);
    }
}
