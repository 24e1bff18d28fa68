//! A small harness for driving Raft cores by hand: builders for configurations, logs and messages,
//! and helpers that walk a core through an election using only its public API.

pub mod cluster;
pub mod describe;
pub mod transcript;

use bytes::Bytes;
use raftkv::raft::{
    Body, Config, Entry, HardState, Index, Message, NodeId, Output, Payload, Raft, Restored, Role,
    Term,
};
use rand::{rngs::StdRng, SeedableRng};

/// The voters `1..=n`.
pub fn voters(n: u64) -> Vec<NodeId> {
    (1..=n).collect()
}

/// The algorithm of the paper's §5 alone: no PreVote, no CheckQuorum (and so no leader lease).
pub fn paper_config(id: NodeId, n: u64) -> Config {
    paper(Config::new(id, voters(n)))
}

/// `cfg` with PreVote and CheckQuorum turned off, leaving the algorithm of the paper's §5.
pub fn paper(mut cfg: Config) -> Config {
    cfg.pre_vote = false;
    cfg.check_quorum = false;
    cfg
}

/// A fresh core seeded with its id, so every run of a test takes the same path.
pub fn node(cfg: Config) -> Raft {
    let seed = cfg.id;
    node_seeded(cfg, Restored::default(), seed)
}

/// A core restarted from `restored`, seeded with its id.
pub fn restarted(cfg: Config, restored: Restored) -> Raft {
    let seed = cfg.id;
    node_seeded(cfg, restored, seed)
}

/// A core from `restored` with an explicit RNG seed.
pub fn node_seeded(cfg: Config, restored: Restored, seed: u64) -> Raft {
    Raft::new(cfg, restored, Box::new(StdRng::seed_from_u64(seed))).expect("valid test config")
}

/// What a node restarts from: hard state `term` (no vote, commit `commit`) and a log whose entry
/// `i` (from 1) has term `log_terms[i - 1]`.
pub fn restored(term: Term, commit: Index, log_terms: &[Term]) -> Restored {
    Restored {
        hard_state: HardState {
            term,
            vote: None,
            commit,
        },
        entries: log(log_terms),
        ..Restored::default()
    }
}

/// Entries `1..` with the given terms. Each carries a command naming its position, so two logs
/// compare equal only if they agree on every payload too.
pub fn log(terms: &[Term]) -> Vec<Entry> {
    (1..).zip(terms).map(|(i, &t)| cmd_entry(i, t)).collect()
}

/// The command entry at `(index, term)` that [`log`] would build.
pub fn cmd_entry(index: Index, term: Term) -> Entry {
    Entry {
        index,
        term,
        payload: Payload::Command(Bytes::from(format!("{index}@{term}"))),
    }
}

/// A leader's no-op at `(index, term)`.
pub fn noop(index: Index, term: Term) -> Entry {
    Entry {
        index,
        term,
        payload: Payload::Noop,
    }
}

/// An entry carrying `data`.
pub fn data_entry(index: Index, term: Term, data: &'static [u8]) -> Entry {
    Entry {
        index,
        term,
        payload: Payload::Command(Bytes::from_static(data)),
    }
}

/// A message in `term`.
pub fn msg(term: Term, body: Body) -> Message {
    Message { term, body }
}

/// An `Append` in `term`.
pub fn append(term: Term, prev: (Index, Term), entries: Vec<Entry>, commit: Index) -> Message {
    msg(
        term,
        Body::Append {
            prev_log_index: prev.0,
            prev_log_term: prev.1,
            entries,
            leader_commit: commit,
        },
    )
}

/// A successful `AppendResponse` acknowledging the log through `index`.
pub fn append_ok(term: Term, index: Index) -> Message {
    msg(
        term,
        Body::AppendResponse {
            success: true,
            index,
            hint: None,
        },
    )
}

/// A `Vote` request that is not part of a leadership transfer.
pub fn vote(term: Term, last_index: Index, last_term: Term) -> Message {
    msg(
        term,
        Body::Vote {
            last_log_index: last_index,
            last_log_term: last_term,
            transfer: false,
        },
    )
}

/// Reports the batch in `out` as durable, as a caller must once it is written.
pub fn persist(raft: &mut Raft, out: &Output) {
    if let Some(last) = out.entries.last() {
        raft.persisted(last.index, last.term);
    }
}

/// Takes the pending output and reports it durable at once; returns it for inspection.
pub fn flush(raft: &mut Raft) -> Output {
    let out = raft.take_output();
    persist(raft, &out);
    out
}

/// Ticks until the node leaves the follower role (its election timeout fired) and returns the
/// number of ticks that took. Panics if that does not happen within the maximum timeout.
pub fn tick_until_campaign(raft: &mut Raft) -> u32 {
    let max = raft.config().election_timeout_ticks_max;
    for ticks in 1..=max {
        raft.tick();
        if raft.status().role != Role::Follower {
            return ticks;
        }
    }
    panic!(
        "node {} did not campaign within {max} ticks",
        raft.status().id
    );
}

/// Makes the node campaign and win with granted (pre-)votes from its peers in id order, persisting
/// as it goes. Returns the output of the step that made it leader: its no-op and first Appends.
pub fn elect(raft: &mut Raft) -> Output {
    tick_until_campaign(raft);
    flush(raft);
    let peers: Vec<NodeId> = raft
        .config()
        .voters
        .iter()
        .copied()
        .filter(|&p| p != raft.status().id)
        .collect();
    for peer in peers {
        let status = raft.status();
        let reply = match status.role {
            Role::PreCandidate => msg(status.term + 1, Body::PreVoteResponse { granted: true }),
            Role::Candidate => msg(status.term, Body::VoteResponse { granted: true }),
            _ => break,
        };
        raft.step(peer, reply);
        if raft.status().role == Role::Candidate {
            // The pre-vote round just won: the real campaign's output must be made durable.
            flush(raft);
        }
    }
    assert_eq!(
        raft.status().role,
        Role::Leader,
        "election did not complete"
    );
    flush(raft)
}

/// Elects the node, then has every peer acknowledge its no-op, so that it has committed an entry
/// of its term and replicates to everyone in steady state (pipelined). Returns nothing: the
/// resulting output is taken and discarded.
pub fn elect_steady(raft: &mut Raft) {
    elect(raft);
    let (term, last) = (raft.status().term, raft.status().last_index);
    let peers: Vec<NodeId> = raft
        .config()
        .voters
        .iter()
        .copied()
        .filter(|&p| p != raft.status().id)
        .collect();
    for peer in peers {
        raft.step(peer, append_ok(term, last));
    }
    flush(raft);
    assert_eq!(raft.status().commit_index, last, "the no-op is committed");
}

/// The messages of `out` (sent at once) addressed to `to`.
pub fn messages_to(out: &Output, to: NodeId) -> Vec<&Message> {
    out.messages
        .iter()
        .filter(|(dst, _)| *dst == to)
        .map(|(_, m)| m)
        .collect()
}
