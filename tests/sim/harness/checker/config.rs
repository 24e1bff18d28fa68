//! The membership checks (thesis ch. 4). A configuration is a log entry, so Log Matching,
//! Leader Completeness and State Machine Safety cover configurations as they cover commands;
//! what is checked here is what those invariants cannot see:
//!
//! - **Single-server changes** (thesis §4.1): when a configuration entry is first appended —
//!   by its leader — the configuration before it in that log must be committed (one change at
//!   a time) and differ from it by at most one voter (so any majority of the one overlaps any
//!   majority of the other), and its leader must already have committed an entry of its own
//!   term (the erratum Ongaro posted to raft-dev in 2015: without it, a new leader's change
//!   and an uncommitted change of a deposed leader can have disjoint majorities). Since every
//!   log is a prefix of some leader's log, every configuration entry of every log but the last
//!   is then committed.
//! - **Configuration in effect** (thesis §4.1: "a server always uses the latest configuration
//!   in its log, regardless of whether the entry is committed"): when a node starts a campaign
//!   or becomes leader, the configuration its core uses is the last one in its log — or, with
//!   none there, the committed one at its log's prefix, else the initial one.
//! - **Only voters campaign** (thesis §4.2.1 for learners, §4.2.2 for removed servers): a node
//!   whose configuration in effect does not make it a voter never becomes a pre-candidate,
//!   candidate or leader — unless that configuration is not committed yet (as far as the node
//!   knows) and the one before made it a voter: until its removal commits, such a node may
//!   hold the only log the remaining voters can elect, so it must campaign (§4.2.2, Figure
//!   4.6), without counting its own vote.
//! - **Snapshot configuration** (§7, thesis §5.1: a snapshot holds "the latest configuration as
//!   of the last included index"): a snapshot records the committed configuration at its index.
//!
//! A joining node starts with no configuration: the initial one is not in the log, so a node
//! that joined knows nothing of it until the first configuration entry. Where the committed
//! history has no configuration entry yet, a snapshot may record either the initial
//! configuration or that empty one.

use raftkv::raft::{Entry, Index, MembershipEntry, NodeId, Payload, Raft, RaftLog, Role, Status};

use super::super::violation::Violation;
use super::Checker;

impl Checker {
    /// True once a configuration entry was appended anywhere.
    pub fn configs_changed(&self) -> bool {
        self.configs_appended
    }

    /// The committed configuration in effect at `index`: the last configuration entry applied
    /// at or before it, or `None` for the initial one.
    pub fn config_at(&self, index: Index) -> Option<&MembershipEntry> {
        let after = self.configs.partition_point(|(i, _)| *i <= index);
        after.checked_sub(1).map(|at| &self.configs[at].1)
    }

    /// The configuration a node whose log is `log` must have in effect — the last one in the
    /// log, else the committed one at the log's prefix, else the initial one — with its index,
    /// and the configuration before it.
    fn expected_configs(&self, log: &RaftLog) -> (Index, MembershipEntry, MembershipEntry) {
        let at_prefix = || {
            self.config_at(log.prev_index())
                .cloned()
                .unwrap_or_else(|| self.initial.clone())
        };
        if self.configs_appended {
            if let Some((i, latest)) = last_config_before(log, log.last_index() + 1) {
                let previous = last_config_before(log, i).map(|(_, m)| m.clone());
                return (i, latest.clone(), previous.unwrap_or_else(at_prefix));
            }
        }
        (log.prev_index(), at_prefix(), at_prefix())
    }

    /// A configuration entry `e` appears for the first time anywhere, appended by `node` (its
    /// leader), whose log now holds it: checks the rules of single-server changes.
    pub(super) fn check_new_config(
        &self,
        node: NodeId,
        e: &Entry,
        new: &MembershipEntry,
        log: &RaftLog,
    ) -> Result<(), Violation> {
        if !self.check_change_rules {
            return Ok(());
        }
        let fail = |why: String| {
            Err(Violation::ChangeRule {
                node,
                index: e.index,
                term: e.term,
                why,
            })
        };
        let before = last_config_before(log, e.index);
        if let Some((j, _)) = before {
            let term = log.term(j).expect("found in the log");
            if self.committed_term(j) != Some(term) {
                return fail(format!(
                    "appended while the configuration at ({j}, {term}) is not committed"
                ));
            }
        }
        let previous = match before {
            Some((_, m)) => m.clone(),
            None => self
                .config_at(log.prev_index())
                .cloned()
                .unwrap_or_else(|| self.initial.clone()),
        };
        let changes = previous.membership.voter_changes(&new.membership);
        if changes > 1 {
            return fail(format!(
                "{changes} voters change at once: {} after {}",
                new.membership, previous.membership
            ));
        }
        // Committed terms never decrease along the log.
        if self.committed.binary_search(&e.term).is_err() {
            return fail(format!(
                "its leader has not committed an entry of term {} yet",
                e.term
            ));
        }
        Ok(())
    }

    /// Checks node `st.id` after a step in which its role or term changed: a node that now
    /// campaigns or leads uses the latest configuration in its log, which makes it a voter —
    /// or is not committed (as far as the node knows) and removed it from the voters of the one
    /// before (thesis §4.2.2: such a node may hold the only log the others can elect).
    pub fn check_campaign(&self, st: &Status, raft: &Raft) -> Result<(), Violation> {
        if !matches!(st.role, Role::PreCandidate | Role::Candidate | Role::Leader) {
            return Ok(());
        }
        let (index, latest, previous) = self.expected_configs(raft.log());
        if *raft.membership_entry() != latest {
            let why = format!(
                "as {} in term {} it uses {}, but the latest configuration in its log is {}",
                st.role,
                st.term,
                raft.membership(),
                latest.membership
            );
            return Err(Violation::ConfigInEffect { node: st.id, why });
        }
        let being_removed = index > st.commit_index && previous.membership.is_voter(st.id);
        if !latest.membership.is_voter(st.id) && !being_removed {
            return Err(Violation::NotAVoter {
                node: st.id,
                role: st.role,
                term: st.term,
                config: latest.membership.to_string(),
            });
        }
        Ok(())
    }

    /// `node` takes a snapshot through `index` that records `membership`: it must be the
    /// committed configuration there.
    pub fn check_snapshot_config(
        &self,
        node: NodeId,
        index: Index,
        membership: &MembershipEntry,
    ) -> Result<(), Violation> {
        let right = match self.config_at(index) {
            Some(committed) => membership == committed,
            // Before any change: the initial configuration, or nothing for a joining node.
            None => {
                *membership == self.initial
                    || (membership.membership.voters.is_empty()
                        && membership.membership.learners.is_empty())
            }
        };
        if right {
            return Ok(());
        }
        let committed = self.config_at(index).unwrap_or(&self.initial);
        Err(Violation::SnapshotConfig {
            node,
            index,
            why: format!(
                "it records {} but the committed configuration there is {}",
                membership.membership, committed.membership
            ),
        })
    }

    /// The entry at `e.index` was applied for the first time anywhere: remember it if it is a
    /// configuration.
    pub(super) fn on_first_apply(&mut self, e: &Entry) {
        if let Payload::Membership(m) = &e.payload {
            self.configs.push((e.index, m.clone()));
        }
    }
}

/// The last configuration entry `log` holds before `index`, with its index.
fn last_config_before(log: &RaftLog, index: Index) -> Option<(Index, &MembershipEntry)> {
    let held = log.slice(log.first_index(), index.saturating_sub(1));
    held.iter().rev().find_map(|e| match &e.payload {
        Payload::Membership(m) => Some((e.index, m)),
        _ => None,
    })
}
