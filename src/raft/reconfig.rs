//! Membership changes on a running core: proposing one, applying it when appended, following a
//! leader that removed itself (thesis §4.1–§4.2). The rules are in [`super::membership`].

use super::config::InjectedBug;
use super::membership::{Membership, MembershipEntry};
use super::message::Body;
use super::node::{ChangeError, ProposeError, Raft};
use super::progress::Progress;
use super::types::{Entry, Index, NodeId, Payload, Role, Term};

impl Raft {
    /// The configuration in effect: the last one appended to the log (committed or not).
    pub fn membership(&self) -> &Membership {
        &self.membership_entry().membership
    }

    /// The configuration in effect with the context its proposer attached.
    pub fn membership_entry(&self) -> &MembershipEntry {
        self.config_log
            .last()
            .map_or(&self.base_config, |(_, entry)| entry)
    }

    /// The index of the configuration entry in effect (the log's prefix index when it comes from
    /// a snapshot or is the initial one). A change is committed once the commit index reaches it.
    pub fn membership_index(&self) -> Index {
        self.config_log
            .last()
            .map_or(self.log.prev_index(), |(index, _)| *index)
    }

    /// The configuration in effect at `index` (at or after the log's prefix): what a snapshot
    /// through `index` must record.
    pub fn membership_at(&self, index: Index) -> Option<&MembershipEntry> {
        if index < self.log.prev_index() {
            return None;
        }
        Some(
            self.config_log
                .iter()
                .rev()
                .find(|(i, _)| *i <= index)
                .map_or(&self.base_config, |(_, entry)| entry),
        )
    }

    /// True if this node votes in the configuration in effect.
    pub fn is_voter(&self) -> bool {
        self.membership().is_voter(self.cfg.id)
    }

    /// True if this node may start an election: it votes in the configuration in effect, or
    /// that configuration is not committed yet (as far as this node knows) and removed it from
    /// the voters of the one before. Until the removal commits, such a node may hold the only
    /// log the remaining voters can elect, so it must still campaign (thesis §4.2.2, Figure
    /// 4.6); its own vote does not count. Learners and joining nodes never campaign.
    pub(super) fn may_campaign(&self) -> bool {
        if self.is_voter() {
            return true;
        }
        if self.membership_index() <= self.commit {
            return false;
        }
        let previous = match self.config_log.len() {
            0 => return false,
            1 => &self.base_config,
            n => &self.config_log[n - 2].1,
        };
        previous.membership.is_voter(self.cfg.id)
    }

    /// Leader: proposes `entry` as the next configuration. Takes effect on each node when
    /// appended; succeeded iff an entry with the returned index and term commits. Refused unless
    /// the previous change committed, this leader committed an entry of its own term, and the
    /// new configuration differs from the current one by at most one voter.
    pub fn propose_membership(
        &mut self,
        entry: MembershipEntry,
    ) -> Result<(Index, Term), ChangeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            }
            .into());
        }
        if self.transfer.is_some() {
            return Err(ProposeError::Transferring.into());
        }
        let overlapping = self.bug(InjectedBug::OverlappingMembershipChanges);
        let pending = self.membership_index();
        if pending > self.commit && !overlapping {
            return Err(ChangeError::InProgress(pending));
        }
        if self.log.term(self.commit) != Some(self.term)
            && !self.bug(InjectedBug::MembershipChangeBeforeTermCommit)
        {
            return Err(ChangeError::NotReady);
        }
        let new = &entry.membership;
        new.validate().map_err(ChangeError::Invalid)?;
        if new.voters.is_empty() {
            return Err(ChangeError::Invalid("no voter would remain".into()));
        }
        let changes = self.membership().voter_changes(new);
        if changes > 1 && !overlapping {
            return Err(ChangeError::Invalid(format!(
                "{changes} voters change at once; change one at a time"
            )));
        }
        Ok(self.append_own(Payload::Membership(entry)))
    }

    /// Leader: the voter (other than itself) whose log matches furthest: the best successor.
    pub fn transfer_target(&self) -> Option<NodeId> {
        if self.role != Role::Leader {
            return None;
        }
        self.voter_peers()
            .into_iter()
            .filter_map(|v| self.match_index(v).map(|m| (m, v)))
            .max()
            .map(|(_, v)| v)
    }

    /// The configuration in effect changed (appended or truncated away): a leader starts or
    /// stops replicating to the members concerned; a node that may no longer campaign stops.
    pub(super) fn on_membership_change(&mut self) {
        match self.role {
            Role::Leader => {
                let members = self.member_peers();
                self.progress.retain(|(id, _)| members.contains(id));
                // From the configuration entry itself (appended just now): a new member has to be
                // sent something to start probing, and with nothing newer to propose (an idle
                // cluster) it would otherwise wait for the next client write.
                let next = self.log.last_index().max(1);
                for id in members {
                    if !self.progress.iter().any(|(p, _)| *p == id) {
                        self.progress.push((id, Progress::new(next)));
                    }
                }
                if let Some((target, _)) = self.transfer {
                    if !self.membership().is_voter(target) {
                        self.transfer = None;
                    }
                }
                // Fewer voters may make a majority of what is already stored.
                self.maybe_commit();
            }
            Role::Candidate | Role::PreCandidate if !self.may_campaign() => {
                self.become_follower(self.term, None);
            }
            _ => {}
        }
    }

    /// Leader that is no longer a voter: it leads until the change removing it commits
    /// (thesis §4.2.2), then hands off to the most up-to-date voter with `TimeoutNow` and steps
    /// down. Called whenever the commit index moves and on every tick.
    pub(super) fn maybe_step_down_removed(&mut self) {
        if self.role != Role::Leader || self.is_voter() || self.membership_index() > self.commit {
            return;
        }
        match self.transfer_target() {
            Some(target) if self.transfer.is_none() => {
                self.transfer = Some((target, 0));
                self.maybe_send_timeout_now(target);
            }
            Some(_) => {}
            None => self.become_follower(self.term, None),
        }
    }

    /// Folds configuration entries at or before `index` into the base: the log no longer holds
    /// them.
    pub(super) fn compact_config(&mut self, index: Index) {
        let keep_from = self.config_log.partition_point(|(i, _)| *i <= index);
        if keep_from > 0 {
            self.base_config = self.config_log[keep_from - 1].1.clone();
            self.config_log.drain(..keep_from);
        }
    }

    /// Installs a snapshot's configuration as the base; entries kept after `index` still apply.
    pub(super) fn install_config(&mut self, index: Index, kept: bool, config: MembershipEntry) {
        self.base_config = config;
        if kept {
            self.config_log.retain(|(i, _)| *i > index);
        } else {
            self.config_log.clear();
        }
        self.on_membership_change();
    }

    /// Sends `TimeoutNow` to a caught-up target; a leader that no longer votes then steps down.
    pub(super) fn hand_off(&mut self, target: NodeId) {
        self.send(target, Body::TimeoutNow);
        // The target's votes override the followers' lease: none for as long as its campaign
        // (and a late copy of its vote requests) could run.
        self.lease_void_until =
            self.lease_clock + 2 * u64::from(self.cfg.election_timeout_ticks_max);
        if !self.is_voter() {
            self.become_follower(self.term, None);
        }
    }
}

/// The configuration entries among `entries`, with their indexes.
pub(super) fn membership_entries(entries: &[Entry]) -> Vec<(Index, MembershipEntry)> {
    entries
        .iter()
        .filter_map(|e| match &e.payload {
            Payload::Membership(m) => Some((e.index, m.clone())),
            _ => None,
        })
        .collect()
}
