//! The safety checker. The simulator shows it every effect of every step — appends, commits,
//! applications, votes, read answers, messages that promise durability — and it returns the first
//! broken invariant as a [`Violation`] instead of panicking, so negative controls can assert on it.
//!
//! Each check is incremental (proportional to what the step changed), so running it after every
//! step stays cheap.
//!
//! Compacted logs: a log (or disk) holds only the entries after its prefix, which a snapshot
//! covers. Checks on entries look only at entries held; the prefix itself is an entry the log
//! vouches for — committed, since only applied state is snapshotted — and Log Matching carries
//! its guarantee to every entry before it. What a snapshot holds is checked as a whole: its
//! applied state must equal, digest for digest, the state every node had at that index
//! (`applied`).
//!
//! Changing membership: configurations are log entries, so the invariants above hold across
//! configurations as they are; the checks proper to membership live in `config`.

mod applied;
mod config;
mod progress;

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use raftkv::raft::{Body, Entry, Index, Membership, MembershipEntry, Message, NodeId, Payload};
use raftkv::raft::{RaftLog, ReadState, Role, Status, Term};

use super::config::SimConfig;
use super::storage::{Disk, Storage};
use super::violation::Violation;

/// What the checker remembers of one node's current incarnation.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    commit: Index,
    applied: Index,
}

/// Cluster-wide memory of everything observed, across crashes.
pub struct Checker {
    check_promises: bool,
    check_change_rules: bool,
    /// The initial configuration (which is in no log).
    initial: MembershipEntry,
    /// Every configuration entry applied, by index, ascending: the committed history of
    /// configurations.
    configs: Vec<(Index, MembershipEntry)>,
    /// True once any configuration entry was appended anywhere: until then every node's
    /// configuration is the initial one, and the membership checks have nothing to scan.
    configs_appended: bool,
    /// The leader of each term (Election Safety).
    leaders: HashMap<Term, NodeId>,
    /// `committed[i - 1]`: the term of the entry committed at index `i`.
    committed: Vec<Term>,
    /// For each term, the highest index first reported committed by a node in that term. A
    /// node's term is at least the term in which the entry was committed (by that term's leader),
    /// so Leader Completeness may demand of a leader of term `t` the entries listed before `t`.
    committed_by_term: BTreeMap<Term, Index>,
    /// Set when `committed` grew: the term of the node that reported it.
    commit_grew_in_term: Option<Term>,
    /// `applied[i - 1]`: the entry applied at index `i` and the digest of the state it produced
    /// (State Machine Safety, and equal states at equal indexes). The first node to reach an
    /// index applies its entry (a snapshot holds only a state some node reached), so this grows
    /// without gaps.
    applied: Vec<(Entry, u64)>,
    /// Every `(index, term)` ever appended anywhere, with its payload and the term of the entry
    /// before it. Log Matching holds iff no append disagrees with this map (by induction on index).
    appended: HashMap<(Index, Term), (Payload, Term)>,
    /// The candidate each node voted for in each term, from granted votes and persisted hard states.
    votes: HashMap<(NodeId, Term), NodeId>,
    /// Each issued read's required minimum index: the cluster's commit index when it was issued.
    reads: HashMap<u64, Index>,
    seen: Vec<Seen>,
    /// The ids and majority of a run whose membership never changes (every node a voter):
    /// a leader must hold that many votes of its term (§5.2).
    fixed_voters: Option<(Vec<NodeId>, usize)>,
}

impl Checker {
    /// A checker for the cluster `cfg` describes.
    pub fn new(cfg: &SimConfig) -> Self {
        let initial = MembershipEntry {
            membership: Membership::new(cfg.voters(), Vec::new()),
            context: Bytes::new(),
        };
        Checker {
            check_promises: cfg.check_promises,
            check_change_rules: cfg.check_change_rules,
            initial,
            configs: Vec::new(),
            configs_appended: false,
            leaders: HashMap::new(),
            committed: Vec::new(),
            committed_by_term: BTreeMap::new(),
            commit_grew_in_term: None,
            applied: Vec::new(),
            appended: HashMap::new(),
            votes: HashMap::new(),
            reads: HashMap::new(),
            seen: vec![Seen::default(); cfg.nodes],
            fixed_voters: (!cfg.changes_membership()).then(|| (cfg.ids(), cfg.nodes / 2 + 1)),
        }
    }

    /// The number of distinct (term, leader) pairs seen.
    pub fn elections(&self) -> u64 {
        self.leaders.len() as u64
    }

    /// The highest index known committed anywhere.
    pub fn commit_index(&self) -> Index {
        self.committed.len() as Index
    }

    /// Takes the term of the node whose report last grew the commit index, if it grew.
    pub fn take_commit_growth(&mut self) -> Option<Term> {
        self.commit_grew_in_term.take()
    }

    /// The term of the entry committed at `index`, if known.
    pub fn committed_term(&self, index: Index) -> Option<Term> {
        index
            .checked_sub(1)
            .and_then(|i| self.committed.get(i as usize))
            .copied()
    }

    /// A node crashed, and its disk now holds `durable_term`: its volatile indexes restart
    /// from zero. A term it led that is not on its disk was never durable, so nothing of that
    /// leadership left it (checked by `on_sent`) and it may lead that term again: its entries
    /// of that term exist nowhere any more, and Log Matching forgets them. (A single voter
    /// elects itself without any message, so this happens.)
    pub fn on_crash(&mut self, node: NodeId, durable_term: Term) {
        self.seen[node as usize - 1] = Seen::default();
        let lost: Vec<Term> = self
            .leaders
            .iter()
            .filter(|&(&t, &l)| l == node && t > durable_term)
            .map(|(&t, _)| t)
            .collect();
        if lost.is_empty() {
            return;
        }
        for t in &lost {
            self.leaders.remove(t);
        }
        self.appended.retain(|(_, t), _| !lost.contains(t));
    }

    /// A node appended `entries` (a contiguous run; the entry before the first has `prev_term`)
    /// to a log that was `before` and now is `log`.
    pub fn on_append(
        &mut self,
        node: NodeId,
        entries: &[Entry],
        prev_term: Term,
        before: &Disk,
        log: &RaftLog,
    ) -> Result<(), Violation> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        if before.term(first.index) == Some(first.term) {
            return Err(Violation::NeedlessTruncation {
                node,
                index: first.index,
            });
        }
        let mut prev = prev_term;
        for e in entries {
            let fail = |why: String| Violation::LogMatching {
                node,
                index: e.index,
                term: e.term,
                why,
            };
            match self.appended.get(&(e.index, e.term)) {
                Some((payload, _)) if *payload != e.payload => {
                    return Err(fail(format!(
                        "payload {:?} here, {payload:?} elsewhere",
                        e.payload
                    )));
                }
                Some((_, p)) if *p != prev => {
                    return Err(fail(format!("preceded by term {prev} here, {p} elsewhere")));
                }
                Some(_) => {}
                None => {
                    if let Payload::Membership(m) = &e.payload {
                        self.configs_appended = true;
                        self.check_new_config(node, e, m, log)?;
                    }
                    self.appended
                        .insert((e.index, e.term), (e.payload.clone(), prev));
                }
            }
            prev = e.term;
        }
        Ok(())
    }

    /// Checks a node's state after a step: its disk mirrors its log, indexes only grow, at most one
    /// leader per term, and a new leader holds every committed entry.
    pub fn on_status(
        &mut self,
        st: &Status,
        log: &RaftLog,
        written: &Disk,
    ) -> Result<(), Violation> {
        let node = st.id;
        check_mirror(st, log, written)?;
        let seen = self.seen[node as usize - 1];
        if st.commit_index < seen.commit {
            let why = format!("commit went from {} to {}", seen.commit, st.commit_index);
            return Err(Violation::Monotonicity { node, why });
        }
        if st.applied_index > seen.applied {
            // E.g. a node restarted with a hole between its snapshot and its log.
            return Err(Violation::LostWrites {
                node,
                first: seen.applied + 1,
                last: st.applied_index,
            });
        }
        if st.applied_index < seen.applied {
            let why = format!(
                "core says applied {} but handed out {}",
                st.applied_index, seen.applied
            );
            return Err(Violation::Contract { node, why });
        }
        for index in seen.commit + 1..=st.commit_index {
            if index < log.prev_index() {
                // Compacted here: the snapshot covering it was checked whole when installed or
                // restored, and the prefix entry is recorded below.
                continue;
            }
            self.record_commit(node, index, log.term(index), st.term)?;
        }
        self.seen[node as usize - 1].commit = st.commit_index;
        if st.role == Role::Leader {
            match self.leaders.get(&st.term) {
                Some(&other) if other != node => {
                    return Err(Violation::ElectionSafety {
                        term: st.term,
                        leaders: [other, node],
                    });
                }
                Some(_) => {}
                None => {
                    self.leaders.insert(st.term, node);
                    self.check_elected(node, st.term)?;
                    self.check_completeness(node, st.term, log)?;
                }
            }
        }
        Ok(())
    }

    fn record_commit(
        &mut self,
        node: NodeId,
        index: Index,
        term: Option<Term>,
        node_term: Term,
    ) -> Result<(), Violation> {
        let Some(term) = term else {
            let why = "commit index beyond its own log".to_string();
            return Err(Violation::Contract { node, why });
        };
        match self.committed.get(index as usize - 1) {
            Some(&t) if t != term => Err(Violation::StateMachineSafety {
                node,
                index,
                why: format!("committed an entry of term {term}, elsewhere term {t}"),
            }),
            Some(_) => Ok(()),
            None if index != self.commit_index() + 1 => Err(Violation::Contract {
                node,
                why: format!(
                    "committed {index} through a snapshot no node had committed (the cluster's \
                     commit index is {})",
                    self.commit_index()
                ),
            }),
            None => {
                self.committed.push(term);
                self.committed_by_term.insert(node_term, index);
                self.commit_grew_in_term = Some(node_term);
                Ok(())
            }
        }
    }

    /// Leader Completeness: `leader` of `term` holds the highest entry committed in an earlier
    /// term (and so, by Log Matching, every one before it). A leader may be elected late — its
    /// votes delayed in the network — after a later term committed more; it need not hold that.
    pub fn check_completeness(
        &self,
        leader: NodeId,
        term: Term,
        log: &RaftLog,
    ) -> Result<(), Violation> {
        let Some(index) = self.committed_by_term.range(..term).map(|(_, &i)| i).max() else {
            return Ok(());
        };
        let t = self.committed[index as usize - 1];
        if log.matches(index, t) {
            return Ok(());
        }
        // Compacted away: the prefix, a committed entry at or after `index`, holds it for the log.
        let (prefix, prefix_term) = (log.prev_index(), log.term(log.prev_index()));
        if index < prefix && prefix_term.is_some() && self.committed_term(prefix) == prefix_term {
            return Ok(());
        }
        Err(Violation::LeaderCompleteness {
            leader,
            term,
            missing: (index, t),
        })
    }

    /// §5.2: a leader of `term` was granted votes of that term by a majority (itself included);
    /// the votes are those sent, which a candidate can only count after they left.
    fn check_elected(&self, leader: NodeId, term: Term) -> Result<(), Violation> {
        let Some((ids, majority)) = &self.fixed_voters else {
            return Ok(());
        };
        let voters: Vec<NodeId> = ids
            .iter()
            .copied()
            .filter(|&v| v == leader || self.votes.get(&(v, term)) == Some(&leader))
            .collect();
        if voters.len() < *majority {
            return Err(Violation::Unelected {
                leader,
                term,
                voters,
            });
        }
        Ok(())
    }

    /// `node` voted for `candidate` in `term` (seen in a persisted hard state or a granted vote).
    pub fn on_vote(
        &mut self,
        node: NodeId,
        term: Term,
        candidate: NodeId,
    ) -> Result<(), Violation> {
        let first = *self.votes.entry((node, term)).or_insert(candidate);
        if first != candidate {
            return Err(Violation::DoubleVote {
                node,
                term,
                candidates: [first, candidate],
            });
        }
        Ok(())
    }

    /// `node` sends `msg` to `to` while its disk holds `storage`. An acknowledgement through
    /// `index` promises the entries through it are durable: in the log, or in the snapshot its
    /// prefix stands for.
    pub fn on_sent(
        &mut self,
        node: NodeId,
        to: NodeId,
        msg: &Message,
        storage: &Storage,
    ) -> Result<(), Violation> {
        let durable = &storage.durable;
        match msg.body {
            Body::VoteResponse { granted: true } => {
                self.on_vote(node, msg.term, to)?;
                let hs = durable.hard_state;
                if self.check_promises && (hs.term != msg.term || hs.vote != Some(to)) {
                    let why = format!(
                        "granted {to} in term {} but the disk holds {hs:?}",
                        msg.term
                    );
                    return Err(Violation::BrokenPromise { node, why });
                }
            }
            // Only a leader sends these: its term must be durable first, or a crash could let
            // it lead the term again with other entries at the same indexes (Figure 2).
            Body::Append { .. }
            | Body::Heartbeat { .. }
            | Body::Snapshot { .. }
            | Body::TimeoutNow
                if self.check_promises && durable.hard_state.term < msg.term =>
            {
                let why = format!(
                    "sent a leader's message of term {} but the disk holds term {}",
                    msg.term, durable.hard_state.term
                );
                return Err(Violation::BrokenPromise { node, why });
            }
            Body::AppendResponse {
                success: true,
                index,
                ..
            } if self.check_promises => {
                let snapshot = storage.snapshots.newest_index();
                if durable.last_index() < index || durable.prev_index > snapshot {
                    let why = format!(
                        "acknowledged {index} but the disk holds the log ({}, {}] and a \
                         snapshot through {snapshot}",
                        durable.prev_index,
                        durable.last_index()
                    );
                    return Err(Violation::BrokenPromise { node, why });
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A client issued read `id`: it must observe everything committed by now.
    pub fn on_read_issued(&mut self, id: u64) {
        self.reads.insert(id, self.commit_index());
    }

    /// A node answered a read.
    pub fn on_read_answered(&mut self, node: NodeId, read: ReadState) -> Result<(), Violation> {
        let Some(index) = read.index else {
            return Ok(());
        };
        let Some(&required) = self.reads.get(&read.id) else {
            let why = format!("answered read {} that nobody issued", read.id);
            return Err(Violation::Contract { node, why });
        };
        if index < required {
            return Err(Violation::StaleRead {
                node,
                id: read.id,
                index,
                required,
            });
        }
        if index > self.commit_index() {
            let why = format!("read {} answered at uncommitted index {index}", read.id);
            return Err(Violation::Contract { node, why });
        }
        Ok(())
    }
}

/// The disk must hold what the core believes its log and hard state are (once written).
/// Compaction and installed snapshots move the prefix of both alike.
fn check_mirror(st: &Status, log: &RaftLog, written: &Disk) -> Result<(), Violation> {
    if written.prev_index != log.prev_index() {
        let why = format!(
            "log starts after {} but the writes handed out start after {}",
            log.prev_index(),
            written.prev_index
        );
        return Err(Violation::Contract { node: st.id, why });
    }
    let last = written.last_index();
    if last != log.last_index() || written.term(last) != Some(log.last_term()) {
        let why = format!(
            "log ends at ({}, {}) but the writes handed out end at ({last}, {:?})",
            log.last_index(),
            log.last_term(),
            written.term(last)
        );
        return Err(Violation::Contract { node: st.id, why });
    }
    let hs = written.hard_state;
    if hs.term != st.term || hs.vote != st.vote {
        let why = format!(
            "term {} vote {:?} but the writes handed out say {hs:?}",
            st.term, st.vote
        );
        return Err(Violation::Contract { node: st.id, why });
    }
    Ok(())
}
