//! The core's state and public API. Role-specific handling lives in `election`, `replication` and
//! `read_index`; this file owns the fields, the entry points and the output batch.

use bytes::Bytes;
use rand::RngExt;
use thiserror::Error;

use super::config::{Config, ConfigError, InjectedBug};
use super::early::EarlyAppends;
use super::log::RaftLog;
use super::membership::{Membership, MembershipEntry};
use super::message::{Body, Message};
use super::output::{Output, ReadState};
use super::progress::Progress;
use super::read_index::ReadQueue;
use super::reconfig::membership_entries;
use super::snapshot::ChunkOut;
use super::types::{Entry, HardState, Index, NodeId, Payload, Role, Term};

/// What survived a crash: the persisted hard state and log.
#[derive(Clone, Debug, Default)]
pub struct Restored {
    pub hard_state: HardState,
    /// The index and term just before `entries` (0 and 0 for a log that was never compacted).
    pub prev_index: Index,
    pub prev_term: Term,
    pub entries: Vec<Entry>,
    /// Entries through this index are already applied to the caller's state machine.
    pub applied: Index,
    /// The configuration in effect at `prev_index` (from the snapshot the log starts after);
    /// `None`: the initial one, `Config::voters`. Configuration entries in `entries` apply on top.
    pub membership: Option<MembershipEntry>,
}

/// Why a proposal was refused. Refused proposals were not appended anywhere.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum ProposeError {
    #[error("not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<NodeId> },
    #[error("leadership is being transferred")]
    Transferring,
    #[error("too many uncommitted entries")]
    Busy,
}

/// Why a membership change was refused. Refused changes were not appended anywhere.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ChangeError {
    #[error(transparent)]
    Propose(#[from] ProposeError),
    /// The previous change has not committed yet (one change at a time, thesis §4.1).
    #[error("a membership change is still in progress (entry {0} not committed)")]
    InProgress(Index),
    /// This leader has not committed an entry of its own term yet; retry shortly.
    #[error("the leader has not committed an entry of its term yet")]
    NotReady,
    /// The new configuration is not a valid single-server change of the current one.
    #[error("invalid membership change: {0}")]
    Invalid(String),
}

/// Why a read request was refused at once.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum ReadError {
    #[error("no known leader")]
    NoLeader,
    #[error("too many pending reads")]
    Busy,
}

/// A snapshot of the core's volatile state, for status pages and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub id: NodeId,
    pub role: Role,
    pub term: Term,
    pub vote: Option<NodeId>,
    pub leader: Option<NodeId>,
    pub commit_index: Index,
    pub applied_index: Index,
    pub last_index: Index,
    pub persisted_index: Index,
}

/// One Raft participant.
pub struct Raft {
    pub(super) cfg: Config,
    pub(super) rng: Box<dyn rand::Rng + Send>,
    pub(super) role: Role,
    pub(super) term: Term,
    pub(super) vote: Option<NodeId>,
    pub(super) leader: Option<NodeId>,
    pub(super) log: RaftLog,
    /// The configuration at the log's prefix (the snapshot's, or the initial one).
    pub(super) base_config: MembershipEntry,
    /// Configuration entries held in the log after its prefix, ascending. The last one (else
    /// `base_config`) is in effect: configurations apply when appended (thesis §4.1).
    pub(super) config_log: Vec<(Index, MembershipEntry)>,
    /// Invariant: `applied <= commit` and `applied <= persisted`; neither goes backwards.
    pub(super) commit: Index,
    /// The highest index handed to the caller in `Output::committed`.
    pub(super) applied: Index,
    /// The highest index known durable locally and still part of `log`.
    pub(super) persisted: Index,
    /// Ticks since the last election reset (followers, candidates) or CheckQuorum round (leader).
    pub(super) election_elapsed: u32,
    pub(super) heartbeat_elapsed: u32,
    /// This term's randomized election timeout, in `[min, max)` ticks.
    pub(super) election_timeout: u32,
    /// Votes (or pre-votes) received in the current campaign, one per voter.
    pub(super) votes: Vec<(NodeId, bool)>,
    /// Leader only: one per member (voters and learners) other than this node.
    pub(super) progress: Vec<(NodeId, Progress)>,
    /// Leader only: a transfer target and the ticks since it started.
    pub(super) transfer: Option<(NodeId, u32)>,
    /// Leader elected by its own vote alone: every message waits for the persist of its batch
    /// until the no-op at this index is persisted (and with it the term).
    pub(super) hold_sends_until: Option<Index>,
    pub(super) reads: ReadQueue,
    /// Follower: reads forwarded to a leader and not answered yet, with the leader and term
    /// they were sent in. A read whose leader is no longer this node's (it died, or a new one was
    /// elected) fails at the next output instead of waiting out the client's timeout: the
    /// answer may never come. At most `max_pending_reads`.
    pub(super) forwarded_reads: Vec<(u64, NodeId, Term)>,
    /// Follower only: `Append`s of this term that arrived before the one they continue.
    pub(super) early: EarlyAppends,
    /// Tick periods since this core started, as the host measured them (stalls included): the
    /// clock of the leader's read lease.
    pub(super) lease_clock: u64,
    /// With lease reads on: this node started recently and refuses votes as if it had just heard
    /// from a leader, until its first election timeout passes. A node that restarted has
    /// forgotten when it last heard from the leader; granting a vote at once could elect a new
    /// leader while the old one still trusts a lease this node helped to confirm.
    pub(super) boot_quiet: bool,
    /// No lease reads before the lease clock reaches this (set when a transfer hands leadership
    /// away: the target's votes override the followers' lease).
    pub(super) lease_void_until: u64,
    /// The last hard state put in an output.
    pub(super) emitted_hard_state: HardState,
    pub(super) out: Output,
}

impl Raft {
    /// Builds a core from what survived a crash (use `Restored::default()` for a new node).
    pub fn new(
        cfg: Config,
        restored: Restored,
        rng: Box<dyn rand::Rng + Send>,
    ) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let log = RaftLog::new(restored.prev_index, restored.prev_term, restored.entries);
        let hs = restored.hard_state;
        let base_config = restored.membership.unwrap_or_else(|| MembershipEntry {
            membership: Membership::new(cfg.voters.clone(), Vec::new()),
            context: Bytes::new(),
        });
        base_config
            .membership
            .validate()
            .map_err(|why| ConfigError(format!("restored membership: {why}")))?;
        let config_log = membership_entries(log.slice(log.first_index(), log.last_index()));
        // The commit hint may run ahead of a log whose tail was lost: clamp it, it is only a hint.
        let commit = hs.commit.min(log.last_index()).max(restored.applied);
        if restored.applied > log.last_index() {
            return Err(ConfigError(format!(
                "applied index {} is beyond the log's last index {}",
                restored.applied,
                log.last_index()
            )));
        }
        let mut raft = Raft {
            reads: ReadQueue::new(cfg.max_pending_reads),
            forwarded_reads: Vec::new(),
            early: EarlyAppends::default(),
            lease_clock: 0,
            boot_quiet: cfg.lease_reads,
            lease_void_until: 0,
            cfg,
            rng,
            role: Role::Follower,
            term: hs.term,
            vote: hs.vote,
            leader: None,
            persisted: log.last_index(),
            log,
            base_config,
            config_log,
            commit,
            applied: restored.applied,
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            election_timeout: 0,
            votes: Vec::new(),
            progress: Vec::new(),
            transfer: None,
            hold_sends_until: None,
            emitted_hard_state: HardState {
                term: hs.term,
                vote: hs.vote,
                commit,
            },
            out: Output::default(),
        };
        raft.reset_election_timer();
        Ok(raft)
    }

    /// Advances logical time by one tick.
    pub fn tick(&mut self) {
        self.lease_clock += 1;
        match self.role {
            Role::Leader => self.tick_leader(),
            _ => self.tick_election(),
        }
    }

    /// Tells the core that `missed` whole tick periods passed without a tick: the host stalled (a
    /// long turn, a paused process). They count against the leader's read lease at once, before
    /// the messages that waited meanwhile are stepped, but never toward election timeouts: a
    /// stall costs no election, and never a stale read.
    pub fn note_stall(&mut self, missed: u32) {
        self.lease_clock += u64::from(missed);
    }

    /// Handles a message from peer `from`. Peers outside this node's configuration are heard
    /// too: a leader may be adding this node, or a candidate may hold a newer configuration
    /// (thesis §4.1); only voters of our configuration count toward a quorum.
    pub fn step(&mut self, from: NodeId, msg: Message) {
        if from == self.cfg.id || from == 0 {
            return;
        }
        if !self.observe_term(from, &msg) {
            return;
        }
        match msg.body {
            Body::PreVote {
                last_log_index,
                last_log_term,
            } => self.handle_pre_vote(from, msg.term, last_log_index, last_log_term),
            Body::Vote {
                last_log_index,
                last_log_term,
                ..
            } => self.handle_vote(from, last_log_index, last_log_term),
            Body::PreVoteResponse { granted } => {
                // Grants echo the term asked about; refusals carry the refuser's (not higher) term.
                if self.role == Role::PreCandidate && (msg.term == self.term + 1 || !granted) {
                    self.record_vote(from, granted);
                }
            }
            Body::VoteResponse { granted } => {
                if self.role == Role::Candidate && msg.term == self.term {
                    self.record_vote(from, granted);
                }
            }
            Body::Append {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => {
                self.follow(from);
                self.handle_append(from, prev_log_index, prev_log_term, entries, leader_commit);
            }
            Body::AppendResponse {
                success,
                index,
                hint,
            } => self.handle_append_response(from, success, index, hint),
            Body::Heartbeat { commit, read_seq } => {
                self.follow(from);
                self.handle_heartbeat(from, commit, read_seq);
            }
            Body::HeartbeatResponse { read_seq } => self.handle_heartbeat_response(from, read_seq),
            Body::TimeoutNow => {
                if self.role == Role::Follower && self.leader == Some(from) && self.is_voter() {
                    self.campaign(true);
                }
            }
            Body::ReadIndex { id } => self.handle_remote_read(from, id),
            Body::ReadIndexResponse { id, index } => {
                // Only an answer still awaited: one failed already was reported then.
                let before = self.forwarded_reads.len();
                self.forwarded_reads.retain(|&(read, _, _)| read != id);
                if self.role != Role::Leader && self.forwarded_reads.len() < before {
                    self.out.reads.push(ReadState { id, index });
                }
            }
            Body::Snapshot {
                index,
                snapshot_term,
                offset,
                data,
                done,
            } => {
                self.follow(from);
                let chunk = ChunkOut {
                    index,
                    term: snapshot_term,
                    offset,
                    data,
                    done,
                };
                self.handle_snapshot(from, chunk);
            }
            Body::SnapshotAck { index, next_offset } => {
                self.handle_snapshot_ack(from, index, next_offset)
            }
        }
    }

    /// Appends a command to the log if this node leads. Returns the entry's index and term: the
    /// command took effect iff an entry with that index *and* term is later committed.
    pub fn propose(&mut self, data: Bytes) -> Result<(Index, Term), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        if self.transfer.is_some() {
            return Err(ProposeError::Transferring);
        }
        let uncommitted = self.log.last_index() - self.commit;
        if uncommitted >= self.cfg.max_uncommitted_entries as Index {
            return Err(ProposeError::Busy);
        }
        Ok(self.append_own(Payload::Command(data)))
    }

    /// Starts a linearizable read identified by `id` (ReadIndex, thesis §6.4). The answer arrives as a
    /// [`ReadState`] in a later output. A follower forwards the request to its leader.
    pub fn read_index(&mut self, id: u64) -> Result<(), ReadError> {
        match self.role {
            Role::Leader => self.start_read(None, id),
            _ => match self.leader {
                Some(_) if self.forwarded_reads.len() >= self.cfg.max_pending_reads => {
                    Err(ReadError::Busy)
                }
                Some(leader) => {
                    self.forwarded_reads.push((id, leader, self.term));
                    self.send(leader, Body::ReadIndex { id });
                    Ok(())
                }
                None => Err(ReadError::NoLeader),
            },
        }
    }

    /// Hands leadership to `target` (thesis §3.10): once it is caught up it is told to campaign.
    /// Proposals are refused meanwhile; the attempt is abandoned after an election timeout.
    pub fn transfer_leadership(&mut self, target: NodeId) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        if target == self.cfg.id || !self.membership().is_voter(target) {
            return Ok(());
        }
        self.transfer = Some((target, 0));
        self.maybe_send_timeout_now(target);
        Ok(())
    }

    /// Reports that every batch up to one ending at `(index, term)` is durable.
    pub fn persisted(&mut self, index: Index, term: Term) {
        // A later truncation may have replaced the entry: then a later report will cover it.
        if index > self.persisted && self.log.matches(index, term) {
            self.persisted = index;
            if self.hold_sends_until.is_some_and(|until| index >= until) {
                self.hold_sends_until = None;
            }
            if self.role == Role::Leader {
                self.maybe_commit();
            }
        }
    }

    /// Takes the work accumulated since the last call. See [`Output`] for the ordering contract.
    pub fn take_output(&mut self) -> Output {
        self.fail_orphaned_reads();
        if self.role == Role::Leader {
            self.flush_reads();
            self.broadcast_appends();
        }
        let ready_to = if self.bug(InjectedBug::ApplyBeyondCommit) && self.role == Role::Follower {
            self.persisted
        } else {
            self.commit.min(self.persisted)
        };
        if ready_to > self.applied {
            let entries = self.log.slice(self.applied + 1, ready_to);
            self.out.committed.extend_from_slice(entries);
            self.applied = ready_to;
        }
        let hs = self.hard_state();
        if hs != self.emitted_hard_state {
            self.out.hard_state = Some(hs);
            self.emitted_hard_state = hs;
        }
        std::mem::take(&mut self.out)
    }

    /// The current volatile state.
    pub fn status(&self) -> Status {
        Status {
            id: self.cfg.id,
            role: self.role,
            term: self.term,
            vote: self.vote,
            leader: self.leader,
            commit_index: self.commit,
            applied_index: self.applied,
            last_index: self.log.last_index(),
            persisted_index: self.persisted,
        }
    }

    /// The log as this node holds it (durable or not).
    pub fn log(&self) -> &RaftLog {
        &self.log
    }

    /// Leader only: how far `peer`'s log is known to match ours.
    pub fn match_index(&self, peer: NodeId) -> Option<Index> {
        if peer == self.cfg.id {
            return (self.role == Role::Leader).then_some(self.persisted);
        }
        self.progress
            .iter()
            .find(|(id, _)| *id == peer)
            .map(|(_, p)| p.match_index)
    }

    /// Leader only (empty otherwise): each follower's `(id, match_index, next_index)`, for the
    /// cluster view.
    pub fn progress_view(&self) -> Vec<(NodeId, Index, Index)> {
        if self.role != Role::Leader {
            return Vec::new();
        }
        self.progress
            .iter()
            .map(|(id, p)| (*id, p.match_index, p.next_index))
            .collect()
    }

    /// Fails the forwarded reads whose leader is no longer this node's leader in the same term.
    fn fail_orphaned_reads(&mut self) {
        if self.forwarded_reads.is_empty() {
            return;
        }
        let (leader, term, following) = (self.leader, self.term, self.role != Role::Leader);
        let mut failed = Vec::new();
        self.forwarded_reads.retain(|&(id, sent_to, sent_in)| {
            let alive = following && leader == Some(sent_to) && term == sent_in;
            if !alive {
                failed.push(id);
            }
            alive
        });
        for id in failed {
            self.out.reads.push(ReadState { id, index: None });
        }
    }

    /// The configuration this core runs with.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// True if the test-only fault `bug` is injected. A constant `false` without the
    /// `fault-injection` feature (only test targets enable it), so other builds compile every
    /// fault away.
    #[inline(always)]
    pub(super) fn bug(&self, bug: InjectedBug) -> bool {
        cfg!(feature = "fault-injection") && self.cfg.injected_bug == Some(bug)
    }

    pub(super) fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
            commit: self.commit,
        }
    }

    /// The value a majority of voters has reached: each voter's `of(progress)`, `own` for this
    /// node; the quorum-th largest. 0 when there is no voter.
    pub(super) fn quorum_value(&self, own: u64, of: impl Fn(&Progress) -> u64) -> u64 {
        let membership = self.membership();
        let mut values: Vec<u64> = membership
            .voters
            .iter()
            .map(|&v| {
                if v == self.cfg.id {
                    own
                } else {
                    self.progress
                        .iter()
                        .find(|(id, _)| *id == v)
                        .map_or(0, |(_, p)| of(p))
                }
            })
            .collect();
        values.sort_unstable_by(|a, b| b.cmp(a));
        values
            .get(membership.quorum() - 1)
            .copied()
            .unwrap_or_default()
    }

    /// The voters other than this node (who an election asks).
    pub(super) fn voter_peers(&self) -> Vec<NodeId> {
        let me = self.cfg.id;
        self.membership()
            .voters
            .iter()
            .copied()
            .filter(|&id| id != me)
            .collect()
    }

    /// Every member other than this node (who a leader replicates to).
    pub(super) fn member_peers(&self) -> Vec<NodeId> {
        let me = self.cfg.id;
        self.membership().members().filter(|&id| id != me).collect()
    }

    /// Queues a message that may leave at once (unless this leader's term may not be durable
    /// yet: see `hold_sends_until`).
    pub(super) fn send(&mut self, to: NodeId, body: Body) {
        let msg = Message {
            term: self.term,
            body,
        };
        if self.hold_sends_until.is_some() {
            self.out.messages_after_persist.push((to, msg));
        } else {
            self.out.messages.push((to, msg));
        }
    }

    /// Queues a message that promises durable state: it leaves only after this batch is persisted.
    pub(super) fn send_after_persist(&mut self, to: NodeId, body: Body) {
        let msg = Message {
            term: self.term,
            body,
        };
        self.out.messages_after_persist.push((to, msg));
    }

    pub(super) fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        let (lo, hi) = (
            self.cfg.election_timeout_ticks_min,
            self.cfg.election_timeout_ticks_max,
        );
        self.election_timeout = self.rng.random_range(lo..hi);
    }

    /// Appends an entry of this leader's term to its own log and schedules it for persistence.
    pub(super) fn append_own(&mut self, payload: Payload) -> (Index, Term) {
        let entry = Entry {
            index: self.log.last_index() + 1,
            term: self.term,
            payload,
        };
        let at = (entry.index, entry.term);
        let config = match &entry.payload {
            Payload::Membership(m) => Some(m.clone()),
            _ => None,
        };
        self.out.entries.push(entry.clone());
        self.log.push(entry);
        if let Some(config) = config {
            self.config_log.push((at.0, config));
            self.on_membership_change();
        }
        at
    }

    /// Appends entries received from a leader, truncating a conflicting suffix first, and schedules
    /// the change for persistence with the same truncate-then-append meaning.
    pub(super) fn append_from_leader(&mut self, entries: Vec<Entry>) {
        let Some(first) = entries.first() else {
            return;
        };
        let start = first.index;
        if start <= self.log.last_index() {
            assert!(
                start > self.commit,
                "leader tried to overwrite committed index {start} (commit {})",
                self.commit
            );
            self.log.truncate_from(start);
            self.persisted = self.persisted.min(start - 1);
        }
        // Keep the pending batch consistent with the same truncate-then-append meaning.
        if let Some(pending_first) = self.out.entries.first().map(|e| e.index) {
            let keep = start.saturating_sub(pending_first) as usize;
            self.out.entries.truncate(keep);
        }
        let configs_before = self.config_log.len();
        self.config_log.retain(|(i, _)| *i < start);
        let truncated_config = self.config_log.len() != configs_before;
        let new_configs = membership_entries(&entries);
        let appended_config = !new_configs.is_empty();
        self.config_log.extend(new_configs);
        for e in &entries {
            self.log.push(e.clone());
        }
        self.out.entries.extend(entries);
        if truncated_config || appended_config {
            self.on_membership_change();
        }
    }
}
