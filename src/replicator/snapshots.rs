//! A node's snapshot files: which are held, the one being received, the ones being sent.
//!
//! Files live in `<data_dir>/node-<id>/snapshots/` as `snap-<index, 20 digits>-<term>.snap`,
//! written by [`crate::state::write_snapshot_file`] (temp file, fsync, rename, directory fsync),
//! so a name that exists names a whole file; the checksum inside still decides whether it is
//! used. At most [`KEEP_SNAPSHOTS`] are kept: the newest, and the one before it to fall back to
//! if the newest fails its checksum (the log is never compacted past the older one, so the
//! fallback always finds the entries that follow it).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::raft::{ChunkOut, Index, NodeId, Term};
use crate::state::{read_snapshot_file, SnapshotError, SnapshotMeta, StateConfig, StateMachine};

/// Snapshot files kept: the newest and one to fall back to.
pub(super) const KEEP_SNAPSHOTS: usize = 2;

/// One snapshot file held on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Held {
    pub index: Index,
    pub term: Term,
    pub path: PathBuf,
}

/// A snapshot being received from a leader.
#[derive(Debug)]
pub(super) struct Incoming {
    pub index: Index,
    pub term: Term,
    pub file: File,
    /// Invariant: the file holds exactly the snapshot's bytes `[0, next_offset)`.
    pub next_offset: u64,
}

/// A snapshot being sent to one follower: the file stays open, so deleting its name when a newer
/// snapshot is taken does not cut the transfer short.
#[derive(Debug)]
pub(super) struct Outgoing {
    pub index: Index,
    pub term: Term,
    pub file: File,
    pub len: u64,
}

/// What a node knows of its snapshot files.
#[derive(Debug)]
pub(super) struct Snapshots {
    dir: PathBuf,
    /// Invariant: ascending by index, at most [`KEEP_SNAPSHOTS`] after [`Snapshots::prune`].
    held: Vec<Held>,
    /// A background write is running; one at a time.
    pub writing: bool,
    pub incoming: Option<Incoming>,
    pub outgoing: BTreeMap<NodeId, Outgoing>,
}

impl Snapshots {
    /// Lists the snapshot files in `dir` (created if missing). Leftover temporary files of
    /// interrupted writes and receptions are removed.
    pub fn open(dir: PathBuf) -> io::Result<Self> {
        fs::create_dir_all(&dir)?;
        let mut held = Vec::new();
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".tmp") {
                fs::remove_file(&path)?;
            } else if let Some((index, term)) = parse_name(name) {
                held.push(Held { index, term, path });
            }
        }
        held.sort_by_key(|h| h.index);
        Ok(Snapshots {
            dir,
            held,
            writing: false,
            incoming: None,
            outgoing: BTreeMap::new(),
        })
    }

    /// The path a snapshot of `(index, term)` is stored at.
    pub fn path_for(&self, index: Index, term: Term) -> PathBuf {
        self.dir.join(format!("snap-{index:020}-{term}.snap"))
    }

    /// The path a snapshot being received is assembled at.
    pub fn incoming_path(&self) -> PathBuf {
        self.dir.join("incoming.snap.tmp")
    }

    /// The newest snapshot held.
    pub fn newest(&self) -> Option<&Held> {
        self.held.last()
    }

    /// The snapshot held at `index`.
    pub fn at(&self, index: Index) -> Option<&Held> {
        self.held.iter().find(|h| h.index == index)
    }

    /// Records a new snapshot file and deletes the oldest beyond [`KEEP_SNAPSHOTS`].
    pub fn add(&mut self, held: Held) {
        self.held.retain(|h| h.index != held.index);
        self.held.push(held);
        self.held.sort_by_key(|h| h.index);
        self.prune();
    }

    fn prune(&mut self) {
        while self.held.len() > KEEP_SNAPSHOTS {
            let old = self.held.remove(0);
            if let Err(e) = fs::remove_file(&old.path) {
                log::warn!("cannot remove old snapshot {}: {e}", old.path.display());
            }
        }
    }

    /// Loads the newest snapshot that passes its checksums, newest first. A damaged file is
    /// named in the log and skipped (it stays on disk for a person to look at, renamed
    /// `.damaged`); the next older one is tried.
    pub fn load_newest(
        &mut self,
        config: StateConfig,
    ) -> Result<Option<(StateMachine, SnapshotMeta)>, SnapshotError> {
        while let Some(newest) = self.held.last().cloned() {
            match read_snapshot_file(&newest.path, config) {
                Ok(loaded) => return Ok(Some(loaded)),
                Err(e) => {
                    log::error!("{e}; falling back to an older snapshot");
                    let aside = newest.path.with_extension("snap.damaged");
                    let _ = fs::rename(&newest.path, aside);
                    self.held.pop();
                }
            }
        }
        Ok(None)
    }

    /// Starts or continues receiving a chunk. Returns the number of bytes now held of the
    /// snapshot `(index, term)`: chunks that do not continue them are ignored.
    pub fn receive(
        &mut self,
        index: Index,
        term: Term,
        offset: u64,
        data: &[u8],
    ) -> io::Result<u64> {
        let same = self
            .incoming
            .as_ref()
            .is_some_and(|i| i.index == index && i.term == term);
        if !same {
            if offset != 0 {
                // Another snapshot, or ours was lost: ask for the start.
                self.incoming = None;
                return Ok(0);
            }
            let file = File::create(self.incoming_path())?;
            self.incoming = Some(Incoming {
                index,
                term,
                file,
                next_offset: 0,
            });
        }
        let incoming = self.incoming.as_mut().expect("set above");
        if offset == incoming.next_offset {
            incoming.file.write_all(data)?;
            incoming.next_offset += data.len() as u64;
        }
        Ok(incoming.next_offset)
    }

    /// Makes the received snapshot durable under its final name and returns it.
    pub fn finish_incoming(&mut self) -> io::Result<Held> {
        let incoming = self.incoming.take().expect("a snapshot is being received");
        incoming.file.sync_all()?;
        drop(incoming.file);
        let path = self.path_for(incoming.index, incoming.term);
        fs::rename(self.incoming_path(), &path)?;
        File::open(&self.dir)?.sync_all()?;
        Ok(Held {
            index: incoming.index,
            term: incoming.term,
            path,
        })
    }

    /// Reads the chunk of at most `max_bytes` at `offset` of the snapshot `to` is being sent,
    /// opening the snapshot `index` (or the newest if it is gone or `index` is 0). Returns the
    /// chunk, with the snapshot's index and term (`None`: no snapshot is held).
    pub fn read_chunk(
        &mut self,
        to: NodeId,
        index: Index,
        offset: u64,
        max_bytes: usize,
    ) -> io::Result<Option<ChunkOut>> {
        let current = self
            .outgoing
            .get(&to)
            .is_some_and(|o| o.index == index && index != 0);
        let mut offset = offset;
        if !current {
            let held = match self.at(index).or(self.newest()) {
                Some(h) => h.clone(),
                None => return Ok(None),
            };
            if held.index != index {
                offset = 0;
            }
            let file = File::open(&held.path)?;
            let len = file.metadata()?.len();
            self.outgoing.insert(
                to,
                Outgoing {
                    index: held.index,
                    term: held.term,
                    file,
                    len,
                },
            );
        }
        let out = self.outgoing.get_mut(&to).expect("inserted above");
        let offset = offset.min(out.len);
        let want = ((out.len - offset) as usize).min(max_bytes);
        let mut data = vec![0; want];
        out.file.seek(SeekFrom::Start(offset))?;
        out.file.read_exact(&mut data)?;
        Ok(Some(ChunkOut {
            index: out.index,
            term: out.term,
            offset,
            done: offset + want as u64 == out.len,
            data: data.into(),
        }))
    }
}

/// `snap-<index>-<term>.snap` → `(index, term)`.
fn parse_name(name: &str) -> Option<(Index, Term)> {
    let rest = name.strip_prefix("snap-")?.strip_suffix(".snap")?;
    let (index, term) = rest.split_once('-')?;
    Some((index.parse().ok()?, term.parse().ok()?))
}

/// `<data dir of the node>/snapshots`.
pub(super) fn dir_for(node_data_dir: &Path) -> PathBuf {
    node_data_dir.join("snapshots")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_ignored() {
        assert_eq!(
            parse_name("snap-00000000000000000042-7.snap"),
            Some((42, 7))
        );
        assert_eq!(parse_name("snap-42.snap"), None);
        assert_eq!(parse_name("incoming.snap.tmp"), None);
        assert_eq!(parse_name("snap-1-2.snap.damaged"), None);
    }

    #[test]
    fn chunks_that_do_not_continue_the_bytes_held_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Snapshots::open(dir.path().to_path_buf()).unwrap();
        assert_eq!(s.receive(10, 2, 5, b"late").unwrap(), 0, "no start yet");
        assert_eq!(s.receive(10, 2, 0, b"abc").unwrap(), 3);
        assert_eq!(s.receive(10, 2, 0, b"abc").unwrap(), 3, "a duplicate");
        assert_eq!(s.receive(10, 2, 7, b"gap").unwrap(), 3, "reordered");
        assert_eq!(s.receive(10, 2, 3, b"def").unwrap(), 6);
        assert_eq!(
            s.receive(12, 3, 6, b"other").unwrap(),
            0,
            "another leader's"
        );
        assert_eq!(s.receive(12, 3, 0, b"xy").unwrap(), 2, "its start");
        let held = s.finish_incoming().unwrap();
        assert_eq!((held.index, held.term), (12, 3));
        assert_eq!(fs::read(&held.path).unwrap(), b"xy");
    }

    #[test]
    fn a_transfer_keeps_reading_a_snapshot_deleted_under_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Snapshots::open(dir.path().to_path_buf()).unwrap();
        for (index, body) in [(5, b"first" as &[u8]), (9, b"second-file")] {
            let path = s.path_for(index, 1);
            fs::write(&path, body).unwrap();
            s.add(Held {
                index,
                term: 1,
                path,
            });
        }
        let c = s.read_chunk(2, 0, 0, 4).unwrap().unwrap();
        assert_eq!(
            (c.index, c.offset, &c.data[..], c.done),
            (9, 0, &b"seco"[..], false)
        );
        for index in [11, 12] {
            let path = s.path_for(index, 1);
            fs::write(&path, b"newer").unwrap();
            s.add(Held {
                index,
                term: 1,
                path,
            });
        }
        assert!(s.at(9).is_none(), "pruned");
        let c = s.read_chunk(2, 9, 4, 100).unwrap().unwrap();
        assert_eq!((c.index, &c.data[..], c.done), (9, &b"nd-file"[..], true));
        let c = s.read_chunk(2, 9, 99, 100).unwrap().unwrap();
        assert_eq!(
            (c.offset, c.data.len(), c.done),
            (11, 0, true),
            "past the end: an empty last chunk"
        );
        let c = s.read_chunk(3, 9, 4, 100).unwrap().unwrap();
        assert_eq!(
            (c.index, c.offset),
            (12, 0),
            "gone for a new transfer: the newest from 0"
        );
    }
}
