//! The liveness phase: once the faults stop, the cluster must elect a leader and commit a new
//! proposal on every live node within a bounded number of ticks.

use raftkv::raft::{Index, Membership, NodeId, Term};

use super::cluster::Sim;
use super::config::TICK_US;
use super::trace::What;
use super::violation::Violation;

/// Ticks allowed from "faults stop" to "a new proposal is applied on every live node", besides
/// the time to ship the backlog (see [`Sim::liveness_bound_ticks`]).
///
/// Why this much: a stale message delayed up to 30 ticks may still arrive and a node may sit in
/// its leader lease (10 ticks); then an election needs an election timeout (10–20 ticks), and a
/// split vote costs another; a leader elected on a partly unsynced log may need a round of probing.
/// The worst seen over 2,000 seeds is printed by the seeds test and stays well below this.
pub const LIVENESS_BOUND_TICKS: u64 = 200;

/// Ticks allowed per round trip of the replication pipeline while shipping a backlog, at least:
/// a lost message costs a heartbeat interval.
const TICKS_PER_ROUND_TRIP_MIN: u64 = 2;

impl Sim {
    /// Stops every fault (heals the network, makes it lossless, restarts nodes until a majority is
    /// up — some others stay down), then waits for a leader and a fresh proposal applied on every
    /// live node. Returns the ticks that took.
    pub fn check_liveness(&mut self, bound_ticks: u64) -> Result<u64, Violation> {
        self.stop_chaos();
        self.resume_all()?;
        self.restore_clocks();
        self.heal();
        self.net.cfg.loss_ratio = 0.0;
        self.net.cfg.duplicate_ratio = 0.0;
        self.net.cfg.long_delay_ratio = 0.0;
        if self.cfg.changes_membership() || self.checker.configs_changed() {
            self.restart_voters()?;
        } else {
            let down: Vec<NodeId> = self
                .cfg
                .voters()
                .into_iter()
                .filter(|&id| !self.node(id).is_up())
                .collect();
            let missing = self.quorum().saturating_sub(self.up_nodes().len());
            for (i, id) in down.into_iter().enumerate() {
                if i < missing || rand::RngExt::random_bool(&mut self.rng, 0.5) {
                    self.restart(id)?;
                }
            }
        }
        let start_us = self.now_us;
        let bound_ticks = self.liveness_bound_ticks(bound_ticks);
        let deadline_us = start_us + bound_ticks * TICK_US;
        // Where each attempt landed; a deposed leader's attempt may be overwritten, so every new
        // leader gets its own.
        let mut attempts: Vec<(NodeId, Index, Term)> = Vec::new();
        loop {
            if attempts
                .iter()
                .any(|&(_, i, t)| self.applied_everywhere(i, t))
            {
                let ticks = (self.now_us - start_us).div_ceil(TICK_US);
                self.stats.liveness_ticks_max = self.stats.liveness_ticks_max.max(ticks);
                let margin = bound_ticks.saturating_sub(ticks);
                self.stats.liveness_margin_ticks_min =
                    self.stats.liveness_margin_ticks_min.min(margin);
                return Ok(ticks);
            }
            if self.now_us > deadline_us {
                let why = format!(
                    "no proposal applied on every live node within {bound_ticks} ticks of the \
                     faults stopping; leaders {:?}, attempts {attempts:?}; nodes:\n{}",
                    self.leaders(),
                    self.describe_nodes()
                );
                return Err(Violation::Liveness { why });
            }
            if let Some(leader) = self.leader() {
                self.shut_down_outsiders(leader)?;
                let term = self.node(leader).status().map_or(0, |s| s.term);
                let tried = attempts.iter().any(|&(l, _, t)| (l, t) == (leader, term));
                if !tried {
                    let data = self.next_payload();
                    if let Some((index, term)) = self.propose(leader, data)? {
                        attempts.push((leader, index, term));
                    }
                }
            }
            self.step()?;
        }
    }

    /// Gives each down node an even chance to come back, then restarts every down voter of a
    /// configuration that may matter — the committed one and each one in effect on a running
    /// node (a restarted node may bring another). A majority of each is not enough: a learner
    /// may hold the most up-to-date log (a leader sent it entries no voter got) while a
    /// promotion it never received makes it a voter for the others; it refuses their votes and,
    /// a learner by its own log, never campaigns, so only the voter that led it can win
    /// (membership seed 22966).
    fn restart_voters(&mut self) -> Result<(), Violation> {
        for id in self.cfg.ids() {
            if !self.node(id).is_up() && rand::RngExt::random_bool(&mut self.rng, 0.5) {
                self.restart(id)?;
            }
        }
        loop {
            let mut configs: Vec<Membership> = self
                .nodes
                .iter()
                .filter_map(|n| Some(n.raft.as_ref()?.membership().clone()))
                .collect();
            let committed = self.checker.config_at(self.checker.commit_index());
            configs.push(committed.map_or_else(
                || Membership::new(self.cfg.voters(), Vec::new()),
                |c| c.membership.clone(),
            ));
            let down = configs
                .iter()
                .flat_map(|m| m.voters.iter().copied())
                .find(|&v| !self.node(v).is_up());
            match down {
                Some(id) => self.restart(id)?,
                None => return Ok(()),
            }
        }
    }

    /// Once the configuration of `leader` is committed, shuts down the running nodes outside
    /// it, as an operator does with removed servers (thesis §4.2.3: a removed server that does
    /// not know it was removed disrupts the cluster with elections while it runs). Nodes never
    /// added are shut down too: they have nothing to do.
    fn shut_down_outsiders(&mut self, leader: NodeId) -> Result<(), Violation> {
        let raft = self.node(leader).raft();
        if raft.membership_index() > raft.status().commit_index {
            return Ok(());
        }
        let members = raft.membership().clone();
        for id in self.cfg.ids() {
            if self.node(id).is_up() && !members.contains(id) {
                self.crash(id)?;
                self.trace.push(self.now_us, What::Shutdown(id));
            }
        }
        Ok(())
    }

    /// `base_ticks` plus the time to ship the backlog: a new leader must first replicate every
    /// entry any live node lacks beyond the lowest commit index (it can only commit its own term's
    /// entries after them), `max_entries_per_msg × max_inflight_msgs` per round trip. A round trip
    /// is two network delays and a follower's sync at their slowest (up to 8 + 15 + 8 ms, three
    /// ticks or more): a seed with a backlog of 1,224 one-entry messages needed 562 ticks where a
    /// flat two ticks per round trip allowed 506 (seed 5007239).
    pub fn liveness_bound_ticks(&self, base_ticks: u64) -> u64 {
        // Only members of some configuration in play get entries: not the joining nodes never
        // added, nor the nodes removed for good.
        let running: Vec<_> = self.nodes.iter().filter_map(|n| n.raft.as_ref()).collect();
        let up: Vec<_> = running
            .iter()
            .map(|r| r.status())
            .filter(|s| running.iter().any(|r| r.membership().contains(s.id)))
            .collect();
        let last = up.iter().map(|s| s.last_index).max().unwrap_or(0);
        let commit = up.iter().map(|s| s.commit_index).min().unwrap_or(0);
        let per_round_trip =
            (self.cfg.core.max_entries_per_msg * self.cfg.core.max_inflight_msgs).max(1) as u64;
        let round_trip_us = 2 * self.cfg.net.delay_us_max + self.cfg.disk.sync_us_max;
        let ticks_per_round_trip = round_trip_us
            .div_ceil(TICK_US)
            .max(TICKS_PER_ROUND_TRIP_MIN);
        let backlog_round_trips = (last - commit).div_ceil(per_round_trip);
        base_ticks + (backlog_round_trips + self.snapshot_round_trips()) * ticks_per_round_trip
    }

    /// Round trips to bring a node up by snapshot when compaction is on: one per chunk of the
    /// largest snapshot held, twice (a follower may install one snapshot just as the leader
    /// compacts past it, and need the next).
    fn snapshot_round_trips(&self) -> u64 {
        if self.cfg.snapshot.every_entries.is_none() {
            return 0;
        }
        let largest = self
            .nodes
            .iter()
            .filter_map(|n| Some(n.state.encode_snapshot(n.raft.as_ref()?.membership_entry())))
            .map(|bytes| bytes.len())
            .max();
        let chunks = (largest.unwrap_or(0) as u64).div_ceil(self.cfg.snapshot.chunk_bytes as u64);
        2 * (chunks + 1)
    }

    /// One line per node: up or down, role, term, log end, commit index, configuration.
    fn describe_nodes(&self) -> String {
        let lines: Vec<String> = self
            .nodes
            .iter()
            .map(|n| match n.raft.as_ref() {
                None => format!("  n{} down", n.id),
                Some(r) => {
                    let st = r.status();
                    format!(
                        "  n{} {} term {} log ({}, {}) commit {} config {} (at {})",
                        n.id,
                        st.role,
                        st.term,
                        st.last_index,
                        r.log().last_term(),
                        st.commit_index,
                        r.membership(),
                        r.membership_index()
                    )
                }
            })
            .collect();
        lines.join("\n")
    }

    /// True if every running node has applied the entry `(index, term)` — every running
    /// member of the leader's configuration, when there is a leader: other nodes get no entries.
    pub fn applied_everywhere(&self, index: Index, term: Term) -> bool {
        let members = self.leader().map(|l| self.node(l).raft().membership());
        self.nodes
            .iter()
            .filter(|n| n.is_up() && members.is_none_or(|m| m.contains(n.id)))
            .all(|n| self.applied_on(n.id, index, term))
    }

    /// True if node `id` has applied the entry `(index, term)`, one by one or inside a snapshot
    /// (the checker holds every node to the same entry at each index).
    pub fn applied_on(&self, id: NodeId, index: Index, term: Term) -> bool {
        self.node(id).state.index >= index && self.checker.committed_term(index) == Some(term)
    }
}
