//! Negative controls for membership changes: with each rule of single-server changes broken on
//! purpose in the core, the simulator must notice — directly, as a configuration entry that
//! breaks the rules (`Kind::ChangeRule`), and by the consequences once that check is off: two
//! configurations whose majorities do not overlap elect two leaders in one term, or a leader
//! that lacks committed entries and overwrites them (Ongaro's 2015 report on single-server
//! changes).
//!
//! Random membership runs hit overlapping changes often once the operator acts right after
//! elections and the network cuts a leader off as it starts a change. A change before the
//! leader's term committed needs more: the report's exact race, which random runs with the same
//! settings produce about once in 1,000 seeds. Its consequence control therefore uses the
//! race generator of `scenarios::membership`, which draws the case, the roles and the timing.

use std::panic::{catch_unwind, AssertUnwindSafe};

use raftkv::raft::InjectedBug;

use super::harness::{changes_often, ChaosConfig, Kind, Mode, Sim, SimConfig};
use super::negative::caught_in;
use super::scenarios::membership::{change_race, config, Race};

/// What the bugs end in when two configurations' majorities do not overlap.
const CONSEQUENCES: [Kind; 5] = [
    Kind::ElectionSafety,
    Kind::LeaderCompleteness,
    Kind::StateMachineSafety,
    Kind::StateMachineDivergence,
    Kind::LogMatching,
];

/// Membership runs aimed at the rules: 4 voters of 6 ids (so configurations of even size, whose
/// majorities can miss each other after two changes), an operator that changes voters right
/// after every election and every few ticks, and a network that cuts a leader off (with the
/// voters it adds) or cuts off the voters it removes the moment it starts a change.
fn aimed_at_changes(cfg: &mut SimConfig, chaos: &mut ChaosConfig, bug: InjectedBug) {
    cfg.core.injected_bug = Some(bug);
    changes_often(cfg, chaos);
}

/// A leader that proposes while its previous change is uncommitted (and lets several voters
/// change at once), caught directly. Caught by seed 0 when written.
#[test]
fn overlapping_changes_are_caught_as_a_broken_change_rule() {
    let seed = caught_in(Mode::Membership, &[Kind::ChangeRule], 20, |cfg, chaos| {
        aimed_at_changes(cfg, chaos, InjectedBug::OverlappingMembershipChanges);
    });
    assert!(seed.is_some(), "no overlapping change was noticed");
}

/// The same, caught by its consequences with the rule check off: about one seed in five ends
/// in two leaders of a term or a leader without committed entries. Caught by seed 4 when
/// written.
#[test]
fn overlapping_changes_are_caught_by_their_consequences() {
    let seed = caught_in(Mode::Membership, &CONSEQUENCES, 100, |cfg, chaos| {
        aimed_at_changes(cfg, chaos, InjectedBug::OverlappingMembershipChanges);
        cfg.check_change_rules = false;
    });
    assert!(seed.is_some(), "overlapping changes never broke safety");
}

/// A new leader that proposes a change before it committed an entry of its term, caught
/// directly: the operator acts right after each election. Caught by seed 0 when written.
#[test]
fn change_before_term_commit_is_caught_as_a_broken_change_rule() {
    let seed = caught_in(Mode::Membership, &[Kind::ChangeRule], 20, |cfg, chaos| {
        aimed_at_changes(cfg, chaos, InjectedBug::MembershipChangeBeforeTermCommit);
    });
    assert!(seed.is_some(), "no early change was noticed");
}

/// The same, caught by its consequences with the rule check off, in the race of the report
/// (one add and one remove, two adds, two removes: one case per seed in turn). Caught by seed
/// 0 when written; without the bug the same races stay safe
/// (`the_race_of_the_2015_report_is_won_by_the_rules`).
#[test]
fn change_before_term_commit_is_caught_by_its_consequences() {
    let races = [Race::OneAddOneRemove, Race::TwoAdds, Race::TwoRemoves];
    for seed in 0..30 {
        let mut cfg = config(seed, 6, 4);
        cfg.core.injected_bug = Some(InjectedBug::MembershipChangeBeforeTermCommit);
        cfg.check_change_rules = false;
        let mut sim = Sim::new(cfg);
        let race = races[seed as usize % races.len()];
        let result = catch_unwind(AssertUnwindSafe(|| change_race(&mut sim, race)));
        if let Ok(Err(v)) = result {
            if CONSEQUENCES.contains(&v.kind()) {
                println!("caught by seed {seed} ({race:?}): {v}");
                return;
            }
            println!("seed {seed} ({race:?}): another violation: {v}");
        }
    }
    panic!("the race never broke safety with an early change");
}
