//! The search's current configuration and the moves between configurations: listing
//! candidates, placing one, undoing choices. [`super::search`] decides which move comes next.

use std::collections::HashMap;

use super::bitset::Bitset;
use super::cache::Cache;
use super::events::{Event, Events};
use super::hashing::zobrist_key;
use super::history::Operation;
use super::model::Model;

/// What the search does next, at the current configuration.
pub(crate) enum Walk<S> {
    /// The configuration was just reached: list its known candidates.
    Fresh,
    /// Known candidates left to try, the last one first (the cache admits them when tried).
    Known {
        limit: usize,
        children: Vec<Child<S>>,
    },
    /// Unknown-outcome candidates left to try, the last one first, all admitted already; when
    /// none is left, nothing can be placed before the return at `limit`.
    Unknown {
        limit: usize,
        children: Vec<Child<S>>,
    },
}

/// An operation that may be placed next, and the state it leads to.
pub(crate) struct Child<S> {
    call: usize,
    pub(crate) op: usize,
    pub(crate) next: S,
}

/// One choice on the stack: the placed operation's call node, the operation, the state before
/// it, and what to try at the previous configuration once it is undone (`None`: nothing, the
/// choice was forced).
struct Choice<S> {
    call: usize,
    op: usize,
    before: S,
    resume: Option<Walk<S>>,
}

/// The search's state for one partition.
pub(crate) struct Explorer<'a, M: Model> {
    ops: &'a [&'a Operation<M::Input, M::Output>],
    events: Events,
    /// Each operation's position in its bitset: known and unknown ones are numbered apart.
    slot: Vec<usize>,
    known_placed: Bitset,
    /// Zobrist hash of `known_placed`, kept up to date by `mark`.
    known_hash: u64,
    unknown_placed: Bitset,
    /// For an unknown-outcome operation, the latest one called before it with an equal input.
    earlier_twin: Vec<Option<usize>>,
    /// Unknown-outcome operations may never take effect, so only the others must be placed.
    known_left: usize,
    known_total: usize,
    cache: Cache<M::State>,
    state: M::State,
    stack: Vec<Choice<M::State>>,
    deepest: Option<Deepest<M::State>>,
    /// Steps spent: the search loop counts its moves here, the explorer its model evaluations.
    pub(crate) steps: u64,
}

/// The furthest configuration from which the search had to backtrack: the explanation of a
/// violation.
pub(crate) struct Deepest<S> {
    known_placed: usize,
    pub(crate) prefix: Vec<usize>,
    pub(crate) stuck: usize,
    pub(crate) state: S,
}

impl<'a, M: Model> Explorer<'a, M> {
    pub(crate) fn new(ops: &'a [&'a Operation<M::Input, M::Output>]) -> Self {
        let times: Vec<(u64, Option<u64>)> =
            ops.iter().map(|op| (op.call, op.effective_ret())).collect();
        let (mut known, mut unknown) = (0, 0);
        let slot = ops
            .iter()
            .map(|op| {
                let counter = if op.is_unknown() {
                    &mut unknown
                } else {
                    &mut known
                };
                *counter += 1;
                *counter - 1
            })
            .collect();
        Explorer {
            ops,
            events: Events::new(&times),
            slot,
            known_placed: Bitset::new(known),
            known_hash: 0,
            unknown_placed: Bitset::new(unknown),
            earlier_twin: earlier_twins(ops),
            known_left: known,
            known_total: known,
            cache: Cache::new(),
            state: M::init(),
            stack: Vec::new(),
            deepest: None,
            steps: 0,
        }
    }

    /// Lists the known candidates of a configuration just reached, or takes a forced move.
    /// Returns `None` when the search is over (a forced move was refused and nothing is left).
    pub(crate) fn known_children(&mut self) -> Option<Walk<M::State>> {
        let mut children = Vec::new();
        let mut at = self.events.first_known();
        let limit = loop {
            let node = at.expect("a known operation's return lies ahead while one is pending");
            let Event::Call { op, .. } = self.events.event(node) else {
                break node;
            };
            self.steps += 1;
            at = self.events.after(node);
            let operation = self.ops[op];
            let Some(next) = M::step(&self.state, &operation.input, operation.output.as_ref())
            else {
                continue;
            };
            let read_only = operation
                .output
                .as_ref()
                .is_some_and(|output| M::is_read_only(&operation.input, output));
            debug_assert!(
                !read_only || next == self.state,
                "a read-only operation changed the state"
            );
            if read_only {
                // Forced: moving an operation that never changes the state earlier keeps every
                // later state, so any linearization from here has one that places this first.
                let child = Child {
                    call: node,
                    op,
                    next,
                };
                return match self.admit(op, &child.next) {
                    true => Some(self.place(child, None)),
                    false => self.undo(),
                };
            }
            children.push(Child {
                call: node,
                op,
                next,
            });
        };
        // Popped from the end: the operation whose interval is centred earliest is tried first,
        // the best guess of where it took effect. A good first guess is what keeps the search
        // from exploring wrong orders that only a much later operation exposes.
        children.sort_by_key(|child| std::cmp::Reverse(self.midpoint(child.op)));
        Some(Walk::Known { limit, children })
    }

    /// The unknown-outcome operations that may be placed before the return at `limit`, each
    /// already admitted by the cache, the earliest called last.
    pub(crate) fn unknown_children(&mut self, limit: usize) -> Vec<Child<M::State>> {
        let mut children = Vec::new();
        // Right after an unknown-outcome operation, one that absorbs it leads where it led
        // alone from the previous configuration, with one more operation spent: a sibling there.
        let ops = self.ops;
        let last_unknown = self
            .stack
            .last()
            .map(|choice| ops[choice.op])
            .filter(|operation| operation.is_unknown());
        let mut at = self.events.first_unknown();
        while let Some(call) = at.filter(|&node| node < limit) {
            at = self.events.after(call);
            let Event::Call { op, .. } = self.events.event(call) else {
                unreachable!("the unknown list holds only calls");
            };
            let operation = ops[op];
            // Operations with equal inputs and unknown outcomes are interchangeable, and the
            // earliest-called can go wherever a later one can: only the earliest unplaced one
            // is tried. (Twins are therefore placed in call order.)
            let twin_pending = self.earlier_twin[op]
                .is_some_and(|twin| !self.unknown_placed.contains(self.slot[twin]));
            if twin_pending {
                continue;
            }
            if last_unknown.is_some_and(|last| M::absorbs(&operation.input, &last.input)) {
                continue;
            }
            self.steps += 1;
            let Some(next) = M::step(&self.state, &operation.input, None) else {
                continue;
            };
            // One that changes nothing can as well never happen.
            if next != self.state && self.admit(op, &next) {
                children.push(Child { call, op, next });
            }
        }
        children.reverse();
        children
    }

    /// Asks the cache whether placing `op` to reach `next` is worth exploring.
    pub(crate) fn admit(&mut self, op: usize, next: &M::State) -> bool {
        self.mark(op, true);
        let admitted = self.cache.visit(
            &self.known_placed,
            self.known_hash,
            &self.unknown_placed,
            next,
        );
        self.mark(op, false);
        admitted
    }

    /// Places `child` next; the search goes on from the configuration it reaches.
    pub(crate) fn place(
        &mut self,
        child: Child<M::State>,
        resume: Option<Walk<M::State>>,
    ) -> Walk<M::State> {
        let Child { call, op, next } = child;
        let before = std::mem::replace(&mut self.state, next);
        self.stack.push(Choice {
            call,
            op,
            before,
            resume,
        });
        self.mark(op, true);
        self.events.lift(call);
        self.known_left -= usize::from(!self.ops[op].is_unknown());
        Walk::Fresh
    }

    /// Keeps the current configuration as the explanation if it is the deepest so far: nothing
    /// can be placed before the return at `limit`.
    pub(crate) fn record_deepest(&mut self, limit: usize) {
        let Event::Return { op: stuck } = self.events.event(limit) else {
            unreachable!("candidates are limited by a return");
        };
        // Depth counts known operations only: a prefix padded with timeouts would point at an
        // operation that only failed because of that padding.
        let known_placed = self.known_total - self.known_left;
        let deeper = match &self.deepest {
            Some(deepest) => deepest.known_placed < known_placed,
            None => true,
        };
        if deeper {
            let prefix = self.stack.iter().map(|choice| choice.op).collect();
            let state = self.state.clone();
            self.deepest = Some(Deepest {
                known_placed,
                prefix,
                stuck,
                state,
            });
        }
    }

    /// Undoes choices up to the latest one with alternatives left, and returns those; `None`
    /// when there is none.
    pub(crate) fn undo(&mut self) -> Option<Walk<M::State>> {
        loop {
            let choice = self.stack.pop()?;
            self.state = choice.before;
            self.mark(choice.op, false);
            self.known_left += usize::from(!self.ops[choice.op].is_unknown());
            self.events.unlift(choice.call);
            if let Some(resume) = choice.resume {
                return Some(resume);
            }
        }
    }

    /// True once every known operation is placed: the stack is a linearization.
    pub(crate) fn done(&self) -> bool {
        self.known_left == 0
    }

    /// The explanation of a failed search.
    pub(crate) fn into_deepest(self) -> Deepest<M::State> {
        self.deepest.expect("a failed search got stuck somewhere")
    }

    /// The middle of a known operation's interval.
    fn midpoint(&self, op: usize) -> u64 {
        let operation = self.ops[op];
        let ret = operation.ret.expect("known operations have returned");
        operation.call / 2 + ret / 2
    }

    /// Adds `op` to, or removes it from, the set of placed operations.
    fn mark(&mut self, op: usize, placed: bool) {
        let set = match self.ops[op].is_unknown() {
            true => &mut self.unknown_placed,
            false => {
                self.known_hash ^= zobrist_key(op);
                &mut self.known_placed
            }
        };
        if placed {
            set.insert(self.slot[op]);
        } else {
            set.remove(self.slot[op]);
        }
    }
}

/// For each unknown-outcome operation, the latest one called before it with an equal input.
fn earlier_twins<I: Eq + std::hash::Hash, O>(ops: &[&Operation<I, O>]) -> Vec<Option<usize>> {
    let mut by_call: Vec<usize> = (0..ops.len()).filter(|&op| ops[op].is_unknown()).collect();
    by_call.sort_by_key(|&op| (ops[op].call, op));
    let mut latest: HashMap<&I, usize> = HashMap::new();
    let mut twins = vec![None; ops.len()];
    for op in by_call {
        twins[op] = latest.insert(&ops[op].input, op);
    }
    twins
}
