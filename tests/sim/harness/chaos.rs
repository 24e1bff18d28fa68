//! The random fault generator and the random clients of a seeded run.

use raftkv::raft::NodeId;
use rand::rngs::StdRng;
use rand::RngExt;

use super::cluster::Sim;
use super::config::TICK_US;
use super::events::Event;
use super::operation::{OperatorConfig, Turn};
use super::violation::Violation;

/// The fault actions, in the order of [`ChaosConfig::weights`].
#[derive(Clone, Copy, Debug)]
enum Fault {
    Crash,
    CrashLeader,
    /// A random split into two sides.
    Split,
    /// One direction of one link.
    CutOneWay,
    IsolateLeader,
    Heal,
    /// A stop-the-world pause longer than the election timeout, of any node or of the leader
    /// (whose lease must not outlive it).
    Pause,
    /// A node's clock runs fast or slow from now on.
    Clock,
}

const FAULTS: [Fault; 8] = [
    Fault::Crash,
    Fault::CrashLeader,
    Fault::Split,
    Fault::CutOneWay,
    Fault::IsolateLeader,
    Fault::Heal,
    Fault::Pause,
    Fault::Clock,
];

/// How often and how hard the faults and clients hit.
#[derive(Clone, Debug)]
pub struct ChaosConfig {
    /// A fault action comes every half tick to this many ticks.
    pub fault_gap_ticks_max: u64,
    /// Relative weights of crash, crash-the-leader, split, one-way cut, isolate-the-leader, heal,
    /// pause, clock rate.
    pub weights: [u32; 8],
    /// A crashed node restarts after up to this long (often quickly: crashes then hit unsynced
    /// writes of a busy node).
    pub restart_after_us_max: u64,
    /// A client request comes every 1 µs to this long.
    pub client_gap_us_max: u64,
    pub read_ratio: f64,
    pub transfer_ratio: f64,
    /// Proposals sent back to back in one client turn, at most.
    pub burst_max: usize,
    /// The operator changing the membership, if the run changes it.
    pub operator: Option<OperatorConfig>,
}

impl ChaosConfig {
    /// A random mix of faults and client load.
    pub fn random(rng: &mut StdRng) -> Self {
        let mut weights = [0; 8];
        for w in &mut weights[..5] {
            *w = if rng.random_bool(0.3) {
                0
            } else {
                rng.random_range(1..=10)
            };
        }
        weights[5] = rng.random_range(5..=15);
        for w in &mut weights[6..] {
            *w = if rng.random_bool(0.5) {
                0
            } else {
                rng.random_range(1..=3)
            };
        }
        ChaosConfig {
            fault_gap_ticks_max: rng.random_range(2..=30),
            weights,
            restart_after_us_max: [TICK_US / 2, 5 * TICK_US, 50 * TICK_US][rng.random_range(0..3)],
            client_gap_us_max: rng.random_range(1..=3) * TICK_US,
            read_ratio: rng.random_range(0.0..0.3),
            transfer_ratio: rng.random_range(0.0..0.03),
            burst_max: rng.random_range(1..=4),
            operator: None,
        }
    }
}

impl Sim {
    /// Starts random faults and clients.
    pub fn enable_chaos(&mut self, cfg: ChaosConfig) {
        self.chaos = Some(cfg);
        self.queue.push(self.now_us + TICK_US, Event::Chaos);
        self.queue.push(self.now_us + 1, Event::Client);
        if self.chaos.as_ref().is_some_and(|c| c.operator.is_some()) {
            let turn = Event::Operator(Turn::Periodic);
            self.queue.push(self.now_us + TICK_US, turn);
        }
    }

    /// Stops random faults and clients (and the pending restarts they scheduled).
    pub fn stop_chaos(&mut self) {
        self.chaos = None;
    }

    pub(super) fn chaos_turn(&mut self) -> Result<(), Violation> {
        let Some(cfg) = self.chaos.clone() else {
            return Ok(());
        };
        let gap_us = self
            .rng
            .random_range(TICK_US / 2..=cfg.fault_gap_ticks_max * TICK_US);
        self.queue.push(self.now_us + gap_us, Event::Chaos);
        let total: u32 = cfg.weights.iter().sum();
        let mut pick = self.rng.random_range(0..total);
        let fault = FAULTS
            .iter()
            .zip(cfg.weights)
            .find(|(_, w)| {
                let hit = pick < *w;
                pick = pick.saturating_sub(*w);
                hit
            })
            .map_or(Fault::Heal, |(f, _)| *f);
        // Every node of the pool, member or not: learners, joining and removed nodes crash too.
        let ids = self.cfg.ids();
        let any = ids[self.rng.random_range(0..ids.len())];
        match fault {
            Fault::Crash => {
                self.crash_for_a_while(any, &cfg)?;
            }
            Fault::CrashLeader => {
                if let Some(leader) = self.leader() {
                    self.crash_for_a_while(leader, &cfg)?;
                }
            }
            Fault::Split => {
                let side: Vec<_> = ids
                    .iter()
                    .copied()
                    .filter(|_| self.rng.random_bool(0.5))
                    .collect();
                if !side.is_empty() && side.len() < ids.len() {
                    self.split(&side);
                }
            }
            Fault::CutOneWay => {
                let to = ids[self.rng.random_range(0..ids.len())];
                if to != any {
                    self.cut_one_way(any, to);
                }
            }
            Fault::IsolateLeader => self.isolate(self.leader().unwrap_or(any)),
            Fault::Heal => self.heal(),
            Fault::Pause => {
                let leader = self.leader().filter(|_| self.rng.random_bool(0.5));
                self.pause_for_a_while(leader.unwrap_or(any));
            }
            Fault::Clock => self.change_clock(any),
        }
        Ok(())
    }

    /// Crashes `id` (unless it is the last node up) and schedules its restart. Returns false if
    /// it did not crash it.
    pub(super) fn crash_for_a_while(
        &mut self,
        id: NodeId,
        cfg: &ChaosConfig,
    ) -> Result<bool, Violation> {
        if !self.node(id).is_up() || self.up_nodes().len() < 2 {
            return Ok(false);
        }
        self.crash(id)?;
        let after_us = self.rng.random_range(1..=cfg.restart_after_us_max);
        let crash = self.node(id).crashes;
        self.queue
            .push(self.now_us + after_us, Event::Restart { node: id, crash });
        Ok(true)
    }

    pub(super) fn client_turn(&mut self) -> Result<(), Violation> {
        let Some(cfg) = self.chaos.clone() else {
            return Ok(());
        };
        let gap_us = self.rng.random_range(1..=cfg.client_gap_us_max);
        self.queue.push(self.now_us + gap_us, Event::Client);
        let up = self.up_nodes();
        if up.is_empty() {
            return Ok(());
        }
        let id = up[self.rng.random_range(0..up.len())];
        let roll: f64 = self.rng.random();
        if roll < cfg.read_ratio {
            self.read(id)?;
        } else if roll < cfg.read_ratio + cfg.transfer_ratio {
            if let Some(leader) = self.leader() {
                let voters = self.node(leader).raft().membership().voters.clone();
                let to = voters[self.rng.random_range(0..voters.len())];
                self.transfer(leader, to)?;
            }
        } else {
            for _ in 0..self.rng.random_range(1..=cfg.burst_max) {
                self.propose_via(id)?;
            }
        }
        Ok(())
    }
}
