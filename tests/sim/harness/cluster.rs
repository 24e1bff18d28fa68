//! The simulator: a cluster of cores, their disks and a virtual network, driven by one seeded RNG
//! and an agenda of timed events. Each [`Sim::step`] runs one event and the checker.

use std::panic::{self, AssertUnwindSafe};

use raftkv::raft::{Index, Message, NodeId, Raft, Restored, Role, Sequencer, Term};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::chaos::ChaosConfig;
use super::checker::Checker;
use super::config::{SimConfig, TICK_US};
use super::events::{Event, EventQueue};
use super::network::Network;
use super::node::SimNode;
use super::operation::OperatorState;
use super::rules::{Delivering, NodeRules};
use super::state::AppliedState;
use super::stats::Stats;
use super::storage::Storage;
use super::trace::Trace;
use super::violation::Violation;

/// A simulated cluster.
pub struct Sim {
    /// What this run simulates; scenarios may read it, and tweak `net` through `self.net`.
    pub cfg: SimConfig,
    pub(super) rng: StdRng,
    pub(super) now_us: u64,
    pub(super) queue: EventQueue,
    pub(super) nodes: Vec<SimNode>,
    /// The virtual network; its `cfg` may be changed mid-run (loss, delays).
    pub net: Network,
    /// The safety checker, fed by every step.
    pub checker: Checker,
    /// What the run did so far.
    pub stats: Stats,
    /// The last events, printed with a failure.
    pub trace: Trace,
    /// Random faults and clients, while enabled.
    pub(super) chaos: Option<ChaosConfig>,
    /// The operation the operator is trying, if any.
    pub(super) operator: OperatorState,
    pub(super) next_read_id: u64,
    pub(super) next_payload: u64,
    /// Every message sent, when a scenario asked to keep them (to replay one later).
    pub recorded: Option<Vec<(NodeId, NodeId, Message)>>,
    /// The message the node being driven is stepping, if that is why it is driven.
    pub(super) delivering: Option<Delivering>,
    /// The committed entries through this index were checked to be durable on a majority.
    pub(super) durable_checked: Index,
}

impl Sim {
    /// A fresh cluster whose RNG is seeded from `cfg.seed`.
    pub fn new(cfg: SimConfig) -> Self {
        let rng = StdRng::seed_from_u64(cfg.seed);
        Sim::with_rng(cfg, rng)
    }

    /// A fresh cluster driven by `rng` (which may already have drawn the configuration).
    pub fn with_rng(cfg: SimConfig, mut rng: StdRng) -> Self {
        let mut queue = EventQueue::default();
        let mut nodes = Vec::with_capacity(cfg.nodes);
        for id in cfg.ids() {
            let drift = rng.random_range(0..=cfg.tick_drift_us_max * 2);
            let tick_period_us = TICK_US - cfg.tick_drift_us_max + drift;
            let core_rng = StdRng::seed_from_u64(rng.random());
            let raft = Raft::new(cfg.core_config(id), Restored::default(), Box::new(core_rng))
                .expect("the simulator builds valid configurations");
            queue.push(rng.random_range(0..tick_period_us), Event::Tick(id));
            nodes.push(SimNode {
                id,
                raft: Some(raft),
                storage: Storage::with_fault(cfg.harness_bug),
                state: AppliedState::default(),
                applied: Vec::new(),
                crashes: 0,
                paused: None,
                pauses: 0,
                tick_period_us,
                nominal_tick_period_us: tick_period_us,
                last_role: None,
                rules: NodeRules::default(),
                sequencer: Sequencer::default(),
            });
        }
        Sim {
            net: Network::new(cfg.net.clone(), cfg.nodes),
            checker: Checker::new(&cfg),
            stats: Stats {
                runs: 1,
                ..Stats::default()
            },
            trace: Trace::default(),
            chaos: None,
            operator: OperatorState::default(),
            next_read_id: 0,
            next_payload: 0,
            recorded: None,
            delivering: None,
            durable_checked: 0,
            cfg,
            rng,
            now_us: 0,
            queue,
            nodes,
        }
    }

    /// Virtual time elapsed, in microseconds.
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// Virtual time elapsed, in whole ticks.
    pub fn now_ticks(&self) -> u64 {
        self.now_us / TICK_US
    }

    /// Node `id`.
    pub fn node(&self, id: NodeId) -> &SimNode {
        &self.nodes[id as usize - 1]
    }

    /// The ids of the running nodes.
    pub fn up_nodes(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|n| n.is_up())
            .map(|n| n.id)
            .collect()
    }

    /// The running nodes that believe they lead, in id order.
    pub fn leaders(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|n| n.status().is_some_and(|s| s.role == Role::Leader))
            .map(|n| n.id)
            .collect()
    }

    /// The running leader of the highest term, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.nodes
            .iter()
            .filter_map(|n| n.status())
            .filter(|s| s.role == Role::Leader)
            .max_by_key(|s| s.term)
            .map(|s| s.id)
    }

    /// The highest term of any running node.
    pub fn max_term(&self) -> Term {
        self.nodes
            .iter()
            .filter_map(|n| n.status())
            .map(|s| s.term)
            .max()
            .unwrap_or(0)
    }

    /// The run's RNG, for scripts that make random choices (so one seed still replays the run).
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// Delivers `msg` from `from` to `to` after the shortest network delay, as if the network had
    /// kept or duplicated it (scenarios replay stale messages this way).
    pub fn inject(&mut self, from: NodeId, to: NodeId, msg: Message) {
        let at_us = self.now_us + self.net.cfg.delay_us_min;
        self.queue.push(at_us, Event::Deliver { from, to, msg });
    }

    /// A majority of the initial configuration.
    pub fn quorum(&self) -> usize {
        self.cfg.initial_voters / 2 + 1
    }

    /// Runs one event, then the checks that span nodes. A panic in the core becomes a violation.
    pub fn step(&mut self) -> Result<(), Violation> {
        let Some((at_us, event)) = self.queue.pop() else {
            return Ok(());
        };
        self.now_us = at_us;
        self.stats.steps += 1;
        match panic::catch_unwind(AssertUnwindSafe(|| self.dispatch(event))) {
            Ok(result) => result?,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "non-string panic".to_string());
                return Err(Violation::Panic { message });
            }
        }
        self.check_leaders_hold_new_commits()?;
        self.check_new_commits_durable()
    }

    /// Runs events for `ticks` ticks of virtual time.
    pub fn run_ticks(&mut self, ticks: u64) -> Result<(), Violation> {
        self.run_us(ticks * TICK_US)
    }

    /// Runs events for `us` microseconds of virtual time.
    pub fn run_us(&mut self, us: u64) -> Result<(), Violation> {
        let until = self.now_us + us;
        while self.queue.peek_time().is_some_and(|t| t <= until) {
            self.step()?;
        }
        self.now_us = until;
        Ok(())
    }

    /// Runs until `done` holds (checked after every step) or `max_ticks` pass. Returns the ticks
    /// taken, or `None` if the condition never held.
    pub fn run_until(
        &mut self,
        max_ticks: u64,
        mut done: impl FnMut(&Sim) -> bool,
    ) -> Result<Option<u64>, Violation> {
        let start = self.now_us;
        let until = start + max_ticks * TICK_US;
        while !done(self) {
            match self.queue.peek_time() {
                Some(t) if t <= until => {}
                _ => return Ok(None),
            }
            self.step()?;
        }
        Ok(Some((self.now_us - start).div_ceil(TICK_US)))
    }

    fn dispatch(&mut self, event: Event) -> Result<(), Violation> {
        match event {
            Event::Tick(id) => {
                let node = &mut self.nodes[id as usize - 1];
                self.queue
                    .push(self.now_us + node.tick_period_us, Event::Tick(id));
                if let Some(pause) = node.paused.as_mut() {
                    pause.missed_ticks += 1;
                    return Ok(());
                }
                self.tick_node(id)
            }
            Event::Deliver { from, to, msg } => self.deliver(from, to, msg),
            Event::Synced { node, .. } | Event::SnapshotWritten { node, .. } => {
                match self.nodes[node as usize - 1].paused.as_mut() {
                    Some(pause) => {
                        pause.reports.push(event);
                        Ok(())
                    }
                    None => self.dispatch_node_event(event),
                }
            }
            Event::Resume { node, pause } => {
                if self.nodes[node as usize - 1].pauses == pause {
                    self.resume(node)?;
                }
                Ok(())
            }
            Event::Restart { node, crash } => {
                let n = &self.nodes[node as usize - 1];
                if self.chaos.is_some() && !n.is_up() && n.crashes == crash {
                    self.restart(node)?;
                }
                Ok(())
            }
            Event::Chaos => self.chaos_turn(),
            Event::Client => self.client_turn(),
            Event::Operator(turn) => self.operator_turn(turn),
        }
    }

    /// Ticks node `id`'s core, if it is up.
    pub(super) fn tick_node(&mut self, id: NodeId) -> Result<(), Violation> {
        let node = &mut self.nodes[id as usize - 1];
        let Some(raft) = node.raft.as_mut() else {
            return Ok(());
        };
        node.rules.ticks += 1;
        raft.tick();
        self.drive(id)?;
        self.check_quorum_rule(id)
    }

    /// Runs a report of a node's disk: a synced write batch or a snapshot file in place.
    pub(super) fn dispatch_node_event(&mut self, event: Event) -> Result<(), Violation> {
        match event {
            Event::Synced { node, batch } => self.on_synced(node, batch),
            Event::SnapshotWritten { node, seq } => self.on_snapshot_written(node, seq),
            other => unreachable!("not a disk report: {other:?}"),
        }
    }

    /// Leader Completeness for commits made in an older term while a newer leader already exists
    /// (possible when acknowledgements arrive late): that leader must hold them too.
    fn check_leaders_hold_new_commits(&mut self) -> Result<(), Violation> {
        let Some(commit_term) = self.checker.take_commit_growth() else {
            return Ok(());
        };
        for node in &self.nodes {
            let Some(raft) = node.raft.as_ref() else {
                continue;
            };
            let st = raft.status();
            if st.role == Role::Leader && st.term > commit_term {
                self.checker
                    .check_completeness(st.id, st.term, raft.log())?;
            }
        }
        Ok(())
    }
}
