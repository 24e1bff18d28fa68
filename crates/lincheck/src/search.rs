//! Wing & Gong's search with Lowe's memoisation, over the operations of one partition.

use std::time::Instant;

use super::explorer::{Deepest, Explorer, Walk};
use super::history::Operation;
use super::model::Model;

/// How far a search got.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Found<S> {
    /// A linearization exists.
    Linearizable,
    /// None exists; the furthest point reached, in the partition's own operation numbers.
    Illegal {
        prefix: Vec<usize>,
        stuck: usize,
        state: S,
    },
    /// The budget ran out first.
    Exhausted,
}

/// Steps between two looks at the clock: reading it on every step would dominate the search.
const STEPS_PER_CLOCK_CHECK: u64 = 1024;

/// Searches for a linearization of `ops` (one partition, in any order).
///
/// At each configuration the candidates are the operations called before the first pending
/// return. A known read-only candidate that fits (see [`Model::is_read_only`]) is placed without
/// alternatives: moving an operation that never changes the state earlier breaks nothing.
/// Otherwise known candidates are tried by the middle of their interval; for each one the model
/// accepts and the cache admits, the choice is pushed on a stack, its events are lifted out, and
/// the search goes on from the new configuration. Only when no known candidate works are the
/// unknown-outcome ones tried, all admitted to the cache at once, so that a sequence of timeouts
/// is never explored when a shorter one reaching the same state exists. When they fail too, the
/// latest choice is undone.
pub(crate) fn search<M: Model>(
    ops: &[&Operation<M::Input, M::Output>],
    steps_max: u64,
    deadline: Option<Instant>,
) -> Found<M::State> {
    let mut explorer = Explorer::<M>::new(ops);
    let mut walk = Walk::Fresh;
    let mut clock_checked_at = 0;
    while !explorer.done() {
        if explorer.steps > steps_max {
            return Found::Exhausted;
        }
        if explorer.steps >= clock_checked_at + STEPS_PER_CLOCK_CHECK {
            clock_checked_at = explorer.steps;
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Found::Exhausted;
            }
        }
        explorer.steps += 1;
        let next = match walk {
            Walk::Fresh => explorer.known_children(),
            Walk::Known {
                limit,
                mut children,
            } => match children.pop() {
                Some(child) if explorer.admit(child.op, &child.next) => {
                    let resume = Walk::Known { limit, children };
                    Some(explorer.place(child, Some(resume)))
                }
                Some(_) => Some(Walk::Known { limit, children }),
                None => Some(Walk::Unknown {
                    limit,
                    children: explorer.unknown_children(limit),
                }),
            },
            Walk::Unknown {
                limit,
                mut children,
            } => match children.pop() {
                Some(child) => {
                    let resume = Walk::Unknown { limit, children };
                    Some(explorer.place(child, Some(resume)))
                }
                None => {
                    explorer.record_deepest(limit);
                    explorer.undo()
                }
            },
        };
        walk = match next {
            Some(walk) => walk,
            None => {
                let deepest = explorer.into_deepest();
                let Deepest {
                    prefix,
                    stuck,
                    state,
                    ..
                } = deepest;
                return Found::Illegal {
                    prefix,
                    stuck,
                    state,
                };
            }
        };
    }
    Found::Linearizable
}
