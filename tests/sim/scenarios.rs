//! Named scenarios: the simulator with scripted faults instead of random ones. The checker still
//! runs after every step; each test then asserts the behaviour its name promises.

mod asymmetric;
mod backup;
mod economy;
mod election;
pub mod figure8;
pub mod membership;
mod replication;
mod snapshot;

use raftkv::raft::{NodeId, Role};

use super::harness::{Sim, SimConfig, Violation};

/// Ticks within which a healthy cluster must elect a leader: two maximum election timeouts plus
/// round trips, with room for one split vote.
pub const ELECTION_BOUND_TICKS: u64 = 100;

/// Runs `body` on a fresh simulator; a violation fails the test with the last events.
pub fn scripted(cfg: SimConfig, body: impl FnOnce(&mut Sim) -> Result<(), Violation>) {
    let mut sim = Sim::new(cfg);
    if let Err(v) = body(&mut sim) {
        panic!("seed {}: {v}\nlast events:\n{}", sim.cfg.seed, sim.trace);
    }
}

/// Waits for a leader among `side` whose term is the highest in `side`, and returns it.
pub fn elect_in(sim: &mut Sim, side: &[NodeId]) -> Result<NodeId, Violation> {
    let found = sim.run_until(ELECTION_BOUND_TICKS, |sim| leader_in(sim, side).is_some())?;
    assert!(
        found.is_some(),
        "no leader among {side:?} within {ELECTION_BOUND_TICKS} ticks"
    );
    Ok(leader_in(sim, side).expect("just found"))
}

/// Waits for a leader in the whole cluster.
pub fn elect(sim: &mut Sim) -> Result<NodeId, Violation> {
    let all = sim.cfg.voters();
    elect_in(sim, &all)
}

/// The leader among `side`, if one leads in the highest term any node of `side` knows.
pub fn leader_in(sim: &Sim, side: &[NodeId]) -> Option<NodeId> {
    let statuses: Vec<_> = side
        .iter()
        .filter_map(|&id| sim.node(id).status())
        .collect();
    let top = statuses.iter().map(|s| s.term).max()?;
    statuses
        .iter()
        .find(|s| s.role == Role::Leader && s.term == top)
        .map(|s| s.id)
}

/// Proposes a fresh payload at `leader` and waits until every node of `side` applied it.
pub fn commit_on(sim: &mut Sim, leader: NodeId, side: &[NodeId]) -> Result<(), Violation> {
    let data = sim.next_payload();
    let (index, term) = sim
        .propose(leader, data)?
        .unwrap_or_else(|| panic!("node {leader} refused a proposal"));
    let done = sim.run_until(ELECTION_BOUND_TICKS, |sim| {
        side.iter().all(|&id| sim.applied_on(id, index, term))
    })?;
    assert!(
        done.is_some(),
        "({index}, {term}) not applied on all of {side:?}"
    );
    Ok(())
}

/// Every voter but those in `side`.
pub fn others(sim: &Sim, side: &[NodeId]) -> Vec<NodeId> {
    sim.cfg
        .voters()
        .into_iter()
        .filter(|id| !side.contains(id))
        .collect()
}
