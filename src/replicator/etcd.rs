//! The replicator's part in the etcd v3 API: lease time kept by the leader, automatic compaction,
//! and what the gRPC layer reads from the node (the applied revision as it moves, a frozen view of
//! the state for watches, the current term for response headers).
//!
//! **Leases.** The state machine holds which leases exist and their keys; when one expires is the
//! leader's business, as in etcd. The leader keeps a deadline per lease in memory: a grant or a
//! keep-alive sets it to now + TTL, and a node that becomes leader gives every lease its full TTL
//! plus the longest election timeout, so that no lease expires because leadership changed hands.
//! An expired lease is revoked through the log (`EtcdCommand::LeaseRevoke`), so its keys are
//! deleted at one revision on every replica. Keep-alives are not logged: a follower forwards them
//! to the leader.
//!
//! **Compaction.** With `auto_compaction_retention = N` (revisions), the leader proposes a
//! compaction to `revision - N` whenever the kept history grows a tenth past N; compaction is a log
//! entry too, so every replica keeps the same history.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::expiry::wall_clock_ms;
use super::{ClientError, Replicator};
use crate::raft::{Index, Role, Term};
use crate::state::mvcc::EtcdCommand;
use crate::state::{self, Command, Request, StateMachine};

/// What the gRPC layer watches and reads without asking the actor: the applied revision (changes
/// wake watchers) and the current term (for response headers).
#[derive(Clone)]
pub struct EtcdFeed {
    /// The key-value store's revision, as applied on this node.
    pub revision: tokio::sync::watch::Receiver<u64>,
    /// The node's current Raft term.
    pub term: Arc<AtomicU64>,
    /// Users, roles and permissions as applied here (changes republish it).
    pub auth: tokio::sync::watch::Receiver<Arc<crate::state::auth::AuthStore>>,
}

impl EtcdFeed {
    /// The current term.
    pub fn term(&self) -> u64 {
        self.term.load(Ordering::Relaxed)
    }
}

/// The sending half of [`EtcdFeed`], kept by the replicator.
pub(super) struct EtcdPublisher {
    revision: tokio::sync::watch::Sender<u64>,
    term: Arc<AtomicU64>,
    auth: tokio::sync::watch::Sender<Arc<crate::state::auth::AuthStore>>,
}

impl EtcdPublisher {
    pub(super) fn new(state: &StateMachine, term: Term) -> Self {
        EtcdPublisher {
            revision: tokio::sync::watch::Sender::new(state.revision()),
            term: Arc::new(AtomicU64::new(term)),
            auth: tokio::sync::watch::Sender::new(Arc::new(state.auth().clone())),
        }
    }

    pub(super) fn feed(&self) -> EtcdFeed {
        EtcdFeed {
            revision: self.revision.subscribe(),
            term: Arc::clone(&self.term),
            auth: self.auth.subscribe(),
        }
    }
}

/// The leader's lease deadlines.
#[derive(Default)]
pub(super) struct LeaseClock {
    /// The term this node leads in, if it does; the deadlines belong to it.
    term: Option<Term>,
    deadlines: HashMap<i64, Instant>,
    /// Leases whose revoke was proposed, with the entry's index.
    revoking: HashMap<i64, Index>,
    /// The index of this leader's last compaction proposal, until it is applied.
    compacting: Option<Index>,
    /// Lease grants this leader proposed whose entries are not applied yet, by index: they
    /// count against `max_leases` with the leases the state holds.
    pub(super) granting: BTreeSet<Index>,
}

/// How long a lease still has, as [`LeaseTimeToLive`] answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseTtl {
    /// The TTL granted, in seconds.
    pub granted_ttl: i64,
    /// Seconds left, rounded up.
    pub ttl: i64,
    /// The keys attached.
    pub keys: Vec<String>,
}

/// Renews a lease on the leader; answers its TTL, or `None` if there is no such lease.
pub struct LeaseKeepAlive(pub i64);

impl Message for LeaseKeepAlive {
    type Result = Result<Option<i64>, ClientError>;
}

/// Asks the leader how long a lease has left; `None` if there is no such lease.
pub struct LeaseTimeToLive(pub i64);

impl Message for LeaseTimeToLive {
    type Result = Result<Option<LeaseTtl>, ClientError>;
}

/// Asks for a frozen view of the applied state (an O(1) clone), for a watch to read history from.
pub struct StateView;

impl Message for StateView {
    type Result = StateMachine;
}

impl Replicator {
    /// The feed of applied revisions and terms, for the gRPC layer.
    pub fn etcd_feed(&self) -> EtcdFeed {
        self.etcd.feed()
    }

    /// After entries were applied or a snapshot installed: wakes watchers if the revision moved,
    /// and republishes the auth store if it changed.
    pub(super) fn publish_revision(&self) {
        let auth = self.state.auth();
        // Every change raises the auth revision, and equal logs give equal stores.
        if self.etcd.auth.borrow().revision() != auth.revision() {
            self.etcd.auth.send_replace(Arc::new(auth.clone()));
        }
        let revision = self.state.revision();
        self.etcd.revision.send_if_modified(|r| {
            let moved = *r != revision;
            *r = revision;
            moved
        });
    }

    /// After the role or term changed.
    pub(super) fn publish_term(&self, term: Term) {
        self.etcd.term.store(term, Ordering::Relaxed);
    }

    /// The extension a new leader gives every lease: the longest election timeout.
    fn lease_extension(&self) -> Duration {
        Duration::from_millis(self.config.cluster().election_timeout_max_ms)
    }

    /// Starts the lease clock of leadership in `term` if it is not running yet: every lease held
    /// gets its full TTL plus the extension. Whichever comes first after an election (the timer,
    /// a keep-alive, a time-to-live) starts it, so no lease misses the extension.
    fn start_lease_clock(&mut self, term: Term, now: Instant) {
        if self.leases.term == Some(term) {
            return;
        }
        let extension = self.lease_extension();
        self.leases = LeaseClock {
            term: Some(term),
            deadlines: self
                .state
                .leases()
                .map(|(id, ttl)| (id, now + ttl_duration(ttl) + extension))
                .collect(),
            ..LeaseClock::default()
        };
    }

    /// The leader's lease and compaction duties, run on a timer: keeps a deadline per lease,
    /// proposes the revoke of each expired one and an automatic compaction when one is due.
    pub(super) fn etcd_duties(&mut self, ctx: &mut Context<Self>) {
        let status = self.raft.status();
        if status.role != Role::Leader {
            self.leases = LeaseClock::default();
            return;
        }
        let now = Instant::now();
        self.start_lease_clock(status.term, now);
        let applied = self.state.applied_index();
        let clock = &mut self.leases;
        let mut live = 0;
        // Leases granted since: their full TTL from now.
        for (id, ttl) in self.state.leases() {
            live += 1;
            clock
                .deadlines
                .entry(id)
                .or_insert_with(|| now + ttl_duration(ttl));
        }
        if clock.deadlines.len() > live {
            let state = &self.state;
            let held: std::collections::HashSet<i64> = state.leases().map(|(id, _)| id).collect();
            clock.deadlines.retain(|id, _| held.contains(id));
        }
        // A revoke whose entry was applied is done (or lost to a leader change: then the lease
        // is still held and expired, and is proposed again).
        clock.revoking.retain(|_, index| *index > applied);
        let expired: Vec<i64> = clock
            .deadlines
            .iter()
            .filter(|(id, at)| **at <= now && !clock.revoking.contains_key(id))
            .map(|(id, _)| *id)
            .collect();
        let mut proposed = false;
        for id in expired {
            if let Some(index) = self.propose_internal(EtcdCommand::LeaseRevoke { id }) {
                log::info!("node {}: lease {id:x} expired; revoking it", self.id);
                self.leases.revoking.insert(id, index);
                proposed = true;
            }
        }
        proposed |= self.maybe_compact();
        if proposed {
            self.schedule_drive(ctx);
        }
    }

    /// Refuses a lease grant that would take the cluster past `max_leases`; true if `command`
    /// is a grant let through (the caller records its index in `granting`).
    ///
    /// Only the leader checks, before proposing, and never the state machine: `max_leases` is
    /// a node's setting, and a check in apply would let replicas with different files diverge.
    /// On one leader the bound is exact: it counts the leases held and the grants it proposed
    /// that are not applied yet. After a leader change, grants the old leader left in the log
    /// and this one has not applied yet are not counted, so the total can overshoot by those:
    /// at most the old leader's in-flight requests (`max_in_flight_requests`).
    pub(super) fn admit_lease_grant(&mut self, command: &Command) -> Result<bool, ClientError> {
        let Command::Etcd(EtcdCommand::LeaseGrant { .. }) = command else {
            return Ok(false);
        };
        let status = self.raft.status();
        if status.role != Role::Leader {
            // Proposing answers "not the leader", and the door forwards the grant to it.
            return Ok(true);
        }
        self.start_lease_clock(status.term, Instant::now());
        let applied = self.state.applied_index();
        self.leases.granting.retain(|index| *index > applied);
        let limit = self.config.cluster().max_leases;
        if self.state.lease_count() + self.leases.granting.len() >= limit {
            return Err(ClientError::Limit(format!(
                "too many leases (at most {limit})"
            )));
        }
        Ok(true)
    }

    /// Proposes an automatic compaction if one is due and none is in flight.
    fn maybe_compact(&mut self) -> bool {
        let retention = self.config.cluster().auto_compaction_retention;
        if retention == 0 {
            return false;
        }
        if self
            .leases
            .compacting
            .is_some_and(|index| self.state.applied_index() < index)
        {
            return false;
        }
        let (revision, compacted) = (self.state.revision(), self.state.compact_revision());
        let floor = compacted.max(1);
        if revision < floor + retention + retention.div_ceil(10) {
            return false;
        }
        let target = (revision - retention) as i64;
        let index = self.propose_internal(EtcdCommand::Compact { revision: target });
        self.leases.compacting = index;
        index.is_some()
    }

    /// Proposes a command of the leader's own (no client waits for it); its index, if accepted.
    fn propose_internal(&mut self, command: EtcdCommand) -> Option<Index> {
        let request = Request::new(Command::Etcd(command)).stamped(wall_clock_ms());
        match self.raft.propose(state::encode(&request)) {
            Ok((index, _)) => Some(index),
            Err(e) => {
                log::debug!("node {}: nothing proposed: {e:?}", self.id);
                None
            }
        }
    }

    /// The leader's deadline for a lease the state holds (the full TTL from now if it has none
    /// yet).
    fn lease_deadline(&mut self, id: i64, ttl: i64) -> Instant {
        *self
            .leases
            .deadlines
            .entry(id)
            .or_insert_with(|| Instant::now() + ttl_duration(ttl))
    }
}

fn ttl_duration(ttl: i64) -> Duration {
    Duration::from_secs(ttl.max(0) as u64)
}

/// The leader's answer, or who to ask instead.
fn leader_only(r: &Replicator) -> Result<(), ClientError> {
    let status = r.raft.status();
    match (status.role, status.leader) {
        (Role::Leader, _) => Ok(()),
        (_, Some(leader)) => Err(ClientError::NotLeader {
            leader: Some(leader),
        }),
        (_, None) => Err(ClientError::NoLeader),
    }
}

impl Handler<LeaseKeepAlive> for Replicator {
    type Result = Result<Option<i64>, ClientError>;

    fn handle(&mut self, msg: LeaseKeepAlive, ctx: &mut Context<Self>) -> Self::Result {
        self.raft_first(ctx);
        leader_only(self)?;
        let Some((_, ttl)) = self.state.leases().find(|(id, _)| *id == msg.0) else {
            return Ok(None);
        };
        if self.leases.revoking.contains_key(&msg.0) {
            // Too late: its revoke is on its way through the log.
            return Ok(None);
        }
        let now = Instant::now();
        self.start_lease_clock(self.raft.status().term, now);
        self.leases.deadlines.insert(msg.0, now + ttl_duration(ttl));
        Ok(Some(ttl))
    }
}

impl Handler<LeaseTimeToLive> for Replicator {
    type Result = Result<Option<LeaseTtl>, ClientError>;

    fn handle(&mut self, msg: LeaseTimeToLive, ctx: &mut Context<Self>) -> Self::Result {
        self.raft_first(ctx);
        leader_only(self)?;
        let info = self.state.etcd_read(&EtcdCommand::LeaseInfo { id: msg.0 });
        let Some(Ok(state::mvcc::EtcdOutcome::Lease(Some(info)))) = info.map(|r| r.outcome) else {
            return Ok(None);
        };
        self.start_lease_clock(self.raft.status().term, Instant::now());
        let deadline = self.lease_deadline(msg.0, info.granted_ttl);
        let left = deadline.saturating_duration_since(Instant::now());
        Ok(Some(LeaseTtl {
            granted_ttl: info.granted_ttl,
            ttl: left.as_secs_f64().ceil() as i64,
            keys: info.keys,
        }))
    }
}

impl Handler<StateView> for Replicator {
    type Result = MessageResult<StateView>;

    fn handle(&mut self, _: StateView, ctx: &mut Context<Self>) -> Self::Result {
        self.raft_first(ctx);
        MessageResult(self.state.clone())
    }
}
