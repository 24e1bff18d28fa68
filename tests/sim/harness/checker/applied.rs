//! The state machine checks: a node applies committed, locally durable entries in order; every
//! node applies the same entry at each index (State Machine Safety) and reaches the same state
//! there — whether it applied the entries one by one, installed a snapshot, or restarted from
//! one; a node's applied index never goes back, across installs too; and its log never starts
//! past its newest durable snapshot.

use raftkv::raft::{Entry, Index, NodeId, Term};

use super::super::state::AppliedState;
use super::super::storage::{Disk, Storage};
use super::super::violation::Violation;
use super::Checker;

impl Checker {
    /// `node` applied `e`, and its state's digest became `digest`.
    pub fn on_apply(
        &mut self,
        node: NodeId,
        e: &Entry,
        digest: u64,
        commit: Index,
        durable: &Disk,
    ) -> Result<(), Violation> {
        let seen = &mut self.seen[node as usize - 1];
        if e.index != seen.applied + 1 {
            let why = format!("applied {} right after {}", e.index, seen.applied);
            return Err(Violation::Monotonicity { node, why });
        }
        if e.index > commit {
            let why = format!("applied {} beyond its commit index {commit}", e.index);
            return Err(Violation::Contract { node, why });
        }
        if durable.term(e.index) != Some(e.term) {
            let why = format!("applied {} before it was durable", e.index);
            return Err(Violation::Contract { node, why });
        }
        seen.applied = e.index;
        match self.applied.get(e.index as usize - 1) {
            Some((first, _)) if first != e => Err(Violation::StateMachineSafety {
                node,
                index: e.index,
                why: format!("applied {e:?}, elsewhere {first:?}"),
            }),
            Some(&(_, first)) if first != digest => Err(Violation::StateMachineDivergence {
                node,
                index: e.index,
                why: format!(
                    "same entry applied, but its state's digest is {digest:#x}, elsewhere \
                     {first:#x}: the state it was applied to differed"
                ),
            }),
            Some(_) => Ok(()),
            None => {
                // Applying in order from a state some node reached keeps this gapless.
                assert_eq!(e.index as usize, self.applied.len() + 1, "no gaps");
                self.on_first_apply(e);
                self.applied.push((e.clone(), digest));
                Ok(())
            }
        }
    }

    /// `node` installed a snapshot announced as `(index, term)`, whose bytes decoded to `state`.
    pub fn on_install(
        &mut self,
        node: NodeId,
        index: Index,
        term: Term,
        state: &AppliedState,
    ) -> Result<(), Violation> {
        let applied = self.seen[node as usize - 1].applied;
        if index <= applied {
            let why = format!("installed a snapshot through {index} with {applied} applied");
            return Err(Violation::Monotonicity { node, why });
        }
        if (state.index, state.term) != (index, term) {
            let why = format!(
                "a snapshot sent as ({index}, {term}) holds the state through ({}, {})",
                state.index, state.term
            );
            return Err(Violation::Contract { node, why });
        }
        self.check_state(node, state)?;
        self.seen[node as usize - 1].applied = index;
        Ok(())
    }

    /// `node` restarted from `state` (its newest durable snapshot, or nothing).
    pub fn on_restore(&mut self, node: NodeId, state: &AppliedState) -> Result<(), Violation> {
        self.check_state(node, state)?;
        self.seen[node as usize - 1].applied = state.index;
        Ok(())
    }

    /// A state through some index must be the state every node had there.
    fn check_state(&self, node: NodeId, state: &AppliedState) -> Result<(), Violation> {
        if state.index == 0 {
            return Ok(());
        }
        let index = state.index;
        let Some((e, digest)) = self.applied.get(index as usize - 1) else {
            let why = format!("holds a state through {index}, which no node applied");
            return Err(Violation::Contract { node, why });
        };
        if e.term != state.term {
            return Err(Violation::StateMachineSafety {
                node,
                index,
                why: format!(
                    "a snapshot ends with an entry of term {}, elsewhere term {} was applied",
                    state.term, e.term
                ),
            });
        }
        if *digest != state.digest {
            return Err(Violation::StateMachineDivergence {
                node,
                index,
                why: format!(
                    "a snapshot's state has digest {:#x}, the state applied elsewhere {digest:#x}",
                    state.digest
                ),
            });
        }
        Ok(())
    }

    /// The durable log of `node` must not start past its newest durable snapshot: the entries
    /// in between would be held nowhere.
    pub fn check_snapshot_cover(&self, node: NodeId, storage: &Storage) -> Result<(), Violation> {
        let prefix = storage.durable.prev_index;
        let snapshot = storage.snapshots.newest_index();
        if self.check_promises && prefix > snapshot {
            return Err(Violation::PrefixPastSnapshot {
                node,
                prefix,
                snapshot,
            });
        }
        Ok(())
    }
}
