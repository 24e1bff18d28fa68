//! A short memory of the last events of a run, printed with a failure. Events are kept as small
//! copyable records and formatted only when printed, so tracing costs little per step.

use std::collections::VecDeque;
use std::fmt;

use raftkv::raft::{Body, Index, Message, NodeId, Role, Term};

/// How many events a failure report shows.
const TRACE_LEN: usize = 48;

/// The gist of a message.
#[derive(Clone, Copy, Debug)]
pub struct Brief {
    term: Term,
    kind: &'static str,
    args: [u64; 4],
}

impl Brief {
    /// Summarises `msg`.
    pub fn of(msg: &Message) -> Self {
        let (kind, args) = match &msg.body {
            Body::Vote {
                last_log_index,
                last_log_term,
                transfer,
            } => (
                "Vote",
                [*last_log_index, *last_log_term, *transfer as u64, 0],
            ),
            Body::VoteResponse { granted } => ("VoteResponse", [*granted as u64, 0, 0, 0]),
            Body::PreVote {
                last_log_index,
                last_log_term,
            } => ("PreVote", [*last_log_index, *last_log_term, 0, 0]),
            Body::PreVoteResponse { granted } => ("PreVoteResponse", [*granted as u64, 0, 0, 0]),
            Body::Append {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => (
                "Append",
                [
                    *prev_log_index,
                    *prev_log_term,
                    entries.len() as u64,
                    *leader_commit,
                ],
            ),
            Body::AppendResponse { success, index, .. } => {
                ("AppendResponse", [*success as u64, *index, 0, 0])
            }
            Body::Heartbeat { commit, read_seq } => ("Heartbeat", [*commit, *read_seq, 0, 0]),
            Body::HeartbeatResponse { read_seq } => ("HeartbeatResponse", [*read_seq, 0, 0, 0]),
            Body::TimeoutNow => ("TimeoutNow", [0; 4]),
            Body::ReadIndex { id } => ("ReadIndex", [*id, 0, 0, 0]),
            Body::ReadIndexResponse { id, index } => (
                "ReadIndexResponse",
                [*id, index.is_some() as u64, index.unwrap_or(0), 0],
            ),
            Body::Snapshot {
                index,
                snapshot_term,
                offset,
                data,
                done,
            } => (
                "Snapshot",
                [
                    *index,
                    *snapshot_term,
                    *offset,
                    data.len() as u64 | (*done as u64) << 63,
                ],
            ),
            Body::SnapshotAck { index, next_offset } => {
                ("SnapshotAck", [*index, *next_offset, 0, 0])
            }
        };
        Brief {
            term: msg.term,
            kind,
            args,
        }
    }
}

impl fmt::Display for Brief {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.args;
        write!(f, "{} t{} ", self.kind, self.term)?;
        match self.kind {
            "Vote" => write!(f, "last=({a},{b}) transfer={}", c == 1),
            "PreVote" => write!(f, "last=({a},{b})"),
            "VoteResponse" | "PreVoteResponse" => write!(f, "granted={}", a == 1),
            "Append" => write!(f, "prev=({a},{b}) entries={c} commit={d}"),
            "AppendResponse" => write!(f, "success={} index={b}", a == 1),
            "Heartbeat" => write!(f, "commit={a} read_seq={b}"),
            "HeartbeatResponse" => write!(f, "read_seq={a}"),
            "ReadIndex" => write!(f, "id={a}"),
            "ReadIndexResponse" if b == 1 => write!(f, "id={a} index={c}"),
            "ReadIndexResponse" => write!(f, "id={a} index=None"),
            "Snapshot" => write!(
                f,
                "({a},{b}) offset={c} bytes={} done={}",
                d & !(1 << 63),
                d >> 63 == 1
            ),
            "SnapshotAck" => write!(f, "index={a} next_offset={b}"),
            _ => Ok(()),
        }
    }
}

/// One remembered event.
#[derive(Clone, Copy, Debug)]
pub enum What {
    Deliver {
        from: NodeId,
        to: NodeId,
        msg: Brief,
    },
    /// Dropped on arrival: the link was cut or the receiver was down.
    Dropped {
        from: NodeId,
        to: NodeId,
        msg: Brief,
    },
    Synced {
        node: NodeId,
        batch: u64,
    },
    Role {
        node: NodeId,
        role: Role,
        term: Term,
    },
    Crash {
        node: NodeId,
        lost_batches: usize,
    },
    Restart(NodeId),
    /// The disk failed a sync: the node stops, as the real node does on a writer failure.
    SyncFailed(NodeId),
    /// The process stops the world for `ticks` ticks.
    Pause {
        node: NodeId,
        ticks: u64,
    },
    /// The process runs again: `missed` tick periods reported with `note_stall`, then the
    /// `backlog` of messages that waited in its inbox.
    Resume {
        node: NodeId,
        missed: u32,
        backlog: usize,
    },
    /// The node's clock now ticks every `period_us`.
    Clock {
        node: NodeId,
        period_us: u64,
    },
    /// A snapshot of the node's own state became durable; the log was compacted through it.
    SnapshotTaken {
        node: NodeId,
        index: Index,
    },
    /// A received snapshot became durable.
    SnapshotWritten {
        node: NodeId,
        index: Index,
        term: Term,
    },
    SnapshotInstalled {
        node: NodeId,
        index: Index,
        from: NodeId,
    },
    /// Bit `i` set: node `i + 1` is on the second side.
    Split(u64),
    CutOneWay {
        from: NodeId,
        to: NodeId,
    },
    Heal,
    Propose {
        node: NodeId,
        index: Index,
        term: Term,
    },
    Read {
        node: NodeId,
        id: u64,
    },
    Transfer {
        from: NodeId,
        to: NodeId,
    },
    /// A membership change was appended at `node`; bit `i` of a mask stands for node `i + 1`.
    Change {
        node: NodeId,
        index: Index,
        term: Term,
        voters: u64,
        learners: u64,
    },
    /// The operator shut down a node outside the configuration.
    Shutdown(NodeId),
}

/// The ids in `ids` as a bit mask: bit `i` for node `i + 1`.
pub fn mask(ids: &[NodeId]) -> u64 {
    ids.iter().fold(0, |m, id| m | 1 << (id - 1))
}

/// The ids of a [`mask`], as `1,2,3`.
struct Ids(u64);

impl fmt::Display for Ids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<String> = (0..64)
            .filter(|i| self.0 >> i & 1 == 1)
            .map(|i| (i + 1).to_string())
            .collect();
        f.write_str(&ids.join(","))
    }
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            What::Deliver { from, to, msg } => write!(f, "n{from} -> n{to} {msg}"),
            What::Dropped { from, to, msg } => write!(f, "n{from} -x n{to} {msg} (dropped)"),
            What::Synced { node, batch } => write!(f, "n{node} synced batch {batch}"),
            What::Role { node, role, term } => write!(f, "n{node} is {role} in term {term}"),
            What::Crash { node, lost_batches } => {
                write!(f, "CRASH n{node} (lost {lost_batches} unsynced batches)")
            }
            What::Restart(n) => write!(f, "RESTART n{n}"),
            What::SyncFailed(n) => write!(f, "SYNC FAILED n{n}: the node stops"),
            What::Pause { node, ticks } => write!(f, "PAUSE n{node} for {ticks} ticks"),
            What::Resume {
                node,
                missed,
                backlog,
            } => write!(
                f,
                "RESUME n{node}: note_stall({missed}), {backlog} messages waiting"
            ),
            What::Clock { node, period_us } => {
                write!(f, "CLOCK n{node} ticks every {period_us} us")
            }
            What::SnapshotTaken { node, index } => {
                write!(f, "n{node} snapshot through {index} durable, log compacted")
            }
            What::SnapshotWritten { node, index, term } => {
                write!(f, "n{node} received snapshot ({index}, {term}) durable")
            }
            What::SnapshotInstalled { node, index, from } => {
                write!(f, "n{node} installed snapshot through {index} from n{from}")
            }
            What::Split(mask) => write!(f, "PARTITION second side mask {mask:#b}"),
            What::CutOneWay { from, to } => write!(f, "CUT n{from} -> n{to}"),
            What::Heal => write!(f, "HEAL all links"),
            What::Propose { node, index, term } => {
                write!(f, "propose at n{node} -> ({index}, {term})")
            }
            What::Read { node, id } => write!(f, "read {id} at n{node}"),
            What::Transfer { from, to } => write!(f, "transfer n{from} -> n{to}"),
            What::Change {
                node,
                index,
                term,
                voters,
                learners,
            } => write!(
                f,
                "change at n{node} -> ({index}, {term}): voters {} learners {}",
                Ids(voters),
                Ids(learners)
            ),
            What::Shutdown(n) => write!(f, "SHUTDOWN n{n} (not a member)"),
        }
    }
}

/// The last [`TRACE_LEN`] events with their virtual times.
#[derive(Default)]
pub struct Trace {
    events: VecDeque<(u64, What)>,
}

impl Trace {
    /// Remembers an event, forgetting the oldest if full.
    pub fn push(&mut self, at_us: u64, what: What) {
        if self.events.len() == TRACE_LEN {
            self.events.pop_front();
        }
        self.events.push_back((at_us, what));
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at_us, what) in &self.events {
            writeln!(f, "  {:>9.3} ms  {what}", *at_us as f64 / 1000.0)?;
        }
        Ok(())
    }
}
