//! Faults of a node's process rather than its disk or links: stop-the-world pauses (a GC, a
//! swapped-out or SIGSTOPped process, a VM migration) and clocks that change their rate.
//!
//! A paused node runs nothing: its ticks are missed, the messages that reach it wait in its inbox,
//! and its disk's reports (syncs, snapshot files) wait for it too (the writer threads are stopped
//! with the process). It resumes as the replicator's lane does after a stall
//! (`src/replicator/lane.rs`, `tick_if_due`): first the writer's reports, then `note_stall` with
//! the whole tick periods it missed, then the messages that waited, in arrival order, then one
//! tick. The lease clock so never counts less time than passed, while the election timer sees
//! one tick: a stall costs no election. A crash during a pause loses the backlog.
//!
//! A clock fault sets a node's tick period to a new value. With lease reads on it stays within
//! the band the lease length allows (`Config::lease_ticks_for`: periods of two nodes differ by
//! less than a fifth): the drift band of the run's configuration, 10% at most either way.
//! Without lease reads it may halve or double. The liveness phase resumes every node and gives
//! every clock back its configured period.

use raftkv::raft::{Message, NodeId};
use rand::RngExt;

use super::cluster::Sim;
use super::config::{HarnessBug, TICK_US};
use super::events::Event;
use super::trace::What;
use super::violation::Violation;

/// What a paused node missed and what waits for it.
#[derive(Debug, Default)]
pub struct Pause {
    /// Tick events that came while it was stopped.
    pub missed_ticks: u64,
    /// Its disk's reports (`Synced`, `SnapshotWritten`), in the order they came.
    pub reports: Vec<Event>,
    /// Messages that reached its inbox, in arrival order.
    pub inbox: Vec<(NodeId, Message)>,
}

impl Sim {
    /// Stops node `id`'s process for `ticks` ticks of virtual time (nothing if it is down or
    /// paused already).
    pub fn pause(&mut self, id: NodeId, ticks: u64) {
        let node = &mut self.nodes[id as usize - 1];
        if !node.is_up() || node.paused.is_some() {
            return;
        }
        node.paused = Some(Pause::default());
        node.pauses += 1;
        let pause = node.pauses;
        self.stats.pauses += 1;
        self.trace
            .push(self.now_us, What::Pause { node: id, ticks });
        let at_us = self.now_us + ticks * TICK_US;
        self.queue.push(at_us, Event::Resume { node: id, pause });
    }

    /// Node `id`'s process runs again, in the order of the replicator's lane.
    pub fn resume(&mut self, id: NodeId) -> Result<(), Violation> {
        let node = &mut self.nodes[id as usize - 1];
        let Some(pause) = node.paused.take() else {
            return Ok(());
        };
        for report in pause.reports {
            self.dispatch_node_event(report)?;
        }
        // The lane's first tick after the stall is late by the missed periods but one.
        let missed = pause
            .missed_ticks
            .saturating_sub(1)
            .min(u64::from(u32::MAX)) as u32;
        let backlog = pause.inbox.len();
        let what = What::Resume {
            node: id,
            missed,
            backlog,
        };
        self.trace.push(self.now_us, what);
        let forget = self.cfg.harness_bug == Some(HarnessBug::StallNotReported);
        if let Some(raft) = self.nodes[id as usize - 1].raft.as_mut() {
            if !forget {
                raft.note_stall(missed);
            }
        }
        for (from, msg) in pause.inbox {
            self.step_delivered(from, id, msg)?;
        }
        if pause.missed_ticks > 0 {
            self.tick_node(id)?;
        }
        Ok(())
    }

    /// Resumes every paused node (the faults stop).
    pub(super) fn resume_all(&mut self) -> Result<(), Violation> {
        for id in self.cfg.ids() {
            self.resume(id)?;
        }
        Ok(())
    }

    /// Gives every node's clock its configured period back (the faults stop).
    pub(super) fn restore_clocks(&mut self) {
        for node in &mut self.nodes {
            node.tick_period_us = node.nominal_tick_period_us;
        }
    }

    /// A random stop-the-world pause of `id`, longer than the longest election timeout: up to
    /// four of them.
    pub(super) fn pause_for_a_while(&mut self, id: NodeId) {
        let longest = u64::from(self.cfg.core.election_timeout_ticks_max);
        let ticks = self.rng.random_range(longest + 1..=4 * longest);
        self.pause(id, ticks);
    }

    /// A random new tick rate for `id` (see the module's note for the bounds).
    pub(super) fn change_clock(&mut self, id: NodeId) {
        let period_us = if self.cfg.core.lease_reads {
            let drift = self.cfg.tick_drift_us_max;
            self.rng.random_range(TICK_US - drift..=TICK_US + drift)
        } else {
            self.rng.random_range(TICK_US / 2..=2 * TICK_US)
        };
        self.set_tick_period_us(id, period_us);
        self.stats.clock_changes += 1;
        self.trace.push(
            self.now_us,
            What::Clock {
                node: id,
                period_us,
            },
        );
    }

    /// True if node `id`'s process is stopped.
    pub fn is_paused(&self, id: NodeId) -> bool {
        self.node(id).paused.is_some()
    }
}
