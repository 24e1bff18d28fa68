//! Client requests: each is turned into a proposal, a read or a look at the local state.

use std::time::Instant;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::messages::*;
use super::{expiry, Replicator};
use crate::metrics::set_gauge;
use crate::raft::{ProposeError, ReadError, Role};
use crate::state;

/// Waits for the actor's answer; a dropped reply (deadline passed) is a timeout.
pub(super) fn await_reply(
    rx: oneshot::Receiver<Result<Answer, ClientError>>,
) -> ResponseFuture<Result<Answer, ClientError>> {
    Box::pin(async move { rx.await.unwrap_or(Err(ClientError::Timeout)) })
}

pub(super) fn ready(
    result: Result<Answer, ClientError>,
) -> ResponseFuture<Result<Answer, ClientError>> {
    Box::pin(async move { result })
}

/// Bound on client requests waiting on one node; beyond it requests are refused as busy.
const MAX_WAITING_REQUESTS: usize = 100_000;

impl Replicator {
    fn deadline(&self) -> Instant {
        Instant::now() + self.config.request_timeout()
    }
}

impl Handler<Propose> for Replicator {
    type Result = ResponseFuture<Result<Answer, ClientError>>;

    fn handle(&mut self, msg: Propose, ctx: &mut Context<Self>) -> Self::Result {
        self.raft_first(ctx);
        if self.waiters.len() >= MAX_WAITING_REQUESTS {
            return ready(Err(ClientError::Busy));
        }
        let lease_grant = match self.admit_lease_grant(&msg.0.command) {
            Ok(grant) => grant,
            Err(e) => {
                self.metrics.proposals_failed.inc();
                return ready(Err(e));
            }
        };
        // The leader's clock travels with the entry: the state machine's only notion of time.
        let data = state::encode(&msg.0.stamped(expiry::wall_clock_ms()));
        match self.raft.propose(data) {
            Ok((index, term)) => {
                self.metrics.proposals_accepted.inc();
                if lease_grant {
                    self.leases.granting.insert(index);
                }
                let (tx, rx) = oneshot::channel();
                let deadline = self.deadline();
                self.waiters.add_proposal(index, term, deadline, tx);
                self.schedule_drive(ctx);
                await_reply(rx)
            }
            Err(e) => {
                self.metrics.proposals_failed.inc();
                ready(Err(match e {
                    ProposeError::NotLeader { leader } => ClientError::NotLeader { leader },
                    ProposeError::Transferring => ClientError::NoLeader,
                    ProposeError::Busy => ClientError::Busy,
                }))
            }
        }
    }
}

impl Handler<Read> for Replicator {
    type Result = ResponseFuture<Result<Answer, ClientError>>;

    fn handle(&mut self, msg: Read, ctx: &mut Context<Self>) -> Self::Result {
        self.raft_first(ctx);
        self.metrics.reads.inc();
        let local = |state: &state::StateMachine, command: &state::Command| {
            state.read(command).map(|result| Answer {
                index: state.applied_index(),
                result,
            })
        };
        match msg.consistency {
            Consistency::Local => ready(local(&self.state, &msg.command).ok_or(ClientError::Busy)),
            Consistency::Log => {
                // Through the log like a write: the caller should use `Propose`; do it for them.
                <Self as Handler<Propose>>::handle(
                    self,
                    Propose(state::Request::new(msg.command)),
                    ctx,
                )
            }
            Consistency::Linearizable => {
                if self.state.read(&msg.command).is_none() {
                    return <Self as Handler<Propose>>::handle(
                        self,
                        Propose(state::Request::new(msg.command)),
                        ctx,
                    );
                }
                if self.waiters.len() >= MAX_WAITING_REQUESTS {
                    return ready(Err(ClientError::Busy));
                }
                self.next_read_id += 1;
                let id = self.next_read_id;
                match self.raft.read_index(id) {
                    Ok(()) => {
                        let (tx, rx) = oneshot::channel();
                        let deadline = self.deadline();
                        self.waiters.add_read(id, msg.command, deadline, tx);
                        self.schedule_drive(ctx);
                        await_reply(rx)
                    }
                    Err(ReadError::NoLeader) => ready(Err(ClientError::NoLeader)),
                    Err(ReadError::Busy) => ready(Err(ClientError::Busy)),
                }
            }
        }
    }
}

impl Handler<GetStatus> for Replicator {
    type Result = MessageResult<GetStatus>;

    fn handle(&mut self, _: GetStatus, ctx: &mut Context<Self>) -> Self::Result {
        self.raft_first(ctx);
        let s = self.raft.status();
        MessageResult(NodeStatus {
            id: self.id,
            role: s.role,
            term: s.term,
            leader: s.leader,
            commit_index: s.commit_index,
            applied_index: self.state.applied_index(),
            last_log_index: s.last_index,
            snapshot_index: self.snapshots.newest().map_or(0, |h| h.index),
            first_log_index: self.raft.log().first_index(),
        })
    }
}

impl Handler<GetView> for Replicator {
    type Result = MessageResult<GetView>;

    fn handle(&mut self, _: GetView, ctx: &mut Context<Self>) -> Self::Result {
        let status = <Self as Handler<GetStatus>>::handle(self, GetStatus, ctx).0;
        let progress = self
            .raft
            .progress_view()
            .into_iter()
            .map(|(id, match_index, next_index)| PeerProgress {
                id,
                match_index,
                next_index,
            })
            .collect();
        let peers = self
            .cluster
            .counters()
            .peer_bytes()
            .into_iter()
            .map(|(id, bytes)| PeerTraffic {
                id,
                sent_bytes: bytes.sent,
                received_bytes: bytes.received,
            })
            .collect();
        MessageResult(NodeView {
            status,
            vote: self.raft.status().vote,
            progress,
            peers,
        })
    }
}

impl Handler<GetMembers> for Replicator {
    type Result = MessageResult<GetMembers>;

    /// The configuration in effect on this node, with each member's addresses.
    fn handle(&mut self, _: GetMembers, ctx: &mut Context<Self>) -> Self::Result {
        self.raft_first(ctx);
        let s = self.raft.status();
        let membership = self.raft.membership().clone();
        let members = self
            .directory
            .all()
            .into_values()
            .map(|m| {
                let role = if membership.is_learner(m.id) {
                    "learner"
                } else if Some(m.id) == s.leader {
                    "leader"
                } else if m.id == self.id {
                    match s.role {
                        Role::Leader => "leader",
                        Role::Follower => "follower",
                        Role::PreCandidate | Role::Candidate => "candidate",
                    }
                } else if s.leader.is_some() {
                    "follower"
                } else {
                    "unknown"
                };
                Member {
                    id: m.id,
                    raft: m.raft,
                    http: m.http,
                    text: m.text,
                    grpc: m.grpc,
                    is_learner: membership.is_learner(m.id),
                    promote: m.promote,
                    role: role.to_string(),
                    match_index: self.raft.match_index(m.id),
                }
            })
            .collect();
        MessageResult(members)
    }
}

impl Handler<GetState> for Replicator {
    type Result = MessageResult<GetState>;

    fn handle(&mut self, _: GetState, ctx: &mut Context<Self>) -> Self::Result {
        self.raft_first(ctx);
        MessageResult(self.state.to_json())
    }
}

impl Handler<SnapshotView> for Replicator {
    type Result = MessageResult<SnapshotView>;

    fn handle(&mut self, _: SnapshotView, ctx: &mut Context<Self>) -> Self::Result {
        self.raft_first(ctx);
        let s = self.raft.status();
        if s.role != Role::Leader {
            return MessageResult(Err(ClientError::NotLeader { leader: s.leader }));
        }
        let applied = self.state.applied_index();
        let membership = self
            .raft
            .membership_at(applied)
            .expect("the log is never compacted past what is applied")
            .clone();
        MessageResult(Ok((self.state.clone(), membership)))
    }
}

impl Handler<GetMetrics> for Replicator {
    type Result = MessageResult<GetMetrics>;

    /// Copies the core's state into the scrape-time gauges and hands out the metrics.
    fn handle(&mut self, _: GetMetrics, ctx: &mut Context<Self>) -> Self::Result {
        self.raft_first(ctx);
        let s = self.raft.status();
        let m = &self.metrics;
        m.has_leader.set(i64::from(s.leader.is_some()));
        m.is_leader.set(i64::from(s.role == Role::Leader));
        set_gauge(&m.term, s.term);
        set_gauge(&m.commit_index, s.commit_index);
        set_gauge(&m.applied_index, self.state.applied_index());
        set_gauge(&m.proposals_pending, self.waiters.proposals_len() as u64);
        set_gauge(
            &m.snapshot_index,
            self.snapshots.newest().map_or(0, |h| h.index),
        );
        set_gauge(&m.log_first_index, self.raft.log().first_index());
        MessageResult(self.metrics.clone())
    }
}

impl Handler<TransferLeadership> for Replicator {
    type Result = Result<(), ClientError>;

    fn handle(&mut self, msg: TransferLeadership, ctx: &mut Context<Self>) -> Self::Result {
        self.raft_first(ctx);
        let s = self.raft.status();
        if s.role != Role::Leader {
            return Ok(());
        }
        // Pick the most caught-up voter unless one was named.
        let target = msg.0.or_else(|| self.raft.transfer_target());
        if let Some(t) = msg.0 {
            if t != self.id && !self.raft.membership().is_voter(t) {
                return Err(ClientError::Invalid(format!("node {t} is not a voter")));
            }
        }
        if let Some(target) = target {
            self.raft
                .transfer_leadership(target)
                .map_err(|_| ClientError::NoLeader)?;
            self.schedule_drive(ctx);
        }
        Ok(())
    }
}

impl Handler<Stop> for Replicator {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) -> Self::Result {
        // The work happens in `stopped`, the last thing the actor runs, so nothing (a queued
        // drive, a writer report) can touch the closed writer or bridge afterwards.
        let (tx, rx) = oneshot::channel();
        self.stop_waiters.push(tx);
        ctx.stop();
        Box::pin(async move {
            // An error means the actor was dropped without running `stopped`: it is down anyway.
            let _ = rx.await;
        })
    }
}

impl Handler<GetFaults> for Replicator {
    type Result = MessageResult<GetFaults>;

    fn handle(&mut self, _: GetFaults, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.config
                .cluster()
                .test_faults
                .then(|| self.cluster.faults()),
        )
    }
}
