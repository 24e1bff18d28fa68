//! A node's start: the newest usable snapshot, then the stored log after it.

use std::path::Path;
use std::sync::Arc;

use super::members::Bootstrap;
use super::snapshots::{self, Snapshots};
use super::NodeError;
use crate::config::Config;
use crate::raft::{HardState, Index, NodeId, Restored, Term};
use crate::state::{SnapshotMeta, StateConfig, StateMachine};
use crate::storage::{FileStore, FileStoreOptions, Loaded, LogStore, StorageError};

/// WAL segment size on a node: compaction deletes whole segments, so this bounds what a
/// compacted log keeps beyond what it needs.
const SEGMENT_BYTES: u64 = 8 << 20;

/// The WAL options of a node (and of a data directory seeded for one).
fn store_options() -> FileStoreOptions {
    FileStoreOptions {
        segment_bytes_max: SEGMENT_BYTES,
        ..FileStoreOptions::default()
    }
}

/// What a node starts from.
pub(super) struct Recovered {
    pub store: FileStore,
    pub snapshots: Snapshots,
    pub state: StateMachine,
    pub restored: Restored,
    /// The stored log's prefix: entries through it are gone from the WAL.
    pub store_prefix: Index,
}

/// Loads node `id`'s snapshot and log. The snapshot decides the applied index; the log must
/// continue it (the log is never compacted past the older of the two snapshots kept, so a
/// damaged newest snapshot still has its predecessor and the entries after it).
///
/// `join`: a node that was not in the initial cluster. It matters only when the data directory
/// is new: the node then starts in no configuration, and waits for a leader to add it.
pub(super) fn recover(
    config: &Arc<Config>,
    id: NodeId,
    join: bool,
) -> Result<Recovered, NodeError> {
    let dir = config.data_dir_for(id);
    let mut store = FileStore::open(&dir, store_options())?;
    let snap_dir = snapshots::dir_for(&dir);
    let mut snapshots = Snapshots::open(snap_dir.clone())
        .map_err(StorageError::io("open the snapshot directory", &snap_dir))?;
    let newest = snapshots
        .load_newest(StateConfig::default())
        .map_err(|e| NodeError::State(e.to_string()))?;
    let mut loaded = store.load()?;
    let snapshot_membership = newest
        .as_ref()
        .map(|(_, meta)| (meta.index, meta.membership.clone()));
    let bootstrap = bootstrap(config, &dir, join, &loaded, snapshot_membership.as_ref())?;
    let (state, applied) = match newest {
        Some((state, meta)) => {
            if loaded.prev_index > meta.index {
                return Err(NodeError::State(format!(
                    "{}: the log starts after index {} but the newest usable snapshot covers only \
                     through {}; the entries between are lost on this node. Remove {} to have it \
                     rejoin from a leader's snapshot",
                    dir.display(),
                    loaded.prev_index,
                    meta.index,
                    dir.display()
                )));
            }
            if term_at(&loaded, meta.index) != Some(meta.term) {
                // An installed snapshot whose log reset did not reach the disk: do it again.
                store.compact(meta.index, meta.term)?;
                loaded = store.load()?;
            }
            (state, meta.index)
        }
        None => {
            if loaded.prev_index > 0 {
                return Err(NodeError::State(format!(
                    "{}: the log was compacted through index {} but no usable snapshot is left \
                     in {}. Remove {} to have it rejoin from a leader's snapshot",
                    dir.display(),
                    loaded.prev_index,
                    snap_dir.display(),
                    dir.display()
                )));
            }
            let state = StateMachine::new(StateConfig::default())
                .map_err(|e| NodeError::State(e.to_string()))?;
            (state, 0)
        }
    };
    let store_prefix = loaded.prev_index;
    let restored = Restored {
        hard_state: loaded.hard_state,
        prev_index: loaded.prev_index,
        prev_term: loaded.prev_term,
        entries: loaded.entries,
        applied,
        membership: Some(match snapshot_membership {
            Some((index, membership)) if index > bootstrap.since_index => membership,
            _ => bootstrap.entry(),
        }),
    };
    Ok(Recovered {
        store,
        snapshots,
        state,
        restored,
        store_prefix,
    })
}

/// The data directory's bootstrap record, written now if it has none: the config file's peers
/// (or no one, for a new node that joins), from the start of the log or from the snapshot a
/// directory seeded by `snapshot restore` starts with.
fn bootstrap(
    config: &Config,
    dir: &Path,
    join: bool,
    loaded: &Loaded,
    snapshot: Option<&(Index, crate::raft::MembershipEntry)>,
) -> Result<Bootstrap, NodeError> {
    if let Some(b) = Bootstrap::load(dir).map_err(NodeError::State)? {
        if join {
            log::warn!(
                "{}: this node already belongs to a cluster; --join has no effect",
                dir.display()
            );
        }
        return Ok(b);
    }
    let fresh = snapshot.is_none()
        && loaded.prev_index == 0
        && loaded.entries.is_empty()
        && loaded.hard_state.term == 0;
    if join && !fresh {
        log::warn!(
            "{}: holds data from an earlier start; --join has no effect",
            dir.display()
        );
    }
    let since_index = snapshot.map_or(0, |(index, _)| *index);
    let b = Bootstrap::from_config(config, join && fresh, since_index);
    b.save(dir).map_err(NodeError::State)?;
    Ok(b)
}

/// The term of the entry at `index` in what the store loaded, if it holds it.
fn term_at(loaded: &Loaded, index: Index) -> Option<Term> {
    if index == loaded.prev_index {
        return Some(loaded.prev_term);
    }
    let offset = index.checked_sub(loaded.prev_index + 1)?;
    loaded.entries.get(offset as usize).map(|e| e.term)
}

/// Seeds the data directory of a node of a *new* cluster from a snapshot file (`raftkv snapshot
/// restore`): the snapshot becomes the node's newest, and its log starts right after it with
/// the snapshot's term as the current term. Refuses a directory that already holds data, and a
/// file that fails its checksums.
pub fn restore_snapshot(node_dir: &Path, file: &Path) -> Result<SnapshotMeta, String> {
    let occupied = std::fs::read_dir(node_dir).is_ok_and(|mut d| d.next().is_some());
    if occupied {
        return Err(format!(
            "{} already holds data; restore seeds a new node only",
            node_dir.display()
        ));
    }
    let (_, meta) = crate::state::read_snapshot_file(file, StateConfig::default())
        .map_err(|e| e.to_string())?;
    let mut store = FileStore::open(node_dir, store_options()).map_err(|e| e.to_string())?;
    let snapshots = Snapshots::open(snapshots::dir_for(node_dir)).map_err(|e| e.to_string())?;
    let target = snapshots.path_for(meta.index, meta.term);
    copy_durably(file, &target).map_err(|e| format!("cannot copy to {}: {e}", target.display()))?;
    store
        .compact(meta.index, meta.term)
        .map_err(|e| e.to_string())?;
    let hard_state = HardState {
        term: meta.term,
        vote: None,
        commit: meta.index,
    };
    store
        .write(Some(&hard_state), &[])
        .and_then(|()| store.sync())
        .map_err(|e| e.to_string())?;
    Ok(meta)
}

/// Copies `from` to `to` through a temporary file, fsynced and renamed, then fsyncs the directory.
fn copy_durably(from: &Path, to: &Path) -> std::io::Result<()> {
    let tmp = to.with_extension("snap.tmp");
    std::fs::copy(from, &tmp)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, to)?;
    let dir = to.parent().expect("a snapshot path has a directory");
    std::fs::File::open(dir)?.sync_all()
}
