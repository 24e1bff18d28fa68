//! One-line renderings of entries, messages and cluster events, for transcripts and for assertion
//! messages that a person can read.

use raftkv::raft::{Body, Entry, HardState, Message, Payload, Status};

use super::cluster::Event;

/// `index/term:noop` or `index/term:"data"`.
pub fn entry(e: &Entry) -> String {
    match &e.payload {
        Payload::Noop => format!("{}/{}:noop", e.index, e.term),
        Payload::Command(data) => {
            format!("{}/{}:{:?}", e.index, e.term, String::from_utf8_lossy(data))
        }
        Payload::Membership(m) => format!("{}/{}:membership({})", e.index, e.term, m.membership),
    }
}

/// `[e1, e2, ...]`.
pub fn entries(es: &[Entry]) -> String {
    let parts: Vec<String> = es.iter().map(entry).collect();
    format!("[{}]", parts.join(", "))
}

/// The message kind, its term, then its fields.
pub fn message(m: &Message) -> String {
    let t = m.term;
    match &m.body {
        Body::Vote {
            last_log_index,
            last_log_term,
            transfer,
        } => {
            let transfer = if *transfer { " transfer" } else { "" };
            format!("Vote t{t} last={last_log_index}/{last_log_term}{transfer}")
        }
        Body::VoteResponse { granted } => format!("VoteResponse t{t} {}", verdict(*granted)),
        Body::PreVote {
            last_log_index,
            last_log_term,
        } => format!("PreVote t{t} last={last_log_index}/{last_log_term}"),
        Body::PreVoteResponse { granted } => {
            format!("PreVoteResponse t{t} {}", verdict(*granted))
        }
        Body::Append {
            prev_log_index,
            prev_log_term,
            entries: es,
            leader_commit,
        } => format!(
            "Append t{t} prev={prev_log_index}/{prev_log_term} commit={leader_commit} {}",
            entries(es)
        ),
        Body::AppendResponse {
            success: true,
            index,
            ..
        } => format!("AppendResponse t{t} ok index={index}"),
        Body::AppendResponse {
            success: false,
            index,
            hint,
        } => {
            let hint = match hint {
                None => "none".to_string(),
                Some(h) => match h.conflict_term {
                    Some(ct) => format!("term {ct} from {}", h.first_index),
                    None => format!("log ends before {}", h.first_index),
                },
            };
            format!("AppendResponse t{t} reject index={index} hint=({hint})")
        }
        Body::Heartbeat { commit, read_seq } => {
            format!("Heartbeat t{t} commit={commit} read_seq={read_seq}")
        }
        Body::HeartbeatResponse { read_seq } => {
            format!("HeartbeatResponse t{t} read_seq={read_seq}")
        }
        Body::TimeoutNow => format!("TimeoutNow t{t}"),
        Body::ReadIndex { id } => format!("ReadIndex t{t} id={id}"),
        Body::ReadIndexResponse { id, index } => {
            format!("ReadIndexResponse t{t} id={id} index={}", opt(*index))
        }
        Body::Snapshot {
            index,
            snapshot_term,
            offset,
            data,
            done,
        } => {
            let done = if *done { " done" } else { "" };
            let len = data.len();
            format!("Snapshot t{t} last={index}/{snapshot_term} offset={offset} bytes={len}{done}")
        }
        Body::SnapshotAck { index, next_offset } => {
            format!("SnapshotAck t{t} index={index} next_offset={next_offset}")
        }
    }
}

fn verdict(granted: bool) -> &'static str {
    if granted {
        "granted"
    } else {
        "rejected"
    }
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "none".to_string(), |v| v.to_string())
}

/// `term=T vote=V commit=C`.
pub fn hard_state(hs: &HardState) -> String {
    format!(
        "term={} vote={} commit={}",
        hs.term,
        opt(hs.vote),
        hs.commit
    )
}

/// Role, term, leader and indexes.
pub fn status(s: &Status) -> String {
    format!(
        "{} term={} leader={} commit={} last={}",
        s.role,
        s.term,
        opt(s.leader),
        s.commit_index,
        s.last_index
    )
}

/// One event as a transcript line.
pub fn event(e: &Event) -> String {
    match e {
        Event::Persisted {
            node,
            hard_state: hs,
            entries: es,
        } => {
            let mut line = format!("n{node} persist");
            if let Some(hs) = hs {
                line += &format!(" hs({})", hard_state(hs));
            }
            if !es.is_empty() {
                line += &format!(" {}", entries(es));
            }
            line
        }
        Event::Applied { node, entries: es } => format!("n{node} apply {}", entries(es)),
        Event::Read { node, read } => {
            format!("n{node} read id={} index={}", read.id, opt(read.index))
        }
        Event::Delivered { from, to, msg } => format!("n{from}->n{to} {}", message(msg)),
        Event::Dropped { from, to, msg } => format!("n{from}->n{to} DROPPED {}", message(msg)),
        Event::Became { node, status: s } => format!("n{node} is now {}", status(s)),
    }
}
