//! Wing & Gong's search with Lowe's memoisation, over the operations of one partition.

use std::collections::HashSet;
use std::time::Instant;

use super::bitset::Bitset;
use super::events::{Event, Events};
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
/// The list of events is walked from its start. Reaching a call, the search tries to linearize
/// that operation next: if the model accepts its output and the resulting (set of linearized
/// operations, state) was never seen, the choice is pushed on a stack, the operation's events are
/// lifted out and the walk restarts. Reaching a return means the earliest pending operation can
/// no longer be placed after the current prefix, so the latest choice is undone and the walk
/// resumes after it. A configuration already in the cache was fully explored before (it failed,
/// or the search would have ended), so it is skipped: this is what keeps the search practical.
pub(crate) fn search<M: Model>(
    ops: &[&Operation<M::Input, M::Output>],
    steps_max: u64,
    deadline: Option<Instant>,
) -> Found<M::State> {
    let times: Vec<(u64, Option<u64>)> =
        ops.iter().map(|op| (op.call, op.effective_ret())).collect();
    let mut events = Events::new(&times);
    // Unknown-outcome operations may never take effect, so only the others must be linearized.
    let mut known_left = ops.iter().filter(|op| !op.is_unknown()).count();
    let mut linearized = Bitset::new(ops.len());
    let mut cache: HashSet<(Bitset, M::State)> = HashSet::new();
    let mut state = M::init();
    // Each choice: (call node, operation, state before it).
    let mut stack: Vec<(usize, usize, M::State)> = Vec::new();
    let mut deepest: Option<Found<M::State>> = None;
    let mut cursor = events.first();
    let mut steps: u64 = 0;

    while known_left > 0 {
        steps += 1;
        if steps > steps_max || (steps % STEPS_PER_CLOCK_CHECK == 0 && past(deadline)) {
            return Found::Exhausted;
        }
        let node = cursor.expect("a known operation's return lies ahead while one is pending");
        match events.event(node) {
            Event::Call { op, .. } => {
                let unknown = ops[op].is_unknown();
                let next = M::step(&state, &ops[op].input, ops[op].output.as_ref())
                    // An unknown-outcome operation that changes nothing can as well never happen;
                    // placing it would only multiply the configurations to explore.
                    .filter(|next| !(unknown && *next == state));
                if let Some(next) = next {
                    linearized.insert(op);
                    if cache.insert((linearized.clone(), next.clone())) {
                        let before = std::mem::replace(&mut state, next);
                        stack.push((node, op, before));
                        events.lift(node);
                        known_left -= usize::from(!unknown);
                        cursor = events.first();
                        continue;
                    }
                    linearized.remove(op);
                }
                cursor = events.after(node);
            }
            Event::Return { op: stuck } => {
                if deepest_is_shallower(&deepest, stack.len()) {
                    let prefix = stack.iter().map(|&(_, op, _)| op).collect();
                    deepest = Some(Found::Illegal {
                        prefix,
                        stuck,
                        state: state.clone(),
                    });
                }
                let Some((call, op, before)) = stack.pop() else {
                    return deepest.expect("recorded just above");
                };
                state = before;
                linearized.remove(op);
                known_left += usize::from(!ops[op].is_unknown());
                events.unlift(call);
                cursor = events.after(call);
            }
        }
    }
    Found::Linearizable
}

fn past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|deadline| Instant::now() >= deadline)
}

fn deepest_is_shallower<S>(deepest: &Option<Found<S>>, depth: usize) -> bool {
    match deepest {
        Some(Found::Illegal { prefix, .. }) => prefix.len() < depth,
        _ => true,
    }
}
