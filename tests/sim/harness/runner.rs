//! Running seeds: one seed end to end (a safety phase under chaos, then the liveness phase), many
//! seeds on several threads, and the replay line printed with a failure.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use raftkv::raft::InjectedBug;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::chaos::ChaosConfig;
use super::cluster::Sim;
use super::config::{HarnessBug, SimConfig};
use super::liveness::LIVENESS_BOUND_TICKS;
use super::operation::OperatorConfig;
use super::stats::Stats;
use super::violation::Violation;

/// Safety-phase steps of one seed unless `RAFT_SIM_STEPS` says otherwise.
pub const DEFAULT_STEPS: u64 = 10_000;

/// What one seed did.
pub struct Outcome {
    pub seed: u64,
    pub stats: Stats,
    /// The first violation, if any.
    pub result: Result<(), Violation>,
    /// Failure report: the violation, the replay command, the configuration and the last events.
    pub report: String,
    /// The one-line command that replays this seed.
    pub replay: String,
}

/// Which kind of run a seed draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The cluster's membership never changes: every node of the pool is a voter.
    Fixed,
    /// A pool larger than the initial configuration, and the operator changing membership.
    Membership,
}

/// Runs seed `seed` in `mode`: a random configuration and `steps` steps of random faults and
/// clients (and, for a membership run, the operator), then the liveness phase. `tweak` may
/// adjust the drawn configuration (negative controls use it). A membership run draws the same
/// configuration and faults as the fixed run of its seed, then its pool, initial voters and
/// operator.
pub fn run_mode_seed(
    mode: Mode,
    seed: u64,
    steps: u64,
    tweak: impl FnOnce(&mut SimConfig, &mut ChaosConfig),
) -> Outcome {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut cfg = SimConfig::random(seed, &mut rng);
    let mut chaos = ChaosConfig::random(&mut rng);
    if mode == Mode::Membership {
        cfg.with_changing_membership(&mut rng);
        chaos.operator = Some(OperatorConfig::random(&mut rng));
    }
    tweak(&mut cfg, &mut chaos);
    let early_appends = env_u64("RAFT_SIM_EARLY_APPENDS");
    if let Some(n) = early_appends {
        cfg.core.max_early_appends = n as usize;
    }
    let mut sim = Sim::with_rng(cfg, rng);
    sim.enable_chaos(chaos.clone());
    let result = (|| {
        for _ in 0..steps {
            sim.step()?;
        }
        sim.check_liveness(LIVENESS_BOUND_TICKS).map(|_| ())
    })();
    sim.stats.ticks = sim.now_ticks();
    sim.stats.elections = sim.checker.elections();
    sim.stats.commits = sim.checker.commit_index();
    sim.stats.entry_copies_needed = sim.stats.commits * (sim.cfg.ids().len() as u64 - 1);
    let mut bug = match (
        super::mutants::env_mutant(),
        sim.cfg.core.injected_bug,
        sim.cfg.harness_bug,
    ) {
        (Some(m), _, _) => format!("RAFT_SIM_MUTANT={} ", m.name),
        (None, Some(b), _) => format!("RAFT_SIM_BUG={b:?} "),
        (None, None, Some(b)) => format!("RAFT_SIM_BUG={b:?} "),
        (None, None, None) => String::new(),
    };
    if mode == Mode::Membership {
        bug.push_str("RAFT_SIM_MEMBERSHIP=1 ");
    }
    if let Some(n) = early_appends {
        bug.push_str(&format!("RAFT_SIM_EARLY_APPENDS={n} "));
    }
    let replay = format!(
        "{bug}RAFT_SIM_SEED={seed} RAFT_SIM_STEPS={steps} cargo test --test sim -- replay \
         --nocapture"
    );
    let report = match &result {
        Ok(()) => String::new(),
        Err(v) => format!(
            "seed {seed} failed at step {} ({:.3} ms virtual): {v}\nreplay: {replay}\n{:?}\n\
             {chaos:?}\nlast events:\n{}",
            sim.stats.steps,
            sim.now_us() as f64 / 1000.0,
            sim.cfg,
            sim.trace
        ),
    };
    Outcome {
        seed,
        stats: sim.stats,
        result,
        report,
        replay,
    }
}

/// A deliberate bug: in the core, or in the simulated node around it.
#[derive(Clone, Copy, Debug)]
pub enum Bug {
    Core(InjectedBug),
    Harness(HarnessBug),
}

impl Bug {
    /// Injects the bug into a run's configuration.
    pub fn inject(self, cfg: &mut SimConfig) {
        match self {
            Bug::Core(b) => cfg.core.injected_bug = Some(b),
            Bug::Harness(b) => cfg.harness_bug = Some(b),
        }
    }
}

/// Runs seeds `first..first + count` in `mode` on `threads` threads, with `bug` injected into
/// every run. Stops early after a failure; returns the merged statistics and the failures
/// (lowest seed first).
pub fn run_seeds(
    mode: Mode,
    (first, count): (u64, u64),
    steps: u64,
    threads: usize,
    bug: Option<Bug>,
) -> (Stats, Vec<Outcome>) {
    let next = AtomicU64::new(first);
    let failed = AtomicBool::new(false);
    let total = Mutex::new(Stats::default());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= first + count || failed.load(Ordering::Relaxed) {
                    return;
                }
                let outcome = run_mode_seed(mode, seed, steps, |cfg, _| {
                    if let Some(bug) = bug {
                        bug.inject(cfg);
                    }
                });
                total
                    .lock()
                    .expect("no thread panics holding it")
                    .merge(&outcome.stats);
                if outcome.result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                    failures
                        .lock()
                        .expect("no thread panics holding it")
                        .push(outcome);
                }
            });
        }
    });
    let mut failures = failures.into_inner().expect("threads are done");
    failures.sort_by_key(|o| o.seed);
    (total.into_inner().expect("threads are done"), failures)
}

/// The bug named by `RAFT_SIM_BUG` (an `InjectedBug` or `HarnessBug` variant), to show or replay
/// what the checker reports. Panics on an unknown name: the user asked for it.
pub fn env_bug() -> Option<Bug> {
    let name = std::env::var("RAFT_SIM_BUG").ok()?;
    let all = [
        Bug::Core(InjectedBug::CommitPreviousTermByCounting),
        Bug::Core(InjectedBug::VoteTwiceInATerm),
        Bug::Core(InjectedBug::AckBeforePersist),
        Bug::Core(InjectedBug::SkipSnapshot),
        Bug::Core(InjectedBug::OverlappingMembershipChanges),
        Bug::Core(InjectedBug::MembershipChangeBeforeTermCommit),
        Bug::Core(InjectedBug::VoteBeforePersist),
        Bug::Core(InjectedBug::CountOwnUnsyncedEntries),
        Bug::Core(InjectedBug::TruncateOnStaleAppend),
        Bug::Core(InjectedBug::NoTimerResetOnVote),
        Bug::Core(InjectedBug::ReadIndexWithoutHeartbeat),
        Bug::Core(InjectedBug::PreVoteBumpsTerm),
        Bug::Core(InjectedBug::NoStepDownOnCheckQuorum),
        Bug::Core(InjectedBug::AckStaleAppendByLength),
        Bug::Core(InjectedBug::AcceptStaleTermAppendResponses),
        Bug::Core(InjectedBug::CountStaleTermVotes),
        Bug::Core(InjectedBug::IgnoreHigherTermInResponse),
        Bug::Core(InjectedBug::ApplyBeyondCommit),
        Bug::Harness(HarnessBug::InstallBeforeDurable),
        Bug::Harness(HarnessBug::SkipFsyncOnce),
        Bug::Harness(HarnessBug::MarkBeforeData),
        Bug::Harness(HarnessBug::StallNotReported),
    ];
    let named = |b: &Bug| match b {
        Bug::Core(b) => format!("{b:?}"),
        Bug::Harness(b) => format!("{b:?}"),
    };
    let bug = all.into_iter().find(|b| named(b) == name.trim());
    Some(bug.unwrap_or_else(|| {
        let names: Vec<_> = all.iter().map(named).collect();
        panic!("RAFT_SIM_BUG={name}: not one of {names:?}")
    }))
}

/// A number from the environment, if set. Panics on a malformed value: the user asked for it.
pub fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a number")),
    )
}
