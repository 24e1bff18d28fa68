//! How a simulated node takes, sends, receives and installs snapshots — contract item 6 of
//! `raftkv::raft::Output` and the `log_prefix` of item 2 — and shows each step to the checker.
//!
//! Taking: once a node has applied `every_entries` past its newest snapshot, it encodes its
//! applied state and the configuration its core had in effect at that index
//! (`Raft::membership_at`), and writes them (a sync delay; a crash first loses it). Once
//! durable, the core and the disk log are compacted through it.
//!
//! Sending (leader): each `SnapshotSend` becomes one chunk of `chunk_bytes` of the named
//! snapshot, or of the newest from offset 0 if that one is gone.
//!
//! Receiving (follower): a chunk is kept if it continues the bytes held of its snapshot
//! (`SnapshotStore::receive`), and answered with the bytes held. The last chunk's bytes are
//! written durably; only then does the core install them with the configuration they carry
//! (unless the harness bug `InstallBeforeDurable` is injected) and the node's state become the
//! snapshot's.

use raftkv::raft::{ChunkOut, NodeId, SnapshotChunk, SnapshotSend};

use super::cluster::Sim;
use super::config::HarnessBug;
use super::events::Event;
use super::snapshot_store::{Origin, SnapshotFile};
use super::state::AppliedState;
use super::trace::What;
use super::violation::Violation;

impl Sim {
    /// Starts writing a snapshot of `id`'s applied state if it is due.
    pub(super) fn maybe_snapshot(&mut self, id: NodeId) -> Result<(), Violation> {
        let Some(every) = self.cfg.snapshot.every_entries else {
            return Ok(());
        };
        let node = self.node(id);
        if node.state.index >= node.storage.snapshots.newest_index() + every {
            self.take_snapshot(id)?;
        }
        Ok(())
    }

    /// Starts writing a snapshot of `id`'s applied state, unless the node is down, one is being
    /// written, or the newest one is as recent. Returns true if it started one; once it is
    /// durable the log is compacted through it. The configuration it records is checked
    /// against the committed one at its index.
    pub fn take_snapshot(&mut self, id: NodeId) -> Result<bool, Violation> {
        let node = &mut self.nodes[id as usize - 1];
        let snapshots = &node.storage.snapshots;
        let Some(raft) = node.raft.as_ref() else {
            return Ok(false);
        };
        if snapshots.writing_local() || node.state.index <= snapshots.newest_index() {
            return Ok(false);
        }
        let index = node.state.index;
        let Some(membership) = raft.membership_at(index) else {
            let why = format!("no configuration at its applied index {index}");
            return Err(Violation::Contract { node: id, why });
        };
        self.checker.check_snapshot_config(id, index, membership)?;
        let file = SnapshotFile {
            index,
            term: node.state.term,
            bytes: node.state.encode_snapshot(membership),
        };
        let seq = node.storage.snapshots.start(file, Origin::Local);
        let at_us = self.now_us + self.sync_delay_us();
        self.queue
            .push(at_us, Event::SnapshotWritten { node: id, seq });
        Ok(true)
    }

    /// Snapshot write `seq` of `id` reached the disk, unless a crash dropped it first.
    pub(super) fn on_snapshot_written(&mut self, id: NodeId, seq: u64) -> Result<(), Violation> {
        let node = &mut self.nodes[id as usize - 1];
        let Some((write, new)) = node.storage.snapshots.finish(seq) else {
            return Ok(());
        };
        let (index, term) = (write.file.index, write.file.term);
        match write.origin {
            Origin::Local => {
                self.stats.snapshots_taken += 1;
                let raft = node.raft.as_mut().expect("a crash drops pending writes");
                let before = raft.log().prev_index();
                raft.compact(index);
                self.stats.compactions += (raft.log().prev_index() > before) as u64;
                node.storage.compact(index);
                self.trace
                    .push(self.now_us, What::SnapshotTaken { node: id, index });
            }
            Origin::Received { from } => {
                if self.cfg.harness_bug != Some(HarnessBug::InstallBeforeDurable) {
                    if self.install(id, from, write.file)? {
                        self.drive(id)?;
                    } else if new {
                        self.nodes[id as usize - 1].storage.snapshots.discard(index);
                    }
                }
                self.trace.push(
                    self.now_us,
                    What::SnapshotWritten {
                        node: id,
                        index,
                        term,
                    },
                );
            }
        }
        let storage = &self.nodes[id as usize - 1].storage;
        self.checker.check_snapshot_cover(id, storage)
    }

    /// Leader `id`: sends the chunks its core asked for. Returns true if it sent any.
    pub(super) fn send_snapshot_chunks(
        &mut self,
        id: NodeId,
        sends: Vec<SnapshotSend>,
    ) -> Result<bool, Violation> {
        let chunk_bytes = self.cfg.snapshot.chunk_bytes as u64;
        let node = &mut self.nodes[id as usize - 1];
        for send in &sends {
            let snapshots = &node.storage.snapshots;
            let named = snapshots.get(send.index).filter(|_| send.index != 0);
            let (file, offset) = match named {
                Some(file) => (file, send.offset),
                None => match snapshots.newest() {
                    Some(file) => (file, 0),
                    None => {
                        let why = format!("asked to send node {} a snapshot it lacks", send.to);
                        return Err(Violation::Contract { node: id, why });
                    }
                },
            };
            let len = file.bytes.len() as u64;
            let start = offset.min(len);
            let end = (start + chunk_bytes).min(len);
            let chunk = ChunkOut {
                index: file.index,
                term: file.term,
                offset: start,
                data: file.bytes.slice(start as usize..end as usize),
                done: end == len,
            };
            let raft = node.raft.as_mut().expect("driven nodes are up");
            raft.send_snapshot_chunk(send.to, chunk);
        }
        Ok(!sends.is_empty())
    }

    /// Follower `id`: stores the chunks that continue what it holds and answers each; a
    /// completed snapshot is written. Returns true if it answered any.
    pub(super) fn receive_snapshot_chunks(
        &mut self,
        id: NodeId,
        chunks: Vec<SnapshotChunk>,
    ) -> Result<bool, Violation> {
        let answered = !chunks.is_empty();
        for c in chunks {
            let node = &mut self.nodes[id as usize - 1];
            let receipt = node
                .storage
                .snapshots
                .receive(c.index, c.term, c.offset, &c.data, c.done);
            self.stats.snapshot_transfers += receipt.started as u64;
            self.stats.snapshot_transfers_interrupted += receipt.interrupted as u64;
            let raft = node.raft.as_mut().expect("driven nodes are up");
            raft.snapshot_received(c.from, c.index, receipt.held);
            let Some(file) = receipt.complete else {
                continue;
            };
            self.stats.snapshots_received += 1;
            if self.cfg.harness_bug == Some(HarnessBug::InstallBeforeDurable)
                && !self.install(id, c.from, file.clone())?
            {
                continue;
            }
            let node = &mut self.nodes[id as usize - 1];
            let origin = Origin::Received { from: c.from };
            let seq = node.storage.snapshots.start(file, origin);
            let at_us = self.now_us + self.sync_delay_us();
            self.queue
                .push(at_us, Event::SnapshotWritten { node: id, seq });
        }
        Ok(answered)
    }

    /// Follower `id`: asks its core to install `file`, received from `from`. On yes, the node's
    /// state becomes the snapshot's. Returns the core's answer.
    fn install(&mut self, id: NodeId, from: NodeId, file: SnapshotFile) -> Result<bool, Violation> {
        let decoded = AppliedState::decode_snapshot(&file.bytes);
        let (state, membership) = decoded.map_err(|why| Violation::Contract {
            node: id,
            why: format!(
                "snapshot ({}, {}) does not decode: {why}",
                file.index, file.term
            ),
        })?;
        let node = &mut self.nodes[id as usize - 1];
        let raft = node.raft.as_mut().expect("a crash drops pending writes");
        if !raft.install_snapshot(from, file.index, file.term, membership) {
            self.stats.snapshots_refused += 1;
            return Ok(false);
        }
        self.checker.on_install(id, file.index, file.term, &state)?;
        node.state = state;
        node.applied.clear();
        self.stats.snapshots_installed += 1;
        let what = What::SnapshotInstalled {
            node: id,
            index: file.index,
            from,
        };
        self.trace.push(self.now_us, what);
        Ok(true)
    }
}
