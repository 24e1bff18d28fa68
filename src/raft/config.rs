//! The core's configuration, validated once at construction. Logical ticks only: the node maps
//! milliseconds to ticks at the edge.

use thiserror::Error;

use super::types::NodeId;

/// Tunables of one core. Every queue or batch the core builds has its limit here.
#[derive(Clone, Debug)]
pub struct Config {
    /// This node's id.
    pub id: NodeId,
    /// The initial configuration's voters, used until the log or a snapshot holds a newer one
    /// (`Restored::membership`). Empty for a node that waits to be added to a running cluster.
    pub voters: Vec<NodeId>,
    /// A follower starts an election after a random timeout in `[min, max)` ticks without a leader.
    pub election_timeout_ticks_min: u32,
    pub election_timeout_ticks_max: u32,
    /// A leader sends heartbeats every this many ticks; must be below the minimum election timeout.
    pub heartbeat_interval_ticks: u32,
    /// Bound on entries carried by one `Append`.
    pub max_entries_per_msg: usize,
    /// Bound on the approximate bytes of entries carried by one `Append` (at least one entry is sent).
    pub max_bytes_per_msg: usize,
    /// Bound on unacknowledged `Append`s to one follower in steady state (pipelining).
    pub max_inflight_msgs: usize,
    /// Bound on `Append`s a follower keeps that arrived before the one they continue (reordered
    /// pipelining), to step them once the gap fills instead of rejecting them; 0 (the default)
    /// rejects them at once. Non-zero also makes a leader whose follower acknowledged nothing for
    /// a heartbeat round resend the oldest `Append` in flight rather than fall back to probing.
    /// Off by default: over one TCP connection Appends do not overtake each other, and a follower
    /// that fell behind during a partition then waits for the gap rule instead of rejecting the
    /// first Append at once (tests/testdata/replication.txt); the simulator runs both settings.
    pub max_early_appends: usize,
    /// Bound on entries appended by this leader but not yet committed; proposals beyond it are refused.
    pub max_uncommitted_entries: usize,
    /// Bound on ReadIndex requests waiting for leadership confirmation.
    pub max_pending_reads: usize,
    /// Campaign with a pre-vote round first, so a rejoining node does not disrupt the cluster.
    pub pre_vote: bool,
    /// Leaders step down without contact from a majority for an election timeout; followers that hear
    /// from a leader ignore vote requests for the minimum election timeout (leader lease).
    pub check_quorum: bool,
    /// Linearizable reads on the leader skip the heartbeat round while its lease holds
    /// ([`Config::lease_ticks`]); needs `check_quorum`. Safe only while tick periods, as the host
    /// measures them, differ by less than a quarter between nodes (see `read_index.rs`).
    pub lease_reads: bool,
    /// Test-only: make the core deliberately unsafe, so the simulator's checker can be shown to fire.
    /// Consulted only when the crate is built with the `fault-injection` feature, which only the
    /// test targets turn on (see `Cargo.toml`): elsewhere every fault check is a constant `false`.
    #[doc(hidden)]
    pub injected_bug: Option<InjectedBug>,
}

/// Deliberate protocol violations used as negative controls for the simulator's safety checker.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectedBug {
    /// Commit any entry replicated on a majority, even from an earlier term (the Figure 8 mistake).
    CommitPreviousTermByCounting,
    /// Grant a vote to every candidate whose log is up to date, even after voting in the same term.
    VoteTwiceInATerm,
    /// Acknowledge entries to the leader before they are durable.
    AckBeforePersist,
    /// A leader whose log no longer holds what a follower needs pretends the follower holds
    /// everything it compacted, and replicates from there, instead of sending a snapshot.
    SkipSnapshot,
    /// Propose a membership change while the previous one is uncommitted, and let one change
    /// add or remove several voters at once.
    OverlappingMembershipChanges,
    /// Propose a membership change before this leader committed an entry of its own term.
    MembershipChangeBeforeTermCommit,
    /// Send a granted vote at once, before the hard state that records the vote and its term
    /// is durable.
    VoteBeforePersist,
    /// A leader counts its own entries toward the majority before its disk has synced them.
    CountOwnUnsyncedEntries,
    /// A follower truncates its log after `prev_log_index` on every append, even a stale or
    /// duplicated one whose entries it already holds.
    TruncateOnStaleAppend,
    /// A follower does not restart its election timer when it grants a vote.
    NoTimerResetOnVote,
    /// A leader answers a ReadIndex request at its commit index without a heartbeat round.
    ReadIndexWithoutHeartbeat,
    /// A pre-candidate increments its term (and forgets its vote) before the pre-vote round.
    PreVoteBumpsTerm,
    /// CheckQuorum detects the lost majority but the leader does not step down.
    NoStepDownOnCheckQuorum,
    /// A follower answers an append that starts below its commit index with the append's last
    /// index (the match index taken from the message's length) instead of its commit index,
    /// though it checked none of the entries past its commit index against its log.
    AckStaleAppendByLength,
    /// A leader counts an append answer from one of its earlier terms toward its match indexes,
    /// though a leader in between may have replaced what that answer vouched for.
    AcceptStaleTermAppendResponses,
    /// A candidate counts vote grants carrying an older term (from an earlier candidacy).
    CountStaleTermVotes,
    /// A leader ignores a higher term carried by a follower's response.
    IgnoreHigherTermInResponse,
    /// A follower applies every entry it holds durably, not only the committed ones.
    ApplyBeyondCommit,
}

impl Config {
    /// A configuration with sensible limits for the given membership.
    pub fn new(id: NodeId, voters: Vec<NodeId>) -> Self {
        Config {
            id,
            voters,
            election_timeout_ticks_min: 10,
            election_timeout_ticks_max: 20,
            heartbeat_interval_ticks: 2,
            max_entries_per_msg: 512,
            max_bytes_per_msg: 1 << 20,
            max_inflight_msgs: 64,
            max_early_appends: 0,
            max_uncommitted_entries: 1 << 16,
            max_pending_reads: 1 << 14,
            pre_vote: true,
            check_quorum: true,
            lease_reads: false,
            injected_bug: None,
        }
    }

    /// Checks every limit; the core refuses to start with an invalid configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |why: &str| Err(ConfigError(why.to_string()));
        if self.id == 0 {
            return bad("node id 0 is reserved");
        }
        let mut sorted = self.voters.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != self.voters.len() || sorted.contains(&0) {
            return bad("voter ids must be unique and non-zero");
        }
        if self.heartbeat_interval_ticks == 0 {
            return bad("heartbeat_interval_ticks must be at least 1");
        }
        if self.election_timeout_ticks_min <= self.heartbeat_interval_ticks {
            return bad("election_timeout_ticks_min must exceed heartbeat_interval_ticks");
        }
        if self.election_timeout_ticks_max <= self.election_timeout_ticks_min {
            return bad("election_timeout_ticks_max must exceed election_timeout_ticks_min");
        }
        if self.max_entries_per_msg == 0 || self.max_bytes_per_msg == 0 {
            return bad("max_entries_per_msg and max_bytes_per_msg must be at least 1");
        }
        if self.max_inflight_msgs == 0 {
            return bad("max_inflight_msgs must be at least 1");
        }
        if self.lease_reads && !self.check_quorum {
            return bad("lease_reads needs check_quorum");
        }
        if self.lease_reads && self.lease_ticks() == 0 {
            return bad("lease_reads needs election_timeout_ticks_min of at least 5");
        }
        if self.max_uncommitted_entries == 0 || self.max_pending_reads == 0 {
            return bad("max_uncommitted_entries and max_pending_reads must be at least 1");
        }
        Ok(())
    }

    /// How long a leader's lease lasts after a heartbeat round it sent was acknowledged by a
    /// majority, counted from the sending, in ticks of the leader's lease clock
    /// ([`Config::lease_ticks_for`] of the minimum election timeout).
    pub fn lease_ticks(&self) -> u64 {
        Self::lease_ticks_for(self.election_timeout_ticks_min)
    }

    /// The lease length for a minimum election timeout of `min` ticks.
    ///
    /// A follower that heard from the leader refuses votes and pre-votes for `min` of its own
    /// ticks, i.e. for at least `min - 1` tick periods after it received the round. The leader
    /// must be done with the lease before: the lease clock may trail real time by up to two
    /// periods (the time since the last tick, and the part of a stall below a whole period), and
    /// the follower's periods may be shorter than the leader's by up to a fifth (a quarter the
    /// other way). Hence `(min - 1) * 4 / 5 - 2`; 0 (no lease at all) below 5 ticks.
    pub fn lease_ticks_for(min: u32) -> u64 {
        (u64::from(min.saturating_sub(1)) * 4 / 5).saturating_sub(2)
    }
}

/// Why a core configuration was refused.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid raft configuration: {0}")]
pub struct ConfigError(pub String);
