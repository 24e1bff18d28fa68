//! The node's side of membership: where each member listens, and where the membership a node
//! started with is kept.
//!
//! The core knows members by id only. Each configuration entry carries, as its opaque context,
//! the addresses of every member of the new configuration ([`MemberAddrs`], MessagePack), so
//! any node that holds the entry can reach every member — including one added after the config
//! file was written. The config file's `[[peers]]` are the *initial* cluster, as etcd's
//! `--initial-cluster`: they are written once to `<data>/node-<id>/bootstrap.json` when the data
//! directory is created and never read for membership again.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::raft::{Index, Membership, MembershipEntry, NodeId};

/// Where one member listens, as a configuration entry records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAddrs {
    pub id: NodeId,
    pub raft: String,
    pub http: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub grpc: Option<String>,
    /// A learner the leader promotes to voter once it has caught up.
    #[serde(default)]
    pub promote: bool,
}

/// Encodes the addresses of a configuration's members as its entry's context.
pub fn encode_context(members: &[MemberAddrs]) -> Bytes {
    Bytes::from(rmp_serde::to_vec_named(members).expect("member addresses always encode"))
}

/// The addresses a configuration entry's context holds, by id; empty if it holds none (the
/// initial configuration of a cluster bootstrapped before addresses were recorded).
pub fn decode_context(context: &[u8]) -> BTreeMap<NodeId, MemberAddrs> {
    if context.is_empty() {
        return BTreeMap::new();
    }
    match rmp_serde::from_slice::<Vec<MemberAddrs>>(context) {
        Ok(members) => members.into_iter().map(|m| (m.id, m)).collect(),
        Err(e) => {
            log::error!("a configuration entry's member addresses do not decode: {e}");
            BTreeMap::new()
        }
    }
}

/// Every peer of the config file, as member addresses.
pub fn file_members(config: &Config) -> BTreeMap<NodeId, MemberAddrs> {
    config
        .peers()
        .iter()
        .map(|p| {
            let m = MemberAddrs {
                id: p.id,
                raft: p.raft.to_string(),
                http: p.http.to_string(),
                text: Some(p.text.to_string()),
                grpc: p.grpc.as_ref().map(ToString::to_string),
                promote: false,
            };
            (p.id, m)
        })
        .collect()
}

/// The addresses of everyone in `entry`: its context's, else the config file's (for an initial
/// configuration without addresses).
pub fn addresses(entry: &MembershipEntry, config: &Config) -> BTreeMap<NodeId, MemberAddrs> {
    let recorded = decode_context(&entry.context);
    let file = file_members(config);
    entry
        .membership
        .members()
        .filter_map(|id| recorded.get(&id).or_else(|| file.get(&id)).cloned())
        .map(|m| (m.id, m))
        .collect()
}

/// The addresses of the members in effect, shared with the doors (HTTP, text protocol) so they
/// can point a client at a leader that joined after the config file was written.
#[derive(Clone, Debug, Default)]
pub struct Directory(std::sync::Arc<std::sync::RwLock<BTreeMap<NodeId, MemberAddrs>>>);

impl Directory {
    /// Member `id`'s addresses, if it is a member.
    pub fn get(&self, id: NodeId) -> Option<MemberAddrs> {
        self.0.read().ok()?.get(&id).cloned()
    }

    /// Every member's addresses, by id.
    pub fn all(&self) -> BTreeMap<NodeId, MemberAddrs> {
        self.0.read().map(|m| m.clone()).unwrap_or_default()
    }

    pub(super) fn set(&self, members: BTreeMap<NodeId, MemberAddrs>) {
        if let Ok(mut m) = self.0.write() {
            *m = members;
        }
    }
}

/// The membership a data directory was created with, and from which index on it holds (0 for
/// a new cluster's founders; a snapshot's index for a node seeded from a backup, whose snapshot
/// records the *old* cluster's members).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bootstrap {
    pub since_index: Index,
    pub voters: Vec<NodeId>,
    pub learners: Vec<NodeId>,
    pub members: Vec<MemberAddrs>,
}

impl Bootstrap {
    /// The initial cluster of `config`'s file: every peer votes. A node started with `join`
    /// belongs to no configuration until a leader's log or snapshot brings one.
    pub fn from_config(config: &Config, join: bool, since_index: Index) -> Bootstrap {
        let members: Vec<MemberAddrs> = if join {
            Vec::new()
        } else {
            file_members(config).into_values().collect()
        };
        Bootstrap {
            since_index,
            voters: members.iter().map(|m| m.id).collect(),
            learners: Vec::new(),
            members,
        }
    }

    /// The configuration this records, as the core takes it.
    pub fn entry(&self) -> MembershipEntry {
        MembershipEntry {
            membership: Membership::new(self.voters.clone(), self.learners.clone()),
            context: encode_context(&self.members),
        }
    }

    /// The file in a node's data directory.
    pub fn path(node_dir: &Path) -> PathBuf {
        node_dir.join("bootstrap.json")
    }

    /// Reads the file; `Ok(None)` if there is none yet.
    pub fn load(node_dir: &Path) -> Result<Option<Bootstrap>, String> {
        let path = Self::path(node_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
        }
    }

    /// Writes the file durably (temporary file, fsync, rename, directory fsync).
    pub fn save(&self, node_dir: &Path) -> Result<(), String> {
        let path = Self::path(node_dir);
        let tmp = path.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            let text = serde_json::to_vec_pretty(self).expect("a bootstrap record encodes");
            file.write_all(&text)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(node_dir)?.sync_all()
        };
        write().map_err(|e| format!("{}: cannot write: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_round_trips_and_damage_reads_as_none() {
        let m = MemberAddrs {
            id: 4,
            raft: "127.0.0.1:4382".into(),
            http: "127.0.0.1:4380".into(),
            text: None,
            grpc: Some("127.0.0.1:42379".into()),
            promote: true,
        };
        let bytes = encode_context(std::slice::from_ref(&m));
        assert_eq!(decode_context(&bytes).get(&4), Some(&m));
        assert!(decode_context(b"\xc1garbage").is_empty());
        assert!(decode_context(b"").is_empty());
    }

    #[test]
    fn file_members_carry_the_grpc_address_a_peer_has() {
        let text = "[[peers]]\nid = 1\nraft = \"127.0.0.1:12382\"\nhttp = \"127.0.0.1:12380\"\n\
                    text = \"127.0.0.1:12381\"\ngrpc = \"127.0.0.1:2379\"\n\n\
                    [[peers]]\nid = 2\nraft = \"127.0.0.1:22382\"\nhttp = \"127.0.0.1:22380\"\n\
                    text = \"127.0.0.1:22381\"\n";
        let config = Config::parse(text, "x.toml").unwrap();
        let members = file_members(&config);
        assert_eq!(members[&1].grpc.as_deref(), Some("127.0.0.1:2379"));
        assert_eq!(members[&2].grpc, None);
    }
}
