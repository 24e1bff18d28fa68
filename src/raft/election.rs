//! Terms, elections, PreVote and CheckQuorum (§5.1, §5.2, thesis §9.6 and §6.2).

use super::config::InjectedBug;
use super::message::{Body, Message};
use super::node::Raft;
use super::progress::Progress;
use super::types::{NodeId, Payload, Role, Term};

impl Raft {
    /// Applies the term rules common to every message (§5.1). Returns false if the message must be
    /// dropped.
    pub(super) fn observe_term(&mut self, from: NodeId, msg: &Message) -> bool {
        if self.role == Role::Leader && msg.term > self.term && self.ignores_higher_term(msg) {
            return false;
        }
        if msg.term > self.term {
            match msg.body {
                // A pre-vote asks about a future term; answering it changes nothing (thesis §9.6).
                Body::PreVote { .. } => return true,
                // A granted pre-vote echoes the term we would campaign in: not a reason to follow.
                Body::PreVoteResponse { granted: true } => return true,
                Body::Vote { transfer, .. } if !transfer && self.in_leader_lease() => {
                    // A leader we heard from recently is alive: ignore the disruption (§4.2.3).
                    return false;
                }
                _ => {}
            }
            let leader = match msg.body {
                Body::Append { .. }
                | Body::Heartbeat { .. }
                | Body::Snapshot { .. }
                | Body::TimeoutNow => Some(from),
                _ => None,
            };
            self.become_follower(msg.term, leader);
            return true;
        }
        if msg.term < self.term {
            match msg.body {
                // A stale leader learns our term and steps down; without this a leader cut off by
                // CheckQuorum-ignoring peers could linger (etcd does the same).
                Body::Append { .. } | Body::Heartbeat { .. } | Body::Snapshot { .. } => {
                    self.send(from, Body::HeartbeatResponse { read_seq: 0 });
                }
                Body::PreVote { .. } => {
                    self.send(from, Body::PreVoteResponse { granted: false });
                }
                // Figure 2: the refusal carries our term, so the stale candidate catches up.
                // Crucial with changing membership: the servers it asks need not ask it back
                // (their configurations may not count it), and it would campaign in stale terms
                // forever.
                Body::Vote { .. } => {
                    self.send(from, Body::VoteResponse { granted: false });
                }
                Body::VoteResponse { granted: true }
                    if self.role == Role::Candidate
                        && self.bug(InjectedBug::CountStaleTermVotes) =>
                {
                    self.record_vote(from, true);
                }
                Body::AppendResponse { .. }
                    if self.role == Role::Leader
                        && self.bug(InjectedBug::AcceptStaleTermAppendResponses) =>
                {
                    return true;
                }
                _ => {}
            }
            return false;
        }
        true
    }

    /// Test-only fault: a leader that drops a follower's answer carrying a higher term.
    fn ignores_higher_term(&self, msg: &Message) -> bool {
        let answer = matches!(
            msg.body,
            Body::AppendResponse { .. } | Body::HeartbeatResponse { .. } | Body::SnapshotAck { .. }
        );
        answer && self.bug(InjectedBug::IgnoreHigherTermInResponse)
    }

    /// True while a leader was heard from within the minimum election timeout, so a vote request
    /// from a partitioned node must not unseat it. With lease reads, a node that has just started
    /// counts as having heard from one (`boot_quiet`).
    pub(super) fn in_leader_lease(&self) -> bool {
        self.cfg.check_quorum
            && (self.leader.is_some() || self.boot_quiet)
            && self.election_elapsed < self.cfg.election_timeout_ticks_min
    }

    pub(super) fn tick_election(&mut self) {
        self.election_elapsed += 1;
        if self.role == Role::Follower {
            self.tick_early_appends();
        }
        if self.election_elapsed >= self.cfg.election_timeout_ticks_min {
            self.boot_quiet = false;
        }
        // Learners, removed nodes and nodes waiting to join never campaign (thesis §4.2.3), but
        // a node whose removal is not committed yet may have to (§4.2.2).
        if self.election_elapsed >= self.election_timeout && self.may_campaign() {
            self.campaign(false);
        }
    }

    /// Starts an election: a pre-vote round first when enabled, unless forced by a transfer.
    pub(super) fn campaign(&mut self, transfer: bool) {
        if !self.may_campaign() {
            return;
        }
        if self.cfg.pre_vote && !transfer {
            if self.bug(InjectedBug::PreVoteBumpsTerm) {
                self.term += 1;
                self.vote = None;
            }
            self.role = Role::PreCandidate;
            self.leader = None;
            self.start_tally();
            let (last_log_index, last_log_term) = (self.log.last_index(), self.log.last_term());
            let term = self.term + 1;
            for peer in self.voter_peers() {
                let body = Body::PreVote {
                    last_log_index,
                    last_log_term,
                };
                self.out.messages.push((peer, Message { term, body }));
            }
        } else {
            self.become_candidate(transfer);
        }
        self.tally_votes();
    }

    fn become_candidate(&mut self, transfer: bool) {
        self.role = Role::Candidate;
        self.term += 1;
        self.early.new_term(self.term);
        self.vote = Some(self.cfg.id);
        self.leader = None;
        self.start_tally();
        let (last_log_index, last_log_term) = (self.log.last_index(), self.log.last_term());
        for peer in self.voter_peers() {
            // Our own vote must be durable before anyone counts on this term's election.
            self.send_after_persist(
                peer,
                Body::Vote {
                    last_log_index,
                    last_log_term,
                    transfer,
                },
            );
        }
    }

    fn start_tally(&mut self) {
        self.reset_election_timer();
        self.votes.clear();
        self.votes.push((self.cfg.id, true));
    }

    pub(super) fn record_vote(&mut self, from: NodeId, granted: bool) {
        if !self.votes.iter().any(|(id, _)| *id == from) {
            self.votes.push((from, granted));
        }
        self.tally_votes();
    }

    fn tally_votes(&mut self) {
        // Only voters of our configuration count, whoever answered.
        let membership = self.membership();
        let count = |want: bool| {
            self.votes
                .iter()
                .filter(|(id, g)| *g == want && membership.is_voter(*id))
                .count()
        };
        let (granted, rejected, quorum) = (count(true), count(false), membership.quorum());
        if granted >= quorum {
            match self.role {
                Role::PreCandidate => {
                    self.become_candidate(false);
                    self.tally_votes();
                }
                Role::Candidate => self.become_leader(),
                _ => {}
            }
        } else if rejected >= quorum {
            self.become_follower(self.term, None);
        }
    }

    pub(super) fn handle_pre_vote(
        &mut self,
        from: NodeId,
        term: Term,
        last_log_index: u64,
        last_log_term: Term,
    ) {
        let granted = term > self.term
            && !self.in_leader_lease()
            && self.log.is_up_to_date(last_log_index, last_log_term);
        // Answer in the term asked about when granting, so the pre-candidate can match it up.
        let answer_term = if granted { term } else { self.term };
        self.out.messages.push((
            from,
            Message {
                term: answer_term,
                body: Body::PreVoteResponse { granted },
            },
        ));
    }

    pub(super) fn handle_vote(&mut self, from: NodeId, last_log_index: u64, last_log_term: Term) {
        let may_vote = match self.vote {
            None => self.leader.is_none(),
            Some(v) => v == from || self.bug(InjectedBug::VoteTwiceInATerm),
        };
        let granted = may_vote && self.log.is_up_to_date(last_log_index, last_log_term);
        if granted {
            self.vote = Some(from);
            if !self.bug(InjectedBug::NoTimerResetOnVote) {
                self.reset_election_timer();
            }
        }
        // The vote must be on disk before the candidate can count it (§5.2, Figure 2).
        if self.bug(InjectedBug::VoteBeforePersist) {
            self.send(from, Body::VoteResponse { granted });
        } else {
            self.send_after_persist(from, Body::VoteResponse { granted });
        }
    }

    /// Steps down (or stays) as a follower in `term`, following `leader` if known.
    pub(super) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        if term > self.term {
            self.term = term;
            self.vote = None;
            self.early.new_term(self.term);
        }
        if self.role == Role::Leader {
            self.fail_pending_reads();
            self.progress.clear();
            self.transfer = None;
            self.hold_sends_until = None;
        }
        // Figure 2: a follower's timer restarts only when it hears a leader or grants a vote. A
        // follower merely pushed into a higher term by a vote request keeps counting, or a
        // candidate that cannot win (stale log, fast clock) would stop everyone else from ever
        // campaigning.
        let restart_timer = self.role != Role::Follower || leader.is_some();
        self.role = Role::Follower;
        self.leader = leader;
        self.votes.clear();
        if restart_timer {
            self.reset_election_timer();
        }
    }

    /// Records `from` as this term's leader: any message only a leader sends proves it.
    pub(super) fn follow(&mut self, from: NodeId) {
        if self.role != Role::Follower || self.leader != Some(from) {
            self.become_follower(self.term, Some(from));
        }
        self.election_elapsed = 0;
    }

    fn become_leader(&mut self) {
        // Votes from others come only once our own vote is durable (`become_candidate`); elected
        // by our own vote alone (a single voter), the term may not be durable yet.
        let me = self.cfg.id;
        let alone = !self.votes.iter().any(|&(id, granted)| granted && id != me);
        self.role = Role::Leader;
        self.leader = Some(self.cfg.id);
        self.votes.clear();
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.boot_quiet = false;
        self.reads.new_term();
        let next = self.log.last_index() + 1;
        self.progress = self
            .member_peers()
            .into_iter()
            .map(|id| (id, Progress::new(next)))
            .collect();
        // A leader can only commit entries of its own term (§5.4.2): the no-op lets it commit at once.
        let (noop, _) = self.append_own(Payload::Noop);
        if alone {
            // Crucial: a crash before the term is durable would let this node lead the same
            // term again and append other entries at the indexes it already sent (Figure 2:
            // currentTerm and votedFor are persisted before answering or sending anything).
            self.hold_sends_until = Some(noop);
        }
        self.maybe_commit();
    }

    pub(super) fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if let Some((target, ticks)) = self.transfer {
            let ticks = ticks + 1;
            self.transfer =
                (ticks < self.cfg.election_timeout_ticks_min).then_some((target, ticks));
            if self.transfer.is_none() && !self.is_voter() {
                // A removed leader whose successor never caught up: step down regardless.
                self.become_follower(self.term, None);
                return;
            }
        }
        self.maybe_step_down_removed();
        if self.role != Role::Leader {
            return;
        }
        if self.election_elapsed >= self.cfg.election_timeout_ticks_min {
            self.election_elapsed = 0;
            if self.cfg.check_quorum
                && !self.check_quorum()
                && !self.bug(InjectedBug::NoStepDownOnCheckQuorum)
            {
                self.become_follower(self.term, None);
                return;
            }
        }
        if self.heartbeat_elapsed >= self.cfg.heartbeat_interval_ticks {
            self.heartbeat_elapsed = 0;
            if self.cfg.lease_reads {
                // Each heartbeat is its own round, so an acknowledgement dates the lease.
                self.reads.next_round();
            }
            self.broadcast_heartbeats();
        }
    }

    /// True if a majority (this leader included) was heard from since the last check; resets the
    /// marks for the next round.
    fn check_quorum(&mut self) -> bool {
        let membership = self.membership();
        let active = membership
            .voters
            .iter()
            .filter(|&&v| {
                v == self.cfg.id
                    || self
                        .progress
                        .iter()
                        .any(|(id, p)| *id == v && p.recent_active)
            })
            .count();
        let quorum = membership.quorum();
        for (_, p) in &mut self.progress {
            p.recent_active = false;
        }
        active >= quorum
    }
}
