//! The knobs of one simulated run: cluster size, the cores' limits, network and disk behaviour.
//!
//! Virtual time is counted in microseconds; one logical Raft tick lasts [`TICK_US`].

use raftkv::raft::{Config, InjectedBug, NodeId};
use rand::rngs::StdRng;
use rand::RngExt;

/// Virtual microseconds per logical tick (a 10 ms tick, as a deployment might configure).
pub const TICK_US: u64 = 10_000;

/// How the virtual network treats each message.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// A message's usual delay is uniform in `[delay_us_min, delay_us_max]`.
    pub delay_us_min: u64,
    pub delay_us_max: u64,
    /// Probability that a message is lost.
    pub loss_ratio: f64,
    /// Probability that a message is delivered twice, each copy with its own delay.
    pub duplicate_ratio: f64,
    /// Probability that a message takes a long detour and arrives after many later ones.
    pub long_delay_ratio: f64,
    pub long_delay_us_max: u64,
    /// Probability that an append's answer is held back 1 to 4 longest election timeouts (answers
    /// meeting their leader in a later term). 0 in drawn runs; mutants aim it.
    pub late_answer_ratio: f64,
}

impl NetConfig {
    /// No loss, no duplicates, short random delays (which still reorder a little).
    pub fn reliable() -> Self {
        NetConfig {
            delay_us_min: 100,
            delay_us_max: 2_000,
            loss_ratio: 0.0,
            duplicate_ratio: 0.0,
            long_delay_ratio: 0.0,
            long_delay_us_max: 0,
            late_answer_ratio: 0.0,
        }
    }
}

/// How the simulated disks behave.
#[derive(Clone, Debug)]
pub struct DiskConfig {
    /// A sync usually takes a uniform time in `[sync_us_min, sync_us_max]`.
    pub sync_us_min: u64,
    pub sync_us_max: u64,
    /// Probability that a sync stalls (a busy disk), taking up to `slow_sync_us_max`.
    pub slow_sync_ratio: f64,
    pub slow_sync_us_max: u64,
    /// On a crash, the probability that a prefix of the written-but-unsynced batches survives anyway
    /// (the page cache reached the platter); otherwise every unsynced batch is lost.
    pub keep_unsynced_ratio: f64,
    /// On a crash, the probability that the first unsynced batch not kept whole is torn: a
    /// prefix of its records (log prefix, hard state, entries, in the store's order) survives.
    pub torn_tail_ratio: f64,
    /// Probability that a sync fails while the faults run. The real node stops on a writer
    /// failure (`replicator::drive::fatal`); here that is a crash (with what the disk may keep
    /// of the failed batch) and a restart after a while.
    pub sync_fail_ratio: f64,
}

impl DiskConfig {
    /// Syncs of 0.2–3 ms, never stalling.
    pub fn fast() -> Self {
        DiskConfig {
            sync_us_min: 200,
            sync_us_max: 3_000,
            slow_sync_ratio: 0.0,
            slow_sync_us_max: 0,
            keep_unsynced_ratio: 0.0,
            torn_tail_ratio: 0.0,
            sync_fail_ratio: 0.0,
        }
    }
}

/// When nodes snapshot their applied state, and how snapshots travel.
#[derive(Clone, Debug)]
pub struct SnapshotConfig {
    /// A node snapshots its applied state once it has applied this many entries past its newest
    /// snapshot; `None`: never (the log grows forever, as before compaction existed).
    pub every_entries: Option<u64>,
    /// Bytes per chunk of a snapshot transfer: small, so a transfer takes many messages.
    pub chunk_bytes: usize,
    /// Keys of the applied state's map, which bound a snapshot's size (about 16 bytes a key).
    pub keys: u16,
}

impl SnapshotConfig {
    /// No snapshots.
    pub fn off() -> Self {
        SnapshotConfig {
            every_entries: None,
            chunk_bytes: 64,
            keys: 16,
        }
    }
}

/// Deliberate mistakes of the simulated node itself (not of the core), as negative controls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HarnessBug {
    /// A follower installs a received snapshot (so the core acknowledges it) before the snapshot
    /// file is durable; a crash in between loses a snapshot the leader was told is held.
    InstallBeforeDurable,
    /// The disk reports one write batch (the first whose messages promise durability) synced
    /// without syncing it; the next sync makes it durable, a crash before that loses it.
    SkipFsyncOnce,
    /// The disk makes each batch's mark (its hard state and log prefix) durable and reports
    /// the batch synced before its entries are: they become durable only with the next sync.
    MarkBeforeData,
    /// A node resuming from a pause does not report the stall to its core (`note_stall`), as a
    /// lane that forgot it would: a paused leader's lease outlives the pause.
    StallNotReported,
}

/// The core limits and switches every node of a run shares.
///
/// Each field overrides the same-named field of `raftkv::raft::Config`.
#[derive(Clone, Debug)]
pub struct CoreKnobs {
    pub heartbeat_interval_ticks: u32,
    pub election_timeout_ticks_min: u32,
    pub election_timeout_ticks_max: u32,
    pub max_entries_per_msg: usize,
    pub max_inflight_msgs: usize,
    pub max_early_appends: usize,
    pub pre_vote: bool,
    pub check_quorum: bool,
    pub lease_reads: bool,
    pub injected_bug: Option<InjectedBug>,
}

impl Default for CoreKnobs {
    fn default() -> Self {
        let base = Config::new(1, vec![1]);
        CoreKnobs {
            heartbeat_interval_ticks: base.heartbeat_interval_ticks,
            election_timeout_ticks_min: base.election_timeout_ticks_min,
            election_timeout_ticks_max: base.election_timeout_ticks_max,
            max_entries_per_msg: base.max_entries_per_msg,
            max_inflight_msgs: base.max_inflight_msgs,
            max_early_appends: base.max_early_appends,
            pre_vote: base.pre_vote,
            check_quorum: base.check_quorum,
            lease_reads: base.lease_reads,
            injected_bug: None,
        }
    }
}

/// Everything that shapes one run besides its random choices.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The seed of the run's one RNG; printed in every failure.
    pub seed: u64,
    /// The pool of node ids: 1 through `nodes`. All of them run from the start.
    pub nodes: usize,
    /// The initial configuration's voters: ids 1 through `initial_voters` (at most `nodes`).
    /// The others start as joining nodes with no configuration, waiting for the operator to
    /// add them (thesis §4.2.1). Equal to `nodes` unless the run changes membership.
    pub initial_voters: usize,
    /// Each node's tick period differs from [`TICK_US`] by up to this much (clock drift).
    pub tick_drift_us_max: u64,
    pub net: NetConfig,
    pub disk: DiskConfig,
    pub core: CoreKnobs,
    pub snapshot: SnapshotConfig,
    /// A mistake injected into the simulated node, for a negative control.
    pub harness_bug: Option<HarnessBug>,
    /// Also check, when a message promising durability leaves or a write is synced, that the disk
    /// really holds what it promises (and that its log never starts past its newest snapshot),
    /// and that committed entries are durable on a majority.
    /// Off in negative controls, to show the end-to-end checks catch the consequences.
    pub check_promises: bool,
    /// Also check each new configuration entry against the rules of single-server changes
    /// (thesis §4.1 and its 2015 erratum). Off in negative controls, for the same reason.
    pub check_change_rules: bool,
}

impl SimConfig {
    /// A cluster of `nodes` on a reliable network and fast disks, default core limits.
    pub fn reliable(seed: u64, nodes: usize) -> Self {
        SimConfig {
            seed,
            nodes,
            initial_voters: nodes,
            tick_drift_us_max: 200,
            net: NetConfig::reliable(),
            disk: DiskConfig::fast(),
            core: CoreKnobs::default(),
            snapshot: SnapshotConfig::off(),
            harness_bug: None,
            check_promises: true,
            check_change_rules: true,
        }
    }

    /// A random configuration ("swarm testing"): each seed gets its own mix of cluster size, core
    /// limits and fault rates, so that some seeds are gentle and some brutal.
    pub fn random(seed: u64, rng: &mut StdRng) -> Self {
        let nodes = rng.random_range(3..=7);
        let pick = |rng: &mut StdRng, p: f64, hi: f64| {
            if rng.random_bool(p) {
                rng.random_range(0.0..hi)
            } else {
                0.0
            }
        };
        let net = NetConfig {
            delay_us_min: rng.random_range(50..=500),
            delay_us_max: rng.random_range(1_000..=8_000),
            loss_ratio: pick(rng, 0.7, 0.2),
            duplicate_ratio: pick(rng, 0.5, 0.1),
            long_delay_ratio: pick(rng, 0.5, 0.05),
            long_delay_us_max: rng.random_range(1..=30) * TICK_US,
            late_answer_ratio: 0.0,
        };
        let disk = DiskConfig {
            sync_us_min: rng.random_range(100..=1_000),
            sync_us_max: rng.random_range(2_000..=15_000),
            slow_sync_ratio: pick(rng, 0.5, 0.05),
            slow_sync_us_max: rng.random_range(1..=5) * TICK_US,
            keep_unsynced_ratio: pick(rng, 0.5, 1.0),
            torn_tail_ratio: pick(rng, 0.5, 1.0),
            sync_fail_ratio: pick(rng, 0.3, 0.002),
        };
        let election_timeout_ticks_min = rng.random_range(5..=12);
        // Narrow ranges make split votes and competing candidates common; below three values
        // the timeouts hardly randomize at all, and Raft's liveness rests on that randomness.
        let election_timeout_width_ticks =
            rng.random_range((election_timeout_ticks_min / 2).max(3)..=election_timeout_ticks_min);
        let core = CoreKnobs {
            heartbeat_interval_ticks: rng.random_range(1..=3),
            election_timeout_ticks_min,
            election_timeout_ticks_max: election_timeout_ticks_min + election_timeout_width_ticks,
            // Safety must not depend on the liveness extensions: sometimes run without them.
            pre_vote: rng.random_bool(0.8),
            check_quorum: rng.random_bool(0.8),
            // Tiny messages stress batching, flow control and backtracking.
            max_entries_per_msg: [1, 3, 16, 512][rng.random_range(0..4)],
            max_inflight_msgs: rng.random_range(1..=8),
            ..CoreKnobs::default()
        };
        // One seed in five never compacts, so the uncompacted paths stay covered.
        let snapshot = SnapshotConfig {
            every_entries: [None, Some(3), Some(10), Some(30), Some(100)][rng.random_range(0..5)],
            chunk_bytes: [8, 32, 100, 1_000][rng.random_range(0..4)],
            keys: rng.random_range(1..=32),
        };
        // Odd seeds read with leader leases (where CheckQuorum is on: `core_config`). Taken from
        // the seed rather than the RNG, so every other choice of a seed stays what it was.
        let mut core = core;
        core.lease_reads = seed % 2 == 1;
        // Every other pair of seeds keeps early Appends (`max_early_appends`, off in nodes by
        // default), so both the default and the reordering-tolerant follower stay covered.
        core.max_early_appends = if (seed / 2).is_multiple_of(2) { 8 } else { 0 };
        SimConfig {
            seed,
            nodes,
            initial_voters: nodes,
            tick_drift_us_max: rng.random_range(0..=1_000),
            net,
            disk,
            core,
            snapshot,
            harness_bug: None,
            check_promises: true,
            check_change_rules: true,
        }
    }

    /// Turns this configuration into one whose membership changes: a pool of 4 to 7 ids of
    /// which the first 1 to 5 (mostly 3) are the initial voters.
    ///
    /// CheckQuorum (and with it the leader lease) is always on: a removed server that never
    /// learns of its removal keeps starting elections, and without the lease each one deposes
    /// the leader (thesis §4.2.3), so the cluster need not make progress once the faults stop.
    /// The fixed-membership runs cover safety without it.
    pub fn with_changing_membership(&mut self, rng: &mut StdRng) {
        self.nodes = rng.random_range(4..=7);
        let initial = [1, 2, 3, 3, 3, 4, 5][rng.random_range(0..7)];
        self.initial_voters = initial.min(self.nodes - 1);
        self.core.check_quorum = true;
    }

    /// The initial configuration's voters: 1 through `initial_voters`.
    pub fn voters(&self) -> Vec<NodeId> {
        (1..=self.initial_voters as NodeId).collect()
    }

    /// Every node's id: 1 through `nodes`.
    pub fn ids(&self) -> Vec<NodeId> {
        (1..=self.nodes as NodeId).collect()
    }

    /// True if the run starts with fewer voters than nodes (its membership changes).
    pub fn changes_membership(&self) -> bool {
        self.initial_voters < self.nodes
    }

    /// The core configuration of node `id`: the initial voters, or none for a joining node.
    pub fn core_config(&self, id: NodeId) -> Config {
        let initial = if id as usize <= self.initial_voters {
            self.voters()
        } else {
            Vec::new()
        };
        let mut cfg = Config::new(id, initial);
        cfg.heartbeat_interval_ticks = self.core.heartbeat_interval_ticks;
        cfg.election_timeout_ticks_min = self.core.election_timeout_ticks_min;
        cfg.election_timeout_ticks_max = self.core.election_timeout_ticks_max;
        cfg.max_entries_per_msg = self.core.max_entries_per_msg;
        cfg.max_inflight_msgs = self.core.max_inflight_msgs;
        cfg.max_early_appends = self.core.max_early_appends;
        cfg.pre_vote = self.core.pre_vote;
        cfg.check_quorum = self.core.check_quorum;
        // Leases need CheckQuorum; a run that turns it off (a mutant's) reads without them.
        cfg.lease_reads = self.core.lease_reads && self.core.check_quorum;
        cfg.injected_bug = self.core.injected_bug;
        cfg
    }
}
