//! The simulator itself: configuration, event queue, network, disks and snapshot files, nodes and
//! their applied states, faults, clients, the checker, and the seed runner.

mod chaos;
mod checker;
mod client;
mod cluster;
mod config;
mod drive;
mod durability;
mod events;
mod faults;
mod liveness;
mod mutants;
mod network;
mod node;
mod operation;
mod operator;
mod process;
mod rules;
mod runner;
mod snapshot;
mod snapshot_store;
mod state;
mod stats;
mod storage;
mod trace;
mod violation;

pub use chaos::ChaosConfig;
pub use cluster::Sim;
pub use config::{HarnessBug, SimConfig, TICK_US};
pub use liveness::LIVENESS_BOUND_TICKS;
pub use mutants::{catches, changes_often, env_mutant, Mutant, MUTANTS};
pub use runner::{env_bug, env_u64, run_mode_seed, run_seeds, Mode, DEFAULT_STEPS};
pub use violation::{Kind, Violation};
