//! The leader's view of its followers (Figure 2, matchIndex: "index of highest log entry known
//! to be replicated on server"): what a leader counts a follower as holding must be on the
//! follower's disk. Catches a leader that counts unsent entries toward a commit.

use raftkv::raft::{Index, NodeId, RaftLog, Term};

use super::super::storage::Storage;
use super::super::violation::Violation;
use super::Checker;

impl Checker {
    /// Leader `leader` of `term` (whose log is `log`) holds `match_index` for `follower`, whose
    /// disk is `storage`. Checked while the follower's durable term is still `term`: a later
    /// leader may have replaced entries legitimately, but within one term an acknowledged entry
    /// stays (compacted or installed, its prefix still vouches for it).
    pub fn check_match_index(
        &self,
        (leader, term, log): (NodeId, Term, &RaftLog),
        follower: NodeId,
        match_index: Index,
        storage: &Storage,
    ) -> Result<(), Violation> {
        let durable = &storage.durable;
        if !self.check_promises || durable.hard_state.term != term {
            return Ok(());
        }
        let held = durable.last_index() >= match_index
            && durable.prev_index <= storage.snapshots.newest_index();
        let same_entry = match (log.term(match_index), durable.term(match_index)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        if held && same_entry {
            return Ok(());
        }
        Err(Violation::MatchIndex {
            leader,
            follower,
            index: match_index,
            why: format!(
                "its disk holds the log ({}, {}] (term {:?} at {match_index}, the leader's {:?}) \
                 and a snapshot through {}",
                durable.prev_index,
                durable.last_index(),
                durable.term(match_index),
                log.term(match_index),
                storage.snapshots.newest_index()
            ),
        })
    }
}
