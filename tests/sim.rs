//! A deterministic, seeded fault simulator for the Raft core, and the tests built on it.
//!
//! # The model
//! One process runs 3–7 cores (4–7 in membership runs, below). Everything random — the
//! configuration, every delay, every fault, every client request, each core's election timeouts
//! — comes from one `StdRng` seeded with the run's seed, and events run in virtual time from one
//! priority queue, so a seed replays exactly.
//!
//! Each simulated node is a core, a disk and an applied state, and it honours the ordering
//! contract of `raftkv::raft::Output`: messages leave at once; the log prefix of an installed
//! snapshot, then the hard state and the entries, become write batches whose syncs complete
//! after a random delay (in order, like a write-ahead log); only then do the batch's
//! `messages_after_persist` leave and the core hear `persisted`; committed entries are applied at
//! once.
//!
//! ## The same order as the replicator
//! The order is not copied: both the replicator (`src/replicator/drive.rs`) and the simulator
//! (`harness/drive.rs`) hand every output to `raftkv::raft::Sequencer`, which calls back the
//! host's `send`, `compact`, `write` and `persisted` (`raftkv::raft::Host`) in the order the
//! node uses; the host only does the I/O (the replicator with its writer thread and peer
//! links, the simulator with its simulated disk and network). What the sequencer decides, and
//! `src/raft/host.rs` unit-tests:
//! 1. `messages` leave first, before anything is written.
//! 2. A hard state that changes only the commit index, with no entries, is not written on its
//!    own but rides with the next batch that writes something.
//! 3. An installed snapshot's log prefix is a compaction batch of its own, ahead of the write;
//!    the hard state and entries are the next batch, synced in order after every earlier one;
//!    its `messages_after_persist` wait for it. An output with promises but nothing to write
//!    hangs them on the last unsynced batch, or sends them at once if there is none.
//! 4. When a batch is durable its promises leave, then the core hears `persisted` for its
//!    last entry, batch by batch in order, then the output is driven again.
//!
//! What stays each host's own: after a stall, the replicator's lane takes the writer's reports
//! first, then `note_stall`, then the inbox, then one tick (`Pump::poll`, `tick_if_due`); the
//! simulator resumes a paused node in that order. A compaction after a local snapshot goes
//! through the replicator's writer as a batch (`Sequencer::open_own_batch`); the simulated
//! disk compacts at once, through entries that are durable and committed.
//!
//! The replicator applies committed entries in chunks after the output is carried out
//! (`apply_some`); the simulator applies them at once, which only moves when a read is served,
//! not the index it is served at (what linearizability rests on).
//!
//! The applied state is a small key-value map fed by the payloads plus a running digest of every
//! entry applied. Snapshots (§7) are that state, encoded: once a node has applied
//! `every_entries` past its newest snapshot (drawn per seed: 3, 10, 30, 100, or never) it writes
//! one — a temporary file, a sync, a rename, after a random delay — and only then compacts the
//! core's log and its disk log through it. A leader asked for a snapshot sends it in chunks of
//! `chunk_bytes` (8 to 1,000 bytes per seed), one per message; a follower keeps a chunk only if
//! it continues the bytes it holds of that snapshot, answers each with the bytes held, writes
//! the completed snapshot durably (another delay, during which appends race it), and only then
//! installs it: the core acknowledges once the log prefix is persisted, and the node's state
//! becomes the snapshot's. Each disk keeps its two newest snapshots.
//!
//! # The faults
//! - **Network**: every message gets a random delay (so messages reorder), may be lost, may be
//!   delivered twice, and may take a long detour (arriving after many later messages, even in a
//!   later term). Links can be cut one way or both ways: symmetric partitions, one-way cuts,
//!   random splits of the cluster, isolation of the leader, and healing. Snapshot chunks and their
//!   answers are messages like any other.
//! - **Crashes**: a crashed node loses its core, its applied state and every write its disk had
//!   not synced — including writes whose persist was requested but not done (sometimes a prefix
//!   of them survives, as a real disk may keep them) — snapshot files not yet renamed into place,
//!   and the partial file of a snapshot being received. It restarts from what is durable: the
//!   state of its newest snapshot, and the log after it (`Restored` with `applied` at the
//!   snapshot), which it re-applies.
//! - **Torn tails**: a crash may also tear the first batch it does not keep whole: a prefix of
//!   its records survives (log prefix, hard state, then entries, in the store's order), as the
//!   file store's recovery keeps every whole record before the first damaged one.
//! - **Failed syncs**: while the faults run a sync may fail; the real node stops on a writer
//!   failure (`replicator::drive::fatal`), so the simulated one crashes (keeping what the disk
//!   may have kept of the batch) and restarts after a while, as under a supervisor.
//! - **Pauses and clocks** (`harness/process.rs`): a node's process stops the world for longer
//!   than the election timeout (often the leader's): its ticks are missed, messages wait in its
//!   inbox and its disk's reports wait too; it resumes in the order of the replicator's lane
//!   (reports, then `note_stall` with the missed tick periods, then the inbox, then one tick).
//!   With lease reads on, that is what keeps a resumed leader from serving a read on a lease
//!   that ran out while it was stopped. A node's clock may also change its rate: within the
//!   run's drift band (at most 10% either way) when leases are on — the lease length assumes
//!   tick periods within a fifth of each other — and between half and double otherwise.
//! - **Clients** propose unique payloads (`seed:counter`) all along, issue ReadIndex reads, and
//!   sometimes ask for a leadership transfer.
//!
//! So transfers get interrupted by crashes, by a leader change (the new leader sends its own
//! snapshot, from offset 0), and by the leader compacting again mid-transfer; installs race
//! appends; compaction happens under partitions.
//!
//! # Changing membership (thesis ch. 4)
//! The membership runs (`membership_seeds`) draw the same configuration and faults as the fixed
//! runs, then a pool of 4–7 ids of which the first 1–5 (mostly 3) are the initial voters. Every
//! id runs from the start: the others are joining nodes with an empty `Config::voters`, which
//! never campaign and wait for a leader to add them. An operator (`harness/operator.rs`), every
//! few ticks and sometimes right after an election, adds a learner, promotes one, removes a
//! voter, removes the leader itself, demotes a voter, removes a learner, or asks for a
//! two-voter replacement the core must refuse (then promotes alone). It keeps 3 voters most of
//! the time and never fewer than 1, and retries a change refused for now (`InProgress`,
//! `NotReady`, no leader) a little later, like a real operator, until it gives up. Faults hit
//! every id, members or not; removed nodes keep running (and may be added back) until the
//! liveness phase, which restarts every voter of a configuration in play (a majority is not
//! enough when a learner holds the newest log: see `restart_voters`) and then shuts down the
//! nodes outside the leader's committed configuration, as an operator does with removed
//! servers (thesis §4.2.3). CheckQuorum, and so the leader lease, is always on
//! in these runs: without it a removed server that never learns of its removal deposes every
//! leader (§4.2.3), and the fixed runs cover safety without it.
//!
//! A snapshot records the configuration at its index (`Raft::membership_at`) in its bytes, so
//! it travels with the chunks, is handed to `install_snapshot`, and comes back after a crash as
//! `Restored::membership`; a new node catches up from the log or from a snapshot.
//!
//! # The checks
//! After every step a checker verifies Election Safety, Log Matching, Leader Completeness, State
//! Machine Safety, monotonic commit and applied indexes (across installs too), one vote per node
//! per term (across crashes), ReadIndex linearizability, and that every message promising
//! durability is backed by the disk (an acknowledgement through `i` needs the log, or the
//! snapshot its prefix stands for). With compaction: checks on entries look only at entries a
//! log still holds, and a log's prefix vouches for the compacted part; states are compared
//! whole — every node's applied-state digest at each index (after applying it, installing a
//! snapshot ending there, or restarting from one) must equal every other node's there; no entry
//! may count as applied without reaching the state machine; a durable log never starts past the
//! newest durable snapshot; and a leader's match index for a follower must be on that
//! follower's disk (Figure 2, matchIndex). A leader's message (an append, heartbeat, snapshot
//! chunk or `TimeoutNow`) may leave only once its term is durable, or a crash could let it lead
//! that term again with other entries (a single voter elects itself without a message).
//!
//! A leader of a term must have been granted votes of that term by a majority (fixed-membership
//! runs; the votes counted are those that left a node).
//!
//! Committed means durable on a majority: every entry the cluster committed must be on the
//! synced disks (its index and term in the log, or under a durable snapshot) of a majority,
//! checked when the commit index grows and again after every crash (`harness/durability.rs`;
//! fixed-membership runs). Four of Figure 2's and §5.1's rules are checked as well, although
//! breaking them alone is not always unsafe (`harness/rules.rs`, `harness/drive.rs`): a node
//! adopts the higher term of an append, heartbeat, snapshot chunk or any answer, and its term
//! rises only with a message carrying it or by its own candidacy (so PreVote never moves it); a
//! message of an older term changes no match index of a leader (`check_stale_ignored`: an
//! answer to an append of an earlier term vouches for a log that may have changed since); a node campaigns on its timer no sooner
//! than the minimum election timeout after granting a vote; with CheckQuorum a leader that has
//! heard from no majority for two minimum election timeouts has stepped down.
//!
//! Across configurations the invariants above hold as they are (configurations are log
//! entries); `harness/checker/config.rs` adds, with the thesis sections they come from: every
//! new configuration entry follows the single-server rules (the one before it in that log is
//! committed, at most one voter changes, its leader committed an entry of its term: §4.1 and
//! the 2015 erratum); a node that campaigns or leads uses the latest configuration in its log
//! (§4.1), which makes it a voter — or removed it without being committed yet (§4.2.2); and a
//! snapshot records the committed configuration at its index (§5.1).
//!
//! Once the faults stop (links healed, no loss, paused nodes resumed, clocks back to their
//! configured rate, a majority up, some others left down), a
//! leader must be elected and a new proposal applied on every live node within
//! `LIVENESS_BOUND_TICKS` (200) ticks plus 2 ticks per pipeline round trip of backlog
//! (`max_entries_per_msg × max_inflight_msgs` entries) that some live node lacks, plus, with
//! compaction on, two snapshot transfers of one round trip per chunk.
//!
//! The swarm: each seed also draws its cluster size, network and disk behaviour, core limits
//! (entries per message, messages in flight, heartbeat, election timeout range, PreVote and
//! CheckQuorum on or off), snapshot frequency and chunk size, and fault mix, so some seeds are
//! gentle and some brutal.
//!
//! # Replaying a seed
//! A failing seed prints its violation, the last events, and the exact command to replay it:
//! ```text
//! RAFT_SIM_SEED=123 RAFT_SIM_STEPS=10000 cargo test --test sim -- replay --nocapture
//! ```
//! A membership seed's command carries `RAFT_SIM_MEMBERSHIP=1`; `RAFT_SIM_EARLY_APPENDS=n` sets
//! every core's `max_early_appends` (0: the follower rejects every early Append, as before it
//! kept them), and a failing run's command carries it. `RAFT_SIM_SEEDS` (count) and
//! `RAFT_SIM_FIRST_SEED` change the seeds the main test runs, `RAFT_SIM_MEMBERSHIP_SEEDS` (and
//! the same first seed) those of `membership_seeds`; `RAFT_SIM_BUG=VoteTwiceInATerm` (any
//! `InjectedBug` variant of the core, or the harness's own `InstallBeforeDurable`) injects a
//! bug, to see a report; `cargo test --test sim -- seeds --nocapture` prints the totals (steps,
//! messages lost and duplicated, crashes, partitions, elections, commits, membership changes,
//! snapshots taken, transferred, interrupted and installed, and the resend factor: entries sent
//! in `Append`s over entries committed times followers). Any number of seeds on all cores, with
//! seeds per second and the replay command of the first failing seed (`RAFT_SIM_THREADS`, 0 for
//! one per core; `RAFT_SIM_MEMBERSHIP=1` for membership seeds):
//! ```text
//! RAFT_SIM_SEEDS=100000 RAFT_SIM_THREADS=0 cargo test --release --test sim -- many_seeds --ignored --nocapture
//! ```
//! For a long run of membership seeds:
//! ```text
//! RAFT_SIM_MEMBERSHIP_SEEDS=20000 cargo test --test sim -- membership_seeds --nocapture
//! ```
//!
//! # The mutation suite
//! `harness/mutants.rs` names 22 faults — `InjectedBug`s of the core and `HarnessBug`s of the
//! simulated disk — each with the mode and the aimed faults it runs with; `mutants.rs` runs each
//! over seeds 0..200 until a violation that is not a liveness failure catches it, and prints a
//! table with the replay command of each (`RAFT_SIM_MUTANT=name` takes the mutant's aim along):
//! ```text
//! cargo test --test sim mutants -- --nocapture
//! RAFT_SIM_MUTANT=vote_before_persist RAFT_SIM_SEED=0 RAFT_SIM_STEPS=4000 cargo test --test sim replay -- --nocapture
//! ```

mod sim {
    pub mod harness;
    mod mutants;
    mod negative;
    mod negative_membership;
    pub mod scenarios;
    mod seeds;
}
