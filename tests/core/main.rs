//! The core level: the Raft core and the state machine, pure and in memory (no sockets, no
//! processes). The Raft paper's rules one test each (`raft_paper_*`, citing the section), the
//! transcript scenarios of `tests/testdata/` (`raft_scenarios`), and the state machine's commands,
//! MVCC, determinism and snapshots (`state_*`, `kv_state`). The seeded simulator of the core is its
//! own target, `sim` (tests/sim.rs).

#[path = "../support/mod.rs"]
mod support;

mod kv_state;
mod raft_paper_election;
mod raft_paper_membership;
mod raft_paper_replication;
mod raft_paper_safety;
mod raft_paper_snapshot;
mod raft_paper_thesis_elections;
mod raft_paper_thesis_replication;
mod raft_scenarios;
mod state_determinism;
mod state_machine;
mod state_mvcc;
mod state_snapshot;
