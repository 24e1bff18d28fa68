//! Membership at the node: client requests to add, remove and promote members, the leader's
//! automatic promotion of caught-up learners, and keeping the cluster layer's peers in step with
//! the configuration in effect.

use std::collections::BTreeMap;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::handlers::{await_reply, ready};
use super::members::{self, encode_context, MemberAddrs};
use super::messages::{Answer, ChangeMembership, ClientError, MemberChange};
use super::Replicator;
use crate::config::Address;
use crate::raft::{ChangeError, Membership, MembershipEntry, NodeId, ProposeError, Role};
use crate::state::ApplyResult;

/// A learner marked for promotion is promoted once it has answered and its log is within this
/// many entries of the leader's commit index: close enough that it can count toward a quorum
/// without stalling it.
const PROMOTE_LAG_ENTRIES: u64 = 256;

impl Replicator {
    /// The addresses of the configuration in effect, by id.
    pub(super) fn member_addrs(&self) -> BTreeMap<NodeId, MemberAddrs> {
        members::addresses(self.raft.membership_entry(), &self.config)
    }

    /// After each output batch: if the configuration in effect, the last committed one or the
    /// leader changed, say so and point the cluster layer at the peers they make.
    pub(super) fn follow_membership(&mut self) {
        let status = self.raft.status();
        let effective = self.raft.membership_entry();
        let committed = self
            .raft
            .membership_at(status.commit_index)
            .unwrap_or(effective);
        if effective == &self.last_membership
            && committed == &self.last_committed_membership
            && status.leader == self.last_peer_leader
        {
            return;
        }
        if effective != &self.last_membership {
            log::info!(
                "node {}: membership now {} (entry {})",
                self.id,
                effective.membership,
                self.raft.membership_index()
            );
        }
        self.last_membership = effective.clone();
        self.last_committed_membership = committed.clone();
        self.last_peer_leader = status.leader;
        self.directory.set(self.member_addrs());
        let peers = peer_socket_addrs(self.id, &self.raft, &self.config);
        if let Err(e) = self.cluster.set_peers(&peers) {
            log::error!("node {}: cannot update the cluster's peers: {e}", self.id);
        }
    }

    /// Leader, every tick: promotes a learner added without `--learner` once it has caught up.
    pub(super) fn maybe_promote_learners(&mut self, ctx: &mut Context<Self>) {
        let s = self.raft.status();
        if s.role != Role::Leader || self.raft.membership_index() > s.commit_index {
            return;
        }
        // The directory holds the decoded addresses of the configuration in effect: no decoding
        // of the entry's context on every tick.
        let ready = self.directory.all().into_values().find(|m| {
            m.promote
                && self.raft.membership().is_learner(m.id)
                && self
                    .raft
                    .match_index(m.id)
                    .is_some_and(|i| i > 0 && i + PROMOTE_LAG_ENTRIES >= s.commit_index)
        });
        if let Some(m) = ready {
            match self.propose_change(MemberChange::Promote(m.id)) {
                Ok(_) => {
                    log::info!("node {}: promoting learner {} to voter", self.id, m.id);
                    self.schedule_drive(ctx);
                }
                Err(e) => log::debug!("node {}: cannot promote {} yet: {e}", self.id, m.id),
            }
        }
    }

    /// Builds the configuration `change` leads to and proposes it. `Ok(None)`: nothing to change
    /// (the request was already carried out, as a retried request finds).
    fn propose_change(&mut self, change: MemberChange) -> Result<Option<(u64, u64)>, ClientError> {
        let current = self.raft.membership().clone();
        let mut addrs = self.member_addrs();
        let (mut voters, mut learners) = (current.voters.clone(), current.learners.clone());
        match change {
            MemberChange::Add { member, learner } => {
                if member.id == 0 {
                    return Err(ClientError::Invalid("node id 0 is reserved".into()));
                }
                if let Some(existing) = addrs.get(&member.id) {
                    let same = existing.raft == member.raft && existing.http == member.http;
                    return if same {
                        Ok(None)
                    } else {
                        Err(ClientError::Invalid(format!(
                            "node {} is already a member, at {}",
                            member.id, existing.raft
                        )))
                    };
                }
                if let Some(other) = addrs.values().find(|m| m.raft == member.raft) {
                    return Err(ClientError::Invalid(format!(
                        "node {} already uses raft address {}",
                        other.id, member.raft
                    )));
                }
                learners.push(member.id);
                addrs.insert(
                    member.id,
                    MemberAddrs {
                        promote: !learner,
                        ..member
                    },
                );
            }
            MemberChange::Remove(id) => {
                if !current.contains(id) {
                    return Err(ClientError::Invalid(format!("node {id} is not a member")));
                }
                voters.retain(|&v| v != id);
                learners.retain(|&l| l != id);
                addrs.remove(&id);
            }
            MemberChange::Promote(id) => {
                if current.is_voter(id) {
                    return Ok(None);
                }
                if !current.is_learner(id) {
                    return Err(ClientError::Invalid(format!("node {id} is not a member")));
                }
                learners.retain(|&l| l != id);
                voters.push(id);
                if let Some(m) = addrs.get_mut(&id) {
                    m.promote = false;
                }
            }
        }
        let membership = Membership::new(voters, learners);
        let context: Vec<MemberAddrs> = membership
            .members()
            .filter_map(|id| addrs.get(&id).cloned())
            .collect();
        let entry = MembershipEntry {
            membership,
            context: encode_context(&context),
        };
        match self.raft.propose_membership(entry) {
            Ok(at) => Ok(Some(at)),
            Err(ChangeError::Propose(ProposeError::NotLeader { leader })) => {
                Err(ClientError::NotLeader { leader })
            }
            Err(ChangeError::Propose(ProposeError::Transferring)) => Err(ClientError::NoLeader),
            Err(ChangeError::Propose(ProposeError::Busy)) => Err(ClientError::Busy),
            Err(e @ (ChangeError::InProgress(_) | ChangeError::NotReady)) => {
                Err(ClientError::Retry(e.to_string()))
            }
            Err(ChangeError::Invalid(why)) => Err(ClientError::Invalid(why)),
        }
    }
}

/// Where the cluster layer should reach each peer: the members of the configuration in effect
/// and of the last committed one (a node being removed keeps leading, or may have to campaign,
/// until its removal commits: thesis §4.2.2), and the leader this node follows wherever it is.
/// A node in no configuration yet (joining) hears every peer of its config file, so the leader
/// that adds it is heard. This node's own entry is the address it binds (its `listen` raft
/// address). Host names stay names: the cluster layer looks them up at each connection.
pub(super) fn peer_socket_addrs(
    id: NodeId,
    raft: &crate::raft::Raft,
    config: &crate::config::Config,
) -> BTreeMap<NodeId, Address> {
    let effective = raft.membership_entry();
    let status = raft.status();
    let committed = raft.membership_at(status.commit_index).unwrap_or(effective);
    let file = members::file_members(config);
    let mut addrs: BTreeMap<NodeId, String> = BTreeMap::new();
    if effective.membership.voters.is_empty() && committed.membership.voters.is_empty() {
        addrs.extend(file.iter().map(|(&id, m)| (id, m.raft.clone())));
    }
    let mut known = members::addresses(committed, config);
    known.extend(members::addresses(effective, config));
    addrs.extend(known.iter().map(|(&id, m)| (id, m.raft.clone())));
    if let Some(leader) = status.leader {
        if let Some(m) = known.get(&leader).or_else(|| file.get(&leader)) {
            addrs.insert(leader, m.raft.clone());
        }
    }
    addrs.remove(&id);
    let mut parsed: BTreeMap<NodeId, Address> = addrs
        .into_iter()
        .filter_map(|(peer, addr)| match Address::parse(&addr) {
            Ok(address) => Some((peer, address)),
            Err(e) => {
                log::error!("node {id}: member {peer}'s raft address {addr:?} is unusable: {e}");
                None
            }
        })
        .collect();
    if let Ok(me) = config.node(id) {
        parsed.insert(id, me.listen.raft.clone());
    }
    parsed
}

impl Handler<ChangeMembership> for Replicator {
    type Result = ResponseFuture<Result<Answer, ClientError>>;

    fn handle(&mut self, msg: ChangeMembership, ctx: &mut Context<Self>) -> Self::Result {
        self.raft_first(ctx);
        let result = self.propose_change(msg.0);
        let (index, term) = match result {
            Ok(Some(at)) => at,
            Ok(None) => {
                return ready(Ok(Answer {
                    index: self.raft.membership_index(),
                    result: ApplyResult::Noop,
                }));
            }
            Err(e) => return ready(Err(e)),
        };
        self.metrics.proposals_accepted.inc();
        let (tx, rx) = oneshot::channel();
        let deadline = std::time::Instant::now() + self.config.request_timeout();
        self.waiters.add_proposal(index, term, deadline, tx);
        self.schedule_drive(ctx);
        await_reply(rx)
    }
}
