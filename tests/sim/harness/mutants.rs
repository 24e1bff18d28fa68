//! The mutation suite's mutants: each a realistic fault in the core (`InjectedBug`) or in the
//! simulated disk (`HarnessBug`), with the run it is tried in — the mode, and a fault schedule
//! aimed at it where the random one would need many seeds. A mutant is caught when a seed ends
//! in a violation of a safety invariant or of a Figure 2 rule; a liveness failure or a panic
//! does not count.

use raftkv::raft::InjectedBug;

use super::chaos::ChaosConfig;
use super::config::{HarnessBug, SimConfig};
use super::runner::{Bug, Mode};
use super::violation::Kind;

/// One named fault and how to aim the simulator at it.
#[derive(Clone, Copy)]
pub struct Mutant {
    /// The name `RAFT_SIM_MUTANT` takes.
    pub name: &'static str,
    pub bug: Bug,
    pub mode: Mode,
    /// Adjusts the drawn configuration and faults to reach the fault sooner.
    pub aim: fn(&mut SimConfig, &mut ChaosConfig),
}

impl Mutant {
    /// Injects the fault and aims the run.
    pub fn apply(&self, cfg: &mut SimConfig, chaos: &mut ChaosConfig) {
        self.bug.inject(cfg);
        (self.aim)(cfg, chaos);
    }
}

/// True if a violation of `kind` counts as catching a mutant: any invariant or rule, not a
/// liveness failure (a mutant may only slow the cluster down) nor a panic.
pub fn catches(kind: Kind) -> bool {
    !matches!(kind, Kind::Liveness | Kind::Panic)
}

fn as_drawn(_: &mut SimConfig, _: &mut ChaosConfig) {}

/// Snapshots every 10 applied entries at most, so a seed compacts often.
fn snapshot_often(cfg: &mut SimConfig, _: &mut ChaosConfig) {
    let every = cfg.snapshot.every_entries.unwrap_or(10).min(10);
    cfg.snapshot.every_entries = Some(every);
}

/// Nearly simultaneous election timeouts: competing candidates in the same term.
fn contested_elections(cfg: &mut SimConfig, chaos: &mut ChaosConfig) {
    cfg.core.election_timeout_ticks_max = cfg.core.election_timeout_ticks_min + 1;
    cfg.core.pre_vote = false;
    chaos.weights[1] += 5;
}

/// Competing candidates whose vote answers often arrive an election later.
fn late_votes(cfg: &mut SimConfig, chaos: &mut ChaosConfig) {
    contested_elections(cfg, chaos);
    cfg.net.long_delay_ratio = 0.2;
    cfg.net.long_delay_us_max = cfg.net.long_delay_us_max.max(300_000);
}

/// Slow syncs, so that acknowledgements outrun a leader's own write.
fn slow_disks(cfg: &mut SimConfig, _: &mut ChaosConfig) {
    cfg.disk.slow_sync_ratio = 0.3;
    cfg.disk.slow_sync_us_max = cfg.disk.slow_sync_us_max.max(30_000);
}

/// Duplicated and long-delayed appends.
fn stale_appends(cfg: &mut SimConfig, _: &mut ChaosConfig) {
    cfg.net.duplicate_ratio = cfg.net.duplicate_ratio.max(0.1);
    cfg.net.long_delay_ratio = cfg.net.long_delay_ratio.max(0.05);
    cfg.net.long_delay_us_max = cfg.net.long_delay_us_max.max(100_000);
}

/// Appends resent with more entries than the copy that arrived first (few entries per message,
/// retried from a follower's match index), duplicated and long delayed: a late, longer copy
/// reaches a follower after its commit index passed the copy's start.
fn resent_appends(cfg: &mut SimConfig, chaos: &mut ChaosConfig) {
    stale_appends(cfg, chaos);
    cfg.core.max_entries_per_msg = cfg.core.max_entries_per_msg.min(4);
    cfg.core.max_early_appends = 8;
    cfg.net.long_delay_ratio = cfg.net.long_delay_ratio.max(0.1);
}

/// Leaders crash or are cut off often and come back, and some append answers arrive elections
/// later: a leader elected again meets answers to its appends of an earlier term.
fn deposed_leaders_return(cfg: &mut SimConfig, chaos: &mut ChaosConfig) {
    cfg.net.late_answer_ratio = 0.2;
    chaos.weights[1] += 10;
    chaos.weights[4] += 10;
    chaos.restart_after_us_max = chaos.restart_after_us_max.min(100_000);
}

/// Leaders cut off often, with no CheckQuorum to depose them, and many reads.
fn deposed_leaders_read(cfg: &mut SimConfig, chaos: &mut ChaosConfig) {
    cfg.core.check_quorum = false;
    chaos.weights[4] += 10;
    chaos.read_ratio = chaos.read_ratio.max(0.5);
}

fn pre_vote_on(cfg: &mut SimConfig, _: &mut ChaosConfig) {
    cfg.core.pre_vote = true;
}

/// CheckQuorum on, and leaders cut off often.
fn isolated_leaders(cfg: &mut SimConfig, chaos: &mut ChaosConfig) {
    cfg.core.check_quorum = true;
    chaos.weights[4] += 10;
}

/// Leaders crash often, so followers hold stale tails a new leader must overwrite. No pauses
/// or clock changes: a paused leader is deposed without losing its tail, which dilutes the
/// crashes of Figure 8. Followers keep early Appends: with every seed rejecting them (half the
/// seeds do by default), Figure 8's mutant escaped 200 seeds.
fn stale_tails(cfg: &mut SimConfig, chaos: &mut ChaosConfig) {
    cfg.core.max_early_appends = 8;
    chaos.weights[1] += 10;
    chaos.weights[4] += 5;
    chaos.weights[6] = 0;
    chaos.weights[7] = 0;
}

/// Crashes often, with slow syncs: the window between a lie and its exposure is wide.
fn crashes_on_slow_disks(cfg: &mut SimConfig, chaos: &mut ChaosConfig) {
    slow_disks(cfg, chaos);
    chaos.weights[0] += 10;
    chaos.weights[1] += 10;
}

/// Lease reads on, leaders paused and cut off often, and many reads: a leader that resumes
/// from a pause must know its lease ran out while it was stopped.
fn paused_leaders_read(cfg: &mut SimConfig, chaos: &mut ChaosConfig) {
    cfg.core.check_quorum = true;
    cfg.core.lease_reads = true;
    chaos.weights[4] += 5;
    chaos.weights[6] += 10;
    chaos.read_ratio = chaos.read_ratio.max(0.5);
}

/// Membership runs aimed at the single-server rules: 4 voters of 6 ids, an operator that
/// changes voters right after every election and every few ticks.
pub fn changes_often(cfg: &mut SimConfig, chaos: &mut ChaosConfig) {
    cfg.nodes = 6;
    cfg.initial_voters = 4;
    let op = chaos.operator.as_mut().expect("a membership run");
    op.after_election_ratio = 1.0;
    op.gap_ticks_max = 3;
    op.retry_ticks_max = 1;
    op.attempts_max = 3;
    op.weights = [3, 5, 5, 3, 2, 1, 0];
    op.cut_after_change_ratio = 0.3;
}

const fn core(
    name: &'static str,
    bug: InjectedBug,
    aim: fn(&mut SimConfig, &mut ChaosConfig),
) -> Mutant {
    Mutant {
        name,
        bug: Bug::Core(bug),
        mode: Mode::Fixed,
        aim,
    }
}

const fn disk(
    name: &'static str,
    bug: HarnessBug,
    aim: fn(&mut SimConfig, &mut ChaosConfig),
) -> Mutant {
    Mutant {
        name,
        bug: Bug::Harness(bug),
        mode: Mode::Fixed,
        aim,
    }
}

/// Every mutant, in the order of the table.
pub const MUTANTS: &[Mutant] = &[
    core(
        "vote_before_persist",
        InjectedBug::VoteBeforePersist,
        as_drawn,
    ),
    core(
        "vote_twice_in_a_term",
        InjectedBug::VoteTwiceInATerm,
        contested_elections,
    ),
    core(
        "count_stale_term_votes",
        InjectedBug::CountStaleTermVotes,
        late_votes,
    ),
    core(
        "no_timer_reset_on_vote",
        InjectedBug::NoTimerResetOnVote,
        as_drawn,
    ),
    core(
        "pre_vote_bumps_term",
        InjectedBug::PreVoteBumpsTerm,
        pre_vote_on,
    ),
    core(
        "no_step_down_on_check_quorum",
        InjectedBug::NoStepDownOnCheckQuorum,
        isolated_leaders,
    ),
    core(
        "ignore_higher_term_in_response",
        InjectedBug::IgnoreHigherTermInResponse,
        isolated_leaders,
    ),
    core(
        "count_own_unsynced_entries",
        InjectedBug::CountOwnUnsyncedEntries,
        slow_disks,
    ),
    core(
        "commit_previous_term_by_counting",
        InjectedBug::CommitPreviousTermByCounting,
        stale_tails,
    ),
    core(
        "ack_before_persist",
        InjectedBug::AckBeforePersist,
        as_drawn,
    ),
    core(
        "truncate_on_stale_append",
        InjectedBug::TruncateOnStaleAppend,
        stale_appends,
    ),
    core(
        "apply_beyond_commit",
        InjectedBug::ApplyBeyondCommit,
        as_drawn,
    ),
    core(
        "read_index_without_heartbeat",
        InjectedBug::ReadIndexWithoutHeartbeat,
        deposed_leaders_read,
    ),
    core(
        "ack_stale_append_by_length",
        InjectedBug::AckStaleAppendByLength,
        resent_appends,
    ),
    core(
        "accept_stale_term_append_responses",
        InjectedBug::AcceptStaleTermAppendResponses,
        deposed_leaders_return,
    ),
    core("skip_snapshot", InjectedBug::SkipSnapshot, snapshot_often),
    disk(
        "install_snapshot_before_durable",
        HarnessBug::InstallBeforeDurable,
        snapshot_often,
    ),
    disk("skip_fsync_once", HarnessBug::SkipFsyncOnce, as_drawn),
    disk(
        "mark_before_data",
        HarnessBug::MarkBeforeData,
        crashes_on_slow_disks,
    ),
    disk(
        "stall_not_reported",
        HarnessBug::StallNotReported,
        paused_leaders_read,
    ),
    Mutant {
        name: "overlapping_membership_changes",
        bug: Bug::Core(InjectedBug::OverlappingMembershipChanges),
        mode: Mode::Membership,
        aim: changes_often,
    },
    Mutant {
        name: "membership_change_before_term_commit",
        bug: Bug::Core(InjectedBug::MembershipChangeBeforeTermCommit),
        mode: Mode::Membership,
        aim: changes_often,
    },
];

/// The mutant named by `RAFT_SIM_MUTANT`, if set. Panics on an unknown name: the user asked.
pub fn env_mutant() -> Option<Mutant> {
    let name = std::env::var("RAFT_SIM_MUTANT").ok()?;
    let found = MUTANTS.iter().find(|m| m.name == name.trim()).copied();
    Some(found.unwrap_or_else(|| {
        let names: Vec<_> = MUTANTS.iter().map(|m| m.name).collect();
        panic!("RAFT_SIM_MUTANT={name}: not one of {names:?}")
    }))
}
