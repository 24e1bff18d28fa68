//! Committed means durable on a majority (§5.4: an entry is committed once *stored* on a
//! majority, and only synced writes are stored). Checked against what each disk really synced
//! — entries with their terms, or a durable snapshot covering them — when the cluster's commit
//! index grows and again after every crash, so a disk that lied about a sync is caught even
//! when nothing else notices in time.

use raftkv::raft::{Index, NodeId, Term};

use super::cluster::Sim;
use super::violation::Violation;

impl Sim {
    /// Checks the entries committed since the last call.
    pub(super) fn check_new_commits_durable(&mut self) -> Result<(), Violation> {
        let commit = self.checker.commit_index();
        let from = self.durable_checked + 1;
        self.durable_checked = commit;
        self.check_durable(from, commit)
    }

    /// Checks every committed entry: after a crash, the unsynced writes it lost must not have
    /// held any of them on the majority.
    pub(super) fn check_all_commits_durable(&mut self) -> Result<(), Violation> {
        self.check_durable(1, self.checker.commit_index())
    }

    fn check_durable(&self, from: Index, to: Index) -> Result<(), Violation> {
        // With changing membership the majority is of the configuration that committed each
        // entry; the fixed runs cover the rule.
        // Off with the other durability checks in negative controls that look for consequences.
        if self.cfg.changes_membership() || !self.cfg.check_promises {
            return Ok(());
        }
        let majority = self.cfg.nodes / 2 + 1;
        for index in from..=to {
            let Some(term) = self.checker.committed_term(index) else {
                continue;
            };
            let holders = self.durable_holders(index, term);
            if holders.len() < majority {
                return Err(Violation::NotDurable {
                    index,
                    term,
                    holders,
                });
            }
        }
        Ok(())
    }

    /// The nodes whose disk holds `(index, term)`: in the log, or under a durable snapshot
    /// (which only ever holds committed entries).
    fn durable_holders(&self, index: Index, term: Term) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|n| {
                let durable = &n.storage.durable;
                durable.term(index) == Some(term)
                    || index < durable.prev_index
                    || n.storage.snapshots.newest_index() >= index
            })
            .map(|n| n.id)
            .collect()
    }
}
