//! What the checker reports: one variant per invariant, named after the paper where it has a name.

use std::fmt;

use raftkv::raft::{Index, NodeId, Role, Term};

/// A broken invariant, with enough context to start debugging from the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Two leaders in one term (Figure 3, Election Safety).
    ElectionSafety { term: Term, leaders: [NodeId; 2] },
    /// A leader of `term` that only `voters` granted a vote of that term: no majority (§5.2).
    Unelected {
        leader: NodeId,
        term: Term,
        voters: Vec<NodeId>,
    },
    /// Two logs hold an entry with the same index and term but differ at or before it
    /// (Figure 3, Log Matching).
    LogMatching {
        node: NodeId,
        index: Index,
        term: Term,
        why: String,
    },
    /// A leader lacks an entry committed before its term (Figure 3, Leader Completeness).
    LeaderCompleteness {
        leader: NodeId,
        term: Term,
        missing: (Index, Term),
    },
    /// Two different entries committed or applied at one index (Figure 3, State Machine Safety).
    StateMachineSafety {
        node: NodeId,
        index: Index,
        why: String,
    },
    /// Two nodes' applied states differ at the same applied index although the same entries were
    /// applied there: one of them was built on a wrong state, e.g. a snapshot that lost or
    /// garbled a write (State Machine Safety for whole states, §7).
    StateMachineDivergence {
        node: NodeId,
        index: Index,
        why: String,
    },
    /// The core counts the entries `first..=last` as applied, but they never reached the node's
    /// state machine: committed writes lost on that node.
    LostWrites {
        node: NodeId,
        first: Index,
        last: Index,
    },
    /// A commit or applied index went backwards (an install included), or entries were applied
    /// out of order.
    Monotonicity { node: NodeId, why: String },
    /// A node granted its vote to two candidates in one term (§5.2).
    DoubleVote {
        node: NodeId,
        term: Term,
        candidates: [NodeId; 2],
    },
    /// A ReadIndex answer below the commit index known when the read was issued (thesis §6.4).
    StaleRead {
        node: NodeId,
        id: u64,
        index: Index,
        required: Index,
    },
    /// A message promising durability (a vote, an acknowledgement) left before the disk held it.
    BrokenPromise { node: NodeId, why: String },
    /// A node's durable log starts after `prefix` but its newest durable snapshot only covers
    /// the entries through `snapshot`: the entries in between are held nowhere (§7).
    PrefixPastSnapshot {
        node: NodeId,
        prefix: Index,
        snapshot: Index,
    },
    /// A leader counts `follower` as holding entries through `index` that its disk does not hold
    /// (Figure 2, matchIndex), e.g. entries it compacted and never sent.
    MatchIndex {
        leader: NodeId,
        follower: NodeId,
        index: Index,
        why: String,
    },
    /// A follower truncated entries that did not conflict with the leader's (§5.3).
    NeedlessTruncation { node: NodeId, index: Index },
    /// A configuration entry breaks the rules of single-server changes (thesis §4.1 and the
    /// 2015 erratum): appended before the previous change committed, changing several voters,
    /// or before its leader committed an entry of its term.
    ChangeRule {
        node: NodeId,
        index: Index,
        term: Term,
        why: String,
    },
    /// A node campaigned or took the lead with a configuration other than the latest in its log
    /// (thesis §4.1).
    ConfigInEffect { node: NodeId, why: String },
    /// A node campaigned or took the lead while its configuration does not make it a voter
    /// (thesis §4.2.1, §4.2.2).
    NotAVoter {
        node: NodeId,
        role: Role,
        term: Term,
        config: String,
    },
    /// A snapshot records a configuration other than the committed one at its index (§7).
    SnapshotConfig {
        node: NodeId,
        index: Index,
        why: String,
    },
    /// A committed entry is not on the disks of a majority: a majority of crashes could lose
    /// it (§5.4: committed means stored on a majority; "stored" means synced).
    NotDurable {
        index: Index,
        term: Term,
        holders: Vec<NodeId>,
    },
    /// A node's term changed against Figure 2's rules for all servers: it did not adopt a
    /// higher term it was sent, or its term rose with neither a message carrying that term
    /// nor its own candidacy (§5.1; PreVote must not change the term, thesis §9.6).
    TermRule { node: NodeId, why: String },
    /// A node campaigned sooner than an election timeout after granting a vote (Figure 2:
    /// granting a vote restarts the election timer).
    ElectionTimer { node: NodeId, why: String },
    /// With CheckQuorum on, a leader kept leading longer than two election timeouts without
    /// hearing from a majority (thesis §6.2).
    CheckQuorum {
        leader: NodeId,
        term: Term,
        why: String,
    },
    /// The core broke its output contract in a way the invariants above do not name.
    Contract { node: NodeId, why: String },
    /// After the faults stopped, the cluster did not commit within the bound.
    Liveness { why: String },
    /// The core (or the simulator) panicked.
    Panic { message: String },
}

/// The kind of a [`Violation`], for tests that expect one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    ElectionSafety,
    Unelected,
    LogMatching,
    LeaderCompleteness,
    StateMachineSafety,
    StateMachineDivergence,
    LostWrites,
    Monotonicity,
    DoubleVote,
    StaleRead,
    BrokenPromise,
    PrefixPastSnapshot,
    MatchIndex,
    NeedlessTruncation,
    ChangeRule,
    ConfigInEffect,
    NotAVoter,
    SnapshotConfig,
    NotDurable,
    TermRule,
    ElectionTimer,
    CheckQuorum,
    Contract,
    Liveness,
    Panic,
}

impl Violation {
    /// Which invariant broke.
    pub fn kind(&self) -> Kind {
        match self {
            Violation::ElectionSafety { .. } => Kind::ElectionSafety,
            Violation::Unelected { .. } => Kind::Unelected,
            Violation::LogMatching { .. } => Kind::LogMatching,
            Violation::LeaderCompleteness { .. } => Kind::LeaderCompleteness,
            Violation::StateMachineSafety { .. } => Kind::StateMachineSafety,
            Violation::StateMachineDivergence { .. } => Kind::StateMachineDivergence,
            Violation::LostWrites { .. } => Kind::LostWrites,
            Violation::Monotonicity { .. } => Kind::Monotonicity,
            Violation::DoubleVote { .. } => Kind::DoubleVote,
            Violation::StaleRead { .. } => Kind::StaleRead,
            Violation::BrokenPromise { .. } => Kind::BrokenPromise,
            Violation::PrefixPastSnapshot { .. } => Kind::PrefixPastSnapshot,
            Violation::MatchIndex { .. } => Kind::MatchIndex,
            Violation::NeedlessTruncation { .. } => Kind::NeedlessTruncation,
            Violation::ChangeRule { .. } => Kind::ChangeRule,
            Violation::ConfigInEffect { .. } => Kind::ConfigInEffect,
            Violation::NotAVoter { .. } => Kind::NotAVoter,
            Violation::SnapshotConfig { .. } => Kind::SnapshotConfig,
            Violation::NotDurable { .. } => Kind::NotDurable,
            Violation::TermRule { .. } => Kind::TermRule,
            Violation::ElectionTimer { .. } => Kind::ElectionTimer,
            Violation::CheckQuorum { .. } => Kind::CheckQuorum,
            Violation::Contract { .. } => Kind::Contract,
            Violation::Liveness { .. } => Kind::Liveness,
            Violation::Panic { .. } => Kind::Panic,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::ElectionSafety { term, leaders } => {
                write!(
                    f,
                    "election safety: nodes {leaders:?} both lead term {term}"
                )
            }
            Violation::Unelected {
                leader,
                term,
                voters,
            } => write!(
                f,
                "unelected leader: node {leader} leads term {term} with the votes of {voters:?} only"
            ),
            Violation::LogMatching {
                node,
                index,
                term,
                why,
            } => write!(f, "log matching: node {node} at ({index}, {term}): {why}"),
            Violation::LeaderCompleteness {
                leader,
                term,
                missing,
            } => write!(
                f,
                "leader completeness: leader {leader} of term {term} lacks committed {missing:?}"
            ),
            Violation::StateMachineSafety { node, index, why } => {
                write!(
                    f,
                    "state machine safety: node {node} at index {index}: {why}"
                )
            }
            Violation::StateMachineDivergence { node, index, why } => write!(
                f,
                "state machine divergence: node {node} at index {index}: {why}"
            ),
            Violation::LostWrites { node, first, last } => write!(
                f,
                "lost writes: node {node} counts {first}..={last} as applied, but they never \
                 reached its state machine"
            ),
            Violation::Monotonicity { node, why } => write!(f, "monotonicity: node {node}: {why}"),
            Violation::DoubleVote {
                node,
                term,
                candidates,
            } => write!(
                f,
                "double vote: node {node} granted {candidates:?} in term {term}"
            ),
            Violation::StaleRead {
                node,
                id,
                index,
                required,
            } => write!(
                f,
                "stale read: node {node} read {id} answered at {index}, below the commit index \
                 {required} known when it was issued"
            ),
            Violation::BrokenPromise { node, why } => {
                write!(f, "broken durability promise: node {node}: {why}")
            }
            Violation::PrefixPastSnapshot {
                node,
                prefix,
                snapshot,
            } => write!(
                f,
                "log prefix past snapshot: node {node}'s durable log starts after {prefix} but \
                 its newest durable snapshot ends at {snapshot}"
            ),
            Violation::MatchIndex {
                leader,
                follower,
                index,
                why,
            } => write!(
                f,
                "match index: leader {leader} counts node {follower} as holding {index}, but {why}"
            ),
            Violation::NeedlessTruncation { node, index } => write!(
                f,
                "needless truncation: node {node} rewrote a matching entry at {index}"
            ),
            Violation::ChangeRule {
                node,
                index,
                term,
                why,
            } => write!(
                f,
                "single-server change rule: node {node} appended the configuration at \
                 ({index}, {term}): {why}"
            ),
            Violation::ConfigInEffect { node, why } => {
                write!(f, "configuration in effect: node {node}: {why}")
            }
            Violation::NotAVoter {
                node,
                role,
                term,
                config,
            } => write!(
                f,
                "not a voter: node {node} became {role} in term {term} with the configuration \
                 {config}"
            ),
            Violation::SnapshotConfig { node, index, why } => write!(
                f,
                "snapshot configuration: node {node}'s snapshot through {index}: {why}"
            ),
            Violation::NotDurable {
                index,
                term,
                holders,
            } => write!(
                f,
                "committed entry ({index}, {term}) is durable only on nodes {holders:?}, no majority"
            ),
            Violation::TermRule { node, why } => write!(f, "term rule: node {node}: {why}"),
            Violation::ElectionTimer { node, why } => {
                write!(f, "election timer: node {node}: {why}")
            }
            Violation::CheckQuorum { leader, term, why } => {
                write!(f, "check quorum: leader {leader} of term {term}: {why}")
            }
            Violation::Contract { node, why } => write!(f, "output contract: node {node}: {why}"),
            Violation::Liveness { why } => write!(f, "liveness: {why}"),
            Violation::Panic { message } => write!(f, "panic: {message}"),
        }
    }
}
