//! The simulated operator: random membership changes, one server at a time (thesis §4.1),
//! interleaved with the faults. It adds learners, promotes them, removes voters (the leader
//! too), demotes voters to learners and removes learners, and now and then asks for a
//! replacement (one voter out, one in) in a single change, which the core must refuse; then it
//! does the promotion alone, as an operator told "one at a time" would. Like a real operator it
//! retries a change the core refused for now (`InProgress`, `NotReady`, no leader, a transfer
//! under way) a little later, re-reading the configuration each time, and gives up after
//! [`OperatorConfig::attempts_max`] attempts.

use bytes::Bytes;
use raftkv::raft::{ChangeError, Index, Membership, MembershipEntry, NodeId, Term};
use rand::RngExt;

use super::cluster::Sim;
use super::config::TICK_US;
use super::events::Event;
use super::operation::{Op, OperatorConfig, Turn};
use super::trace::{mask, What};
use super::violation::Violation;

impl Sim {
    /// Proposes `membership` at node `id` (a script's or the operator's change). Returns where
    /// the core appended it, or why it refused; `Ok(Err(NotLeader))` for a node that is down.
    pub fn propose_membership(
        &mut self,
        id: NodeId,
        membership: Membership,
    ) -> Result<Result<(Index, Term), ChangeError>, Violation> {
        let paused = self.is_paused(id);
        let Some(raft) = self.nodes[id as usize - 1]
            .raft
            .as_mut()
            .filter(|_| !paused)
        else {
            let leader = None;
            return Ok(Err(raftkv::raft::ProposeError::NotLeader { leader }.into()));
        };
        let (voters, learners) = (mask(&membership.voters), mask(&membership.learners));
        let entry = MembershipEntry {
            membership,
            context: Bytes::from(format!("{}:{}", self.cfg.seed, self.stats.changes + 1)),
        };
        let (index, term) = match raft.propose_membership(entry) {
            Ok(at) => at,
            Err(e) => return Ok(Err(e)),
        };
        self.stats.changes += 1;
        let what = What::Change {
            node: id,
            index,
            term,
            voters,
            learners,
        };
        self.trace.push(self.now_us, what);
        self.drive(id)?;
        Ok(Ok((index, term)))
    }

    /// The operator's turn: retries the pending operation or picks a new one, and proposes it
    /// to the leader of the highest term.
    pub(super) fn operator_turn(&mut self, turn: Turn) -> Result<(), Violation> {
        let Some(cfg) = self.chaos.as_ref().and_then(|c| c.operator.clone()) else {
            return Ok(());
        };
        if turn == Turn::Periodic {
            let gap_us = self
                .rng
                .random_range(TICK_US / 2..=cfg.gap_ticks_max * TICK_US);
            let turn = Event::Operator(Turn::Periodic);
            self.queue.push(self.now_us + gap_us, turn);
        }
        let Some(leader) = self.leader() else {
            return self.operator_retry_later(&cfg);
        };
        let current = self.node(leader).raft().membership().clone();
        let (op, attempts) = match self.operator.pending {
            Some(pending) => pending,
            None if turn == Turn::Retry => return Ok(()),
            None => match Op::pick(&mut self.rng, &cfg, &self.cfg.ids(), leader, &current) {
                Some(op) => (op, 0),
                None => return Ok(()),
            },
        };
        let Some(next) = op.apply(&current) else {
            self.operator.pending = None;
            return Ok(());
        };
        self.operator.pending = Some((op, attempts + 1));
        match self.propose_membership(leader, next.clone())? {
            Ok(_) => {
                self.operator.pending = None;
                let ratio = cfg.cut_after_change_ratio;
                if ratio > 0.0 && self.rng.random_bool(ratio) {
                    self.cut_after_change(leader, &current, &next);
                }
            }
            Err(ChangeError::Invalid(_)) => {
                self.stats.changes_invalid += 1;
                // "Change one at a time": do the promotion alone; the removal may come later.
                self.operator.pending = match op {
                    Op::Replace { promote, .. } => Some((Op::Promote(promote), 0)),
                    _ => None,
                };
                if self.operator.pending.is_some() {
                    return self.operator_retry_later(&cfg);
                }
            }
            Err(_) => {
                self.stats.changes_refused += 1;
                return self.operator_retry_later(&cfg);
            }
        }
        Ok(())
    }

    /// Cuts the network right after `leader` appended `next` in place of `current`: a leader
    /// adding voters is cut off with them (the change reaches them only), and voters being
    /// removed are cut off (as if decommissioned at once: what the leader sent them last is
    /// lost).
    fn cut_after_change(&mut self, leader: NodeId, current: &Membership, next: &Membership) {
        let added: Vec<NodeId> = next
            .voters
            .iter()
            .copied()
            .filter(|&v| !current.is_voter(v))
            .collect();
        let removed: Vec<NodeId> = current
            .voters
            .iter()
            .copied()
            .filter(|&v| !next.is_voter(v) && v != leader)
            .collect();
        if !added.is_empty() {
            let mut side = added;
            side.push(leader);
            self.split(&side);
        } else if !removed.is_empty() {
            self.split(&removed);
        }
    }

    /// Schedules another attempt at the pending operation, or gives it up.
    fn operator_retry_later(&mut self, cfg: &OperatorConfig) -> Result<(), Violation> {
        let Some((_, attempts)) = self.operator.pending else {
            return Ok(());
        };
        if attempts >= cfg.attempts_max {
            self.operator.pending = None;
            self.stats.changes_abandoned += 1;
            return Ok(());
        }
        let delay_us = self.rng.random_range(1..=cfg.retry_ticks_max * TICK_US);
        self.queue
            .push(self.now_us + delay_us, Event::Operator(Turn::Retry));
        Ok(())
    }

    /// A new leader was elected: maybe give it an operation at once.
    pub(super) fn on_new_leader(&mut self) {
        let Some(cfg) = self.chaos.as_ref().and_then(|c| c.operator.as_ref()) else {
            return;
        };
        if cfg.after_election_ratio > 0.0 && self.rng.random_bool(cfg.after_election_ratio) {
            // Within a network delay: before any acknowledgement of the leader's no-op arrives.
            let delay_us = self.rng.random_range(1..=self.cfg.net.delay_us_min.max(1));
            let turn = Event::Operator(Turn::AfterElection);
            self.queue.push(self.now_us + delay_us, turn);
        }
    }
}
