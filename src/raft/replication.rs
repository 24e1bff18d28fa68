//! Log replication and the commit rule (§5.3, §5.4), with batching, pipelining and fast backtracking.

use super::config::InjectedBug;
use super::early::EarlyAppend;
use super::message::{Body, ConflictHint};
use super::node::Raft;
use super::progress::Mode;
use super::types::{Entry, Index, NodeId, Role, Term};

impl Raft {
    /// A follower's `Append` (§5.3): kept for later if it arrived before the one it continues
    /// (see `early`), else stepped, and then every kept one the log now reaches.
    pub(super) fn handle_append(
        &mut self,
        from: NodeId,
        prev_log_index: Index,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: Index,
    ) {
        let mut append = EarlyAppend {
            from,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
        };
        if prev_log_index > self.log.last_index() {
            match self.keep_early_append(append) {
                Ok(()) => return,
                Err(refused) => append = refused,
            }
        }
        self.step_append(
            from,
            prev_log_index,
            prev_log_term,
            append.entries,
            leader_commit,
        );
        self.replay_early_appends();
    }

    /// Steps one `Append` now: rejects it, or appends what it carries and acknowledges it.
    pub(super) fn step_append(
        &mut self,
        from: NodeId,
        prev_log_index: Index,
        prev_log_term: Term,
        mut entries: Vec<Entry>,
        leader_commit: Index,
    ) {
        if prev_log_index < self.commit {
            // Everything through our commit index matches any leader's log; answer for that part
            // only, so a stale or duplicated message can never truncate committed entries.
            let mut index = self.commit;
            if self.bug(InjectedBug::AckStaleAppendByLength) {
                index = index.max(prev_log_index + entries.len() as Index);
            }
            self.acknowledge_append(from, index);
            return;
        }
        if !self.log.matches(prev_log_index, prev_log_term) {
            let Some(term) = self.log.term(prev_log_index) else {
                self.reject_beyond_log_end(from, prev_log_index);
                return;
            };
            let hint = ConflictHint {
                conflict_term: Some(term),
                first_index: self.log.first_index_of_term_at(prev_log_index),
            };
            self.send_after_persist(
                from,
                Body::AppendResponse {
                    success: false,
                    index: prev_log_index,
                    hint: Some(hint),
                },
            );
            return;
        }
        if !well_formed(prev_log_index, prev_log_term, &entries) {
            // Only a broken or hostile peer sends this; appending it would corrupt the log.
            return;
        }
        let last_new = prev_log_index + entries.len() as Index;
        // Skip what we already hold: a reordered or duplicated message must not truncate a log that
        // has no conflict (§5.3: delete only on a conflicting entry).
        let conflict = if self.bug(InjectedBug::TruncateOnStaleAppend) && !entries.is_empty() {
            Some(0)
        } else {
            entries
                .iter()
                .position(|e| !self.log.matches(e.index, e.term))
        };
        if let Some(at) = conflict {
            // Hand over the message's own entries: no second copy of each payload handle.
            entries.drain(..at);
            self.append_from_leader(entries);
        }
        let new_commit = leader_commit.min(last_new);
        if new_commit > self.commit {
            self.commit = new_commit;
        }
        self.early.accepted(self.term);
        self.acknowledge_append(from, last_new);
    }

    pub(super) fn acknowledge_append(&mut self, to: NodeId, index: Index) {
        let body = Body::AppendResponse {
            success: true,
            index,
            hint: None,
        };
        if self.bug(InjectedBug::AckBeforePersist) {
            self.send(to, body);
        } else {
            self.send_after_persist(to, body);
        }
    }

    pub(super) fn handle_append_response(
        &mut self,
        from: NodeId,
        success: bool,
        index: Index,
        hint: Option<ConflictHint>,
    ) {
        if self.role != Role::Leader {
            return;
        }
        let last_index = self.log.last_index();
        let prefix = self.log.prev_index();
        let next = if success {
            None
        } else {
            hint.map(|h| self.next_after_conflict(index, h))
        };
        let Some(pr) = self.progress_mut(from) else {
            return;
        };
        pr.recent_active = true;
        if success {
            // Clamp: a follower never acknowledges beyond what we sent, but be defensive.
            let index = index.min(last_index);
            if pr.mode == Mode::Snapshot && index < prefix {
                // A late answer to an old append: the follower still needs the snapshot.
                pr.match_index = pr.match_index.max(index);
                // Or it installed the snapshot being sent while we compacted past it: sending
                // that one again would only be answered with this again. Send the newest.
                if pr.snapshot_index != 0 && index >= pr.snapshot_index {
                    self.start_snapshot(from);
                }
                return;
            }
            if pr.acknowledge(index) {
                self.maybe_commit();
                if let Some((target, _)) = self.transfer {
                    if target == from {
                        self.maybe_send_timeout_now(from);
                    }
                }
            }
            return;
        }
        // A rejection is stale if it answers something older than what we now probe for.
        let stale = match pr.mode {
            Mode::Replicate => index <= pr.match_index,
            Mode::Probe => index + 1 != pr.next_index,
            Mode::Snapshot => true,
        };
        if stale {
            return;
        }
        let next = next.unwrap_or(index).min(index).max(1);
        pr.become_probe(next);
    }

    /// Where to retry after a rejection of `prev_log_index = rejected` (fast backtracking): skip the
    /// follower's whole conflicting term, or jump to its log end.
    fn next_after_conflict(&self, rejected: Index, hint: ConflictHint) -> Index {
        let next = match hint.conflict_term {
            Some(term) => match self.log.last_index_of_term(term) {
                Some(last) => last + 1,
                None => hint.first_index,
            },
            None => hint.first_index,
        };
        next.min(rejected)
    }

    pub(super) fn handle_heartbeat(&mut self, from: NodeId, commit: Index, read_seq: u64) {
        // The leader sends at most our match index, so this never commits an unverified entry; the
        // clamp guards against a log that lost its unsynced tail.
        let commit = commit.min(self.log.last_index());
        if commit > self.commit {
            self.commit = commit;
        }
        self.send(from, Body::HeartbeatResponse { read_seq });
    }

    pub(super) fn handle_heartbeat_response(&mut self, from: NodeId, read_seq: u64) {
        if self.role != Role::Leader {
            return;
        }
        let last_index = self.log.last_index();
        let max_inflight = self.cfg.max_inflight_msgs;
        let followers_keep_early = self.cfg.max_early_appends > 0;
        let Some(pr) = self.progress_mut(from) else {
            return;
        };
        pr.recent_active = true;
        pr.read_seq_acked = pr.read_seq_acked.max(read_seq);
        let stalled = pr.match_index == pr.heartbeat_match;
        pr.heartbeat_match = pr.match_index;
        let mut send_probe = false;
        let mut resend = None;
        if pr.match_index < last_index {
            match pr.mode {
                Mode::Probe => {
                    // The outstanding probe may have been lost: allow another.
                    pr.probe_sent = false;
                }
                Mode::Replicate if stalled && followers_keep_early => {
                    // Nothing acknowledged for a heartbeat round: the oldest Append in flight
                    // was probably lost, and the follower keeps the later ones until it arrives
                    // (`early`). Send it again, without giving up the pipeline.
                    resend = Some(pr.match_index + 1);
                }
                Mode::Replicate => {
                    // An Append may have been lost: free a slot and send from `next`; if the
                    // follower misses entries it rejects and we fall back to probing.
                    if pr.inflight.len() >= max_inflight {
                        pr.inflight.pop_front();
                    }
                    send_probe = true;
                }
                Mode::Snapshot => {}
            }
        }
        if pr.mode == Mode::Snapshot {
            self.retry_snapshot(from);
        } else if let Some(next) = resend {
            self.resend_append(from, next);
        } else if send_probe {
            self.send_append(from, true);
        }
        self.confirm_reads();
    }

    /// Sends every peer what it lacks, as far as flow control allows. Called once per output batch,
    /// so all proposals of a turn travel in one message per follower.
    pub(super) fn broadcast_appends(&mut self) {
        for i in 0..self.progress.len() {
            let peer = self.progress[i].0;
            while self.send_append(peer, false) {}
        }
    }

    /// Sends `peer` again the `Append` that starts at `next`, leaving its progress (next index,
    /// messages in flight) as it is.
    fn resend_append(&mut self, peer: NodeId, next: Index) {
        let Some(prev_log_term) = self.log.term(next - 1) else {
            self.start_snapshot(peer);
            return;
        };
        let entries = self.entries_from(next);
        let leader_commit = self.commit;
        self.send(
            peer,
            Body::Append {
                prev_log_index: next - 1,
                prev_log_term,
                entries,
                leader_commit,
            },
        );
    }

    /// The entries from `next` one `Append` carries: at least one if there is any, within
    /// `max_entries_per_msg` and `max_bytes_per_msg`.
    fn entries_from(&self, next: Index) -> Vec<Entry> {
        let (max_entries, max_bytes) = (self.cfg.max_entries_per_msg, self.cfg.max_bytes_per_msg);
        let mut entries = Vec::new();
        let mut bytes = 0;
        for e in self.log.slice(next, self.log.last_index()) {
            bytes += e.size_bytes();
            if !entries.is_empty() && (entries.len() >= max_entries || bytes > max_bytes) {
                break;
            }
            entries.push(e.clone());
        }
        entries
    }

    /// Sends `peer` one `Append` from its next index. Returns true if one with entries was sent.
    pub(super) fn send_append(&mut self, peer: NodeId, allow_empty: bool) -> bool {
        let last_index = self.log.last_index();
        let max_inflight = self.cfg.max_inflight_msgs;
        let Some(pr) = self.progress_mut(peer) else {
            return false;
        };
        if pr.mode == Mode::Snapshot || (pr.is_paused(max_inflight) && !allow_empty) {
            return false;
        }
        let next = pr.next_index;
        if next > last_index && !allow_empty {
            return false;
        }
        let prev_log_index = next - 1;
        let Some(prev_log_term) = self.log.term(prev_log_index) else {
            // Compacted away: only a snapshot can bring this follower up (§7).
            self.start_snapshot(peer);
            return false;
        };
        let entries = self.entries_from(next);
        let carried = !entries.is_empty();
        let last = prev_log_index + entries.len() as Index;
        let leader_commit = self.commit;
        let pr = self.progress_mut(peer).expect("checked above");
        pr.sent(last, carried);
        self.send(
            peer,
            Body::Append {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            },
        );
        carried
    }

    pub(super) fn broadcast_heartbeats(&mut self) {
        if self.cfg.lease_reads {
            self.reads.sent_round(self.lease_clock);
        }
        let read_seq = self.reads.current_seq();
        for i in 0..self.progress.len() {
            let (peer, ref pr) = self.progress[i];
            // Never tell a follower to commit beyond what it is known to hold.
            let commit = self.commit.min(pr.match_index);
            self.send(peer, Body::Heartbeat { commit, read_seq });
        }
    }

    /// Advances the commit index to the highest index held durably by a majority, if that entry is
    /// from the current term (§5.4.2, Figure 8).
    pub(super) fn maybe_commit(&mut self) {
        // Voters of the configuration in effect only; a leader removing itself does not count
        // its own log (thesis §4.2.2).
        let own = if self.bug(InjectedBug::CountOwnUnsyncedEntries) {
            self.log.last_index()
        } else {
            self.persisted
        };
        let candidate = self.quorum_value(own, |p| p.match_index);
        if candidate <= self.commit {
            return;
        }
        let own_term = self.log.term(candidate) == Some(self.term);
        let bug = self.bug(InjectedBug::CommitPreviousTermByCounting);
        if own_term || bug {
            let first_commit_in_term = self.log.term(self.commit) != Some(self.term);
            self.commit = candidate;
            if first_commit_in_term {
                self.on_first_commit_in_term();
            }
            self.confirm_reads();
            self.maybe_step_down_removed();
        }
    }

    pub(super) fn maybe_send_timeout_now(&mut self, target: NodeId) {
        if self.match_index(target) == Some(self.log.last_index()) {
            self.hand_off(target);
        }
    }

    pub(super) fn progress_mut(&mut self, peer: NodeId) -> Option<&mut super::progress::Progress> {
        self.progress
            .iter_mut()
            .find(|(id, _)| *id == peer)
            .map(|(_, p)| p)
    }
}

/// True if `entries` continue the log right after `(prev_log_index, prev_log_term)`: contiguous
/// indexes and non-decreasing terms.
fn well_formed(prev_log_index: Index, prev_log_term: Term, entries: &[Entry]) -> bool {
    let mut term = prev_log_term;
    for (expected, e) in (prev_log_index + 1..).zip(entries) {
        if e.index != expected || e.term < term {
            return false;
        }
        term = e.term;
    }
    true
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use rand::{rngs::StdRng, SeedableRng};

    use crate::raft::{Body, Config, Entry, Message, Payload, Raft, Restored};

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            payload: Payload::Command(Bytes::from_static(b"x")),
        }
    }

    fn append(prev: u64, entries: Vec<Entry>, commit: u64) -> Message {
        Message {
            term: 2,
            body: Body::Append {
                prev_log_index: prev,
                prev_log_term: if prev == 0 { 0 } else { 1 },
                entries,
                leader_commit: commit,
            },
        }
    }

    fn follower() -> Raft {
        let cfg = Config::new(1, vec![1, 2, 3]);
        Raft::new(cfg, Restored::default(), Box::new(StdRng::seed_from_u64(1))).unwrap()
    }

    #[test]
    fn malformed_or_commit_rewriting_appends_are_dropped_not_obeyed() {
        let mut r = follower();
        // Indexes with a gap, and terms that go down: dropped, the log stays empty.
        r.step(2, append(0, vec![entry(1, 1), entry(3, 1)], 0));
        r.step(2, append(0, vec![entry(1, 2), entry(2, 1)], 0));
        assert_eq!(r.log().last_index(), 0);
        // A valid append commits index 1; a later one rewriting index 1 is dropped.
        r.step(2, append(0, vec![entry(1, 1), entry(2, 1)], 1));
        assert_eq!(r.status().commit_index, 1);
        r.step(2, append(0, vec![entry(1, 2)], 1));
        assert_eq!(r.log().term(1), Some(1), "a committed entry never changes");
        assert_eq!(r.log().last_index(), 2);
    }
}
