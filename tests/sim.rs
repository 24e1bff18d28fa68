//! A deterministic, seeded fault simulator for the Raft core, and the tests built on it.
//!
//! # The model
//! One process runs 3–7 cores. Everything random — the configuration, every delay, every fault,
//! every client request, each core's election timeouts — comes from one `StdRng` seeded with the
//! run's seed, and events run in virtual time from one priority queue, so a seed replays exactly.
//!
//! Each simulated node is a core, a disk and an applied state, and it honours the ordering
//! contract of `raftkv::raft::Output`: messages leave at once; the hard state and entries become a
//! write batch whose sync completes after a random delay (in order, like a write-ahead log); only
//! then do the batch's `messages_after_persist` leave and the core hear `persisted`; committed
//! entries are applied at once.
//!
//! # The faults
//! - **Network**: every message gets a random delay (so messages reorder), may be lost, may be
//!   delivered twice, and may take a long detour (arriving after many later messages, even in a
//!   later term). Links can be cut one way or both ways: symmetric partitions, one-way cuts,
//!   random splits of the cluster, isolation of the leader, and healing.
//! - **Crashes**: a crashed node loses its core, its applied state and every write its disk had
//!   not synced — including writes whose persist was requested but not done (sometimes a prefix
//!   of them survives, as a real disk may keep them). It restarts from what is durable
//!   (`Restored` with `applied: 0`) and re-applies its log.
//! - **Clients** propose unique payloads (`seed:counter`) all along, issue ReadIndex reads, and
//!   sometimes ask for a leadership transfer.
//!
//! After every step a checker verifies Election Safety, Log Matching, Leader Completeness, State
//! Machine Safety, monotonic commit and applied indexes, one vote per node per term (across
//! crashes), ReadIndex linearizability, and that every message promising durability is backed by
//! the disk. Once the faults stop (links healed, no loss, a majority up, some others left down), a
//! leader must be elected and a new proposal applied on every live node within
//! `LIVENESS_BOUND_TICKS` (200) ticks plus 2 ticks per pipeline round trip of backlog
//! (`max_entries_per_msg × max_inflight_msgs` entries) that some live node lacks.
//!
//! The swarm: each seed also draws its cluster size, network and disk behaviour, core limits
//! (entries per message, messages in flight, heartbeat, election timeout range, PreVote and
//! CheckQuorum on or off) and fault mix, so some seeds are gentle and some brutal.
//!
//! # Replaying a seed
//! A failing seed prints its violation, the last events, and the exact command to replay it:
//! ```text
//! RAFT_SIM_SEED=123 RAFT_SIM_STEPS=10000 cargo test --test sim -- replay --nocapture
//! ```
//! `RAFT_SIM_SEEDS` (count) and `RAFT_SIM_FIRST_SEED` change the seeds the main test runs;
//! `RAFT_SIM_BUG=VoteTwiceInATerm` (any `InjectedBug` variant) injects a bug, to see a report;
//! `cargo test --test sim -- seeds --nocapture` prints the totals (steps, messages lost and
//! duplicated, crashes, partitions, elections, commits).

mod sim {
    pub mod harness;
    mod negative;
    pub mod scenarios;
    mod seeds;
}
