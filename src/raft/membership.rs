//! Cluster membership: who votes, who only listens, and how it changes (thesis ch. 4).
//!
//! raftkv changes membership one server at a time (thesis §4.1): every configuration differs
//! from the one before it by at most one voter, so any majority of the old configuration and
//! any majority of the new one overlap, and no joint configuration is needed. A configuration
//! takes effect on a node as soon as its entry is *appended* to that node's log — not when it
//! commits — and is reverted if the entry is truncated away. Two rules keep that safe:
//!
//! - a leader proposes a change only when the previous one has committed (no overlap), and
//! - only after it has committed an entry of its own term (the fix published on the raft-dev
//!   list in 2015: without it a new leader can overwrite a change another leader committed).
//!
//! Learners receive the log but never vote and never count toward a quorum; adding one is free.
//! Only voters campaign — and a node that a configuration not yet committed removed from the
//! voters: until that removal commits it may hold the only log the others can elect (thesis
//! §4.2.2); its own vote does not count.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::types::NodeId;

/// The members of one configuration. Invariant (checked by [`Membership::validate`]): both
/// lists sorted, without duplicates, disjoint, without id 0.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Membership {
    pub voters: Vec<NodeId>,
    pub learners: Vec<NodeId>,
}

impl Membership {
    /// A membership from any order of ids (sorted and deduplicated here).
    pub fn new(mut voters: Vec<NodeId>, mut learners: Vec<NodeId>) -> Self {
        voters.sort_unstable();
        voters.dedup();
        learners.sort_unstable();
        learners.dedup();
        Membership { voters, learners }
    }

    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.binary_search(&id).is_ok()
    }

    pub fn is_learner(&self, id: NodeId) -> bool {
        self.learners.binary_search(&id).is_ok()
    }

    /// True for voters and learners.
    pub fn contains(&self, id: NodeId) -> bool {
        self.is_voter(id) || self.is_learner(id)
    }

    /// Every member, voters first.
    pub fn members(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.voters.iter().chain(&self.learners).copied()
    }

    /// Votes (or acknowledgements) needed from voters for a majority.
    pub fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    /// Checks the invariant; a configuration entry breaking it is refused.
    pub fn validate(&self) -> Result<(), String> {
        let sorted_unique = |ids: &[NodeId]| ids.windows(2).all(|w| w[0] < w[1]);
        if !sorted_unique(&self.voters) || !sorted_unique(&self.learners) {
            return Err("member ids must be sorted and unique".into());
        }
        if self.members().any(|id| id == 0) {
            return Err("node id 0 is reserved".into());
        }
        if self.voters.iter().any(|&id| self.is_learner(id)) {
            return Err("a node cannot be both a voter and a learner".into());
        }
        if self.voters.len() > MAX_MEMBERS || self.learners.len() > MAX_MEMBERS {
            return Err(format!("more than {MAX_MEMBERS} voters or learners"));
        }
        Ok(())
    }

    /// How many voters are in one configuration and not the other.
    pub fn voter_changes(&self, other: &Membership) -> usize {
        let added = other.voters.iter().filter(|&&v| !self.is_voter(v)).count();
        let removed = self.voters.iter().filter(|&&v| !other.is_voter(v)).count();
        added + removed
    }
}

/// The most voters (and, separately, learners) one configuration may name.
pub const MAX_MEMBERS: usize = 64;

/// What a configuration entry carries: the complete new membership, plus `context`, opaque
/// bytes the caller attaches (raftkv's node puts every member's addresses there). The core
/// keeps the context with the configuration so the caller can read back the one in effect.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MembershipEntry {
    pub membership: Membership,
    pub context: Bytes,
}

impl MembershipEntry {
    /// Bytes of [`MembershipEntry::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        8 + 8 * (self.membership.voters.len() + self.membership.learners.len()) + self.context.len()
    }

    /// A self-delimiting binary form for log records: voter count, learner count (u32 LE each),
    /// the ids (u64 LE), then the context to the end.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let m = &self.membership;
        out.extend_from_slice(&(m.voters.len() as u32).to_le_bytes());
        out.extend_from_slice(&(m.learners.len() as u32).to_le_bytes());
        for id in m.members() {
            out.extend_from_slice(&id.to_le_bytes());
        }
        out.extend_from_slice(&self.context);
    }

    /// Reads [`MembershipEntry::encode`]'s form back; `None` if it is malformed or breaks the
    /// membership invariant.
    pub fn decode(data: &[u8]) -> Option<MembershipEntry> {
        let count = |at: usize| -> Option<usize> {
            let bytes: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
            Some(u32::from_le_bytes(bytes) as usize)
        };
        let (voters, learners) = (count(0)?, count(4)?);
        if voters > MAX_MEMBERS || learners > MAX_MEMBERS {
            return None;
        }
        let ids_end = 8 + 8 * (voters + learners);
        let ids: Vec<NodeId> = data
            .get(8..ids_end)?
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8")))
            .collect();
        let membership = Membership {
            voters: ids[..voters].to_vec(),
            learners: ids[voters..].to_vec(),
        };
        membership.validate().ok()?;
        Some(MembershipEntry {
            membership,
            context: Bytes::copy_from_slice(&data[ids_end..]),
        })
    }
}

impl std::fmt::Display for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |ids: &[NodeId]| {
            ids.iter()
                .map(|id| id.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        write!(
            f,
            "voters={} learners={}",
            list(&self.voters),
            list(&self.learners)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_refuses_damage() {
        let entry = MembershipEntry {
            membership: Membership::new(vec![3, 1, 2], vec![4]),
            context: Bytes::from_static(b"addresses"),
        };
        let mut buf = Vec::new();
        entry.encode(&mut buf);
        assert_eq!(buf.len(), entry.encoded_len());
        assert_eq!(MembershipEntry::decode(&buf), Some(entry));
        assert_eq!(MembershipEntry::decode(&buf[..20]), None, "cut ids");
        let mut dup = Vec::new();
        MembershipEntry {
            membership: Membership {
                voters: vec![1, 1],
                learners: vec![],
            },
            context: Bytes::new(),
        }
        .encode(&mut dup);
        assert_eq!(MembershipEntry::decode(&dup), None, "duplicate voter");
    }

    #[test]
    fn single_server_changes_count_voters_only() {
        let three = Membership::new(vec![1, 2, 3], vec![]);
        assert_eq!(
            three.voter_changes(&Membership::new(vec![1, 2, 3], vec![4])),
            0
        );
        assert_eq!(
            three.voter_changes(&Membership::new(vec![1, 2, 3, 4], vec![])),
            1
        );
        assert_eq!(
            three.voter_changes(&Membership::new(vec![1, 2, 4], vec![])),
            2
        );
        assert_eq!(three.quorum(), 2);
    }
}
