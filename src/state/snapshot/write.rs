//! Writing a snapshot: one record per item straight from the state's maps, then the trailer.

use crate::raft::MembershipEntry;
use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::format::{Kind, HISTORY_BYTES_PER_RECORD, MAX_VOTERS, STACK_ITEMS_PER_RECORD};
use super::frame_write::FrameWriter;
use super::records::{
    HeaderRecord, HistoryRecord, KeyRecord, LeaseRecord, SessionRecord, StackRecord,
};
use super::{SnapshotCounts, SnapshotSummary};
use crate::state::kv::{Event, KvStore};
use crate::state::StateMachine;

/// Buffer between the records and `out`, so a snapshot is written in large writes.
const WRITE_BUFFER_BYTES: usize = 256 << 10;

/// Writes `state` and the cluster `membership` in effect at its applied index to `out` as a snapshot, streaming: one record at a
/// time, never a second copy of the state. To write while the state goes on changing, pass a clone
/// (O(1): see the module docs of [`crate::state`]) to another thread.
///
/// Fails with `InvalidInput` for more than [`super::MAX_VOTERS`] members, with `InvalidData` if one
/// record (say a cached session result listing every student) exceeds
/// [`super::MAX_RECORD_BYTES`], and with whatever `out` fails with.
pub fn write_snapshot(
    state: &StateMachine,
    membership: &MembershipEntry,
    out: impl Write,
) -> io::Result<SnapshotSummary> {
    let m = &membership.membership;
    if m.voters.len() + m.learners.len() > MAX_VOTERS {
        let message = format!("{m}: more members than a snapshot holds ({MAX_VOTERS})");
        return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
    }
    let (students, kv, stacks, sessions) = state.collections();
    let counts = SnapshotCounts {
        students: students.len() as u64,
        keys: kv.len() as u64,
        stacks: stacks.len() as u64,
        sessions: sessions.len() as u64,
        leases: kv.leases().len() as u64,
        history_records: history_chunks(kv).count() as u64,
    };
    let mut w = FrameWriter::start(BufWriter::with_capacity(WRITE_BUFFER_BYTES, out))?;
    let header = HeaderRecord {
        index: state.applied_index(),
        term: state.applied_term(),
        now_ms: state.now_ms(),
        next_stack_id: stacks.next_id(),
        voters: Cow::Borrowed(&m.voters),
        counts,
        learners: Cow::Borrowed(&m.learners),
        members: membership.context.clone(),
        revision: kv.revision(),
        compact_revision: kv.compact_revision(),
        auth: Cow::Borrowed(state.auth()),
    };
    w.record(Kind::Header, &header)?;
    for student in students.iter() {
        w.record(Kind::Student, student)?;
    }
    for (&id, lease) in kv.leases().iter() {
        w.record(Kind::Lease, &LeaseRecord { id, ttl: lease.ttl })?;
    }
    for (key, slot) in kv.iter_all() {
        let record = KeyRecord {
            key: Cow::Borrowed(key),
            value: slot.value.value.clone(),
            version: slot.value.version,
            expires_at_ms: slot.expires_at_ms,
            create_revision: slot.create_revision,
            writes: slot.writes,
            lease: slot.lease,
        };
        w.record(Kind::Key, &record)?;
    }
    let mut chunk = Vec::with_capacity(STACK_ITEMS_PER_RECORD);
    for (id, stack) in stacks.iter() {
        let items = stack.items.len() as u64;
        w.record(
            Kind::Stack,
            &StackRecord {
                id,
                label: stack.label,
                items,
            },
        )?;
        for &item in &stack.items {
            chunk.push(item);
            if chunk.len() == STACK_ITEMS_PER_RECORD {
                w.record(Kind::StackItems, &chunk)?;
                chunk.clear();
            }
        }
        if !chunk.is_empty() {
            w.record(Kind::StackItems, &chunk)?;
            chunk.clear();
        }
    }
    for (client_id, session) in sessions.iter() {
        let record = SessionRecord {
            client_id,
            last_seq: session.last_seq,
            last_index: session.last_index,
            result: Cow::Borrowed(&session.result),
        };
        w.record(Kind::Session, &record)?;
    }
    for (revision, events) in history_chunks(kv) {
        let record = HistoryRecord {
            revision,
            events: Cow::Borrowed(events),
        };
        w.record(Kind::History, &record)?;
    }
    let (bytes, crc, _) = w.finish()?;
    Ok(SnapshotSummary { bytes, counts, crc })
}

/// Writes a snapshot to `path` so that it is either complete or absent, even across a crash: to
/// `path.tmp` first, fsynced, renamed over `path`, then the directory fsynced so the rename
/// itself is durable. On failure the temporary file is removed (best effort).
pub fn write_snapshot_file(
    state: &StateMachine,
    membership: &MembershipEntry,
    path: &Path,
) -> io::Result<SnapshotSummary> {
    let tmp = tmp_path(path);
    let written = write_synced(state, membership, &tmp).and_then(|summary| {
        fs::rename(&tmp, path)?;
        sync_parent(path)?;
        Ok(summary)
    });
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Writes the snapshot to `tmp` and fsyncs it.
fn write_synced(
    state: &StateMachine,
    membership: &MembershipEntry,
    tmp: &Path,
) -> io::Result<SnapshotSummary> {
    let mut file = File::create(tmp)?;
    let summary = write_snapshot(state, membership, &mut file)?;
    file.sync_all()?;
    Ok(summary)
}

/// `path` with `.tmp` appended to its file name.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Fsyncs the directory holding `path`, which makes a rename into it durable.
fn sync_parent(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

/// The kept history cut into records: each revision's events in runs of at most
/// [`HISTORY_BYTES_PER_RECORD`] value bytes (at least one event each).
fn history_chunks(kv: &KvStore) -> impl Iterator<Item = (u64, &[Event])> + '_ {
    kv.history().flat_map(|(revision, events)| {
        let mut chunks = Vec::new();
        let (mut start, mut bytes) = (0, 0);
        for (i, event) in events.iter().enumerate() {
            let size = event.kv.value.len() + event.prev.as_ref().map_or(0, |p| p.value.len());
            if i > start && bytes + size > HISTORY_BYTES_PER_RECORD {
                chunks.push((revision, &events[start..i]));
                (start, bytes) = (i, 0);
            }
            bytes += size;
        }
        chunks.push((revision, &events[start..]));
        chunks
    })
}
