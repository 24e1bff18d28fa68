//! A linearizability checker for recorded client histories (pure: no I/O, no threads).
//!
//! A history is linearizable when every operation can be given a single instant, between its
//! call and its return, such that the operations, run one at a time in the order of those
//! instants, give the answers the clients saw according to a sequential [`Model`] (Herlihy &
//! Wing). [`check`] decides this for a history of [`Operation`]s.
//!
//! # The algorithm
//! Wing & Gong's search, with the memoisation Lowe added (the approach of Knossos and
//! Porcupine), written as a loop with an explicit stack so history length never meets the call
//! stack. Calls and returns form time-ordered lists. A *configuration* is (set of operations
//! placed so far, model state). Its *candidates* are the operations called before the first
//! return of an unplaced operation: one of them must come next. The search places a candidate
//! the model accepts, moves to the new configuration, and undoes its latest choice when no
//! candidate works. Every configuration reached is cached: two orders that place the same
//! operations and end in the same state have the same future, so the second is skipped.
//!
//! On top of that skeleton (none of this changes a verdict, only how fast it comes):
//! - A candidate that never changes the state when it fits ([`Model::is_read_only`]: a read, a
//!   failed compare-and-set) is placed at once, without trying alternatives: moving such an
//!   operation earlier keeps every later state.
//! - Other candidates are tried in order of the middle of their interval, the best guess of
//!   when each took effect.
//! - Unknown-outcome candidates (below) are tried only when no known one works.
//!
//! A call and a return at the same instant count as concurrent. Before searching, the model's
//! [`Model::partition`] splits the history into independent parts (one per key, one per stack),
//! which are checked separately: a history is linearizable iff each part is (P-compositionality),
//! and the search is exponential in the size of what it is given, so this matters most.
//!
//! # Unknown outcomes
//! An operation with `output: None` timed out or lost its connection: it may have taken effect at
//! any time after its call, or never. It is modelled as returning at +∞ with any output: it stays
//! a candidate until the end and the model accepts any answer for it. The search succeeds once
//! every operation *with* a known outcome is placed; unknown ones left over are those that never
//! took effect (or did so after everything observed, which nothing can tell apart).
//!
//! Timeouts pending forever would make every subset of them a distinct configuration, so:
//! - a configuration with the same known operations placed, the same state and a *subset* of
//!   the unknown ones placed dominates this one (it can do everything this one can), and the
//!   cache skips dominated configurations;
//! - the unknown candidates of a configuration are admitted to the cache together, so that a
//!   chain of timeouts is never explored when a shorter chain reaching the same state exists;
//! - one that would not change the state is never placed; among timeouts with equal inputs only
//!   the earliest called is tried; and right after a timeout, none that [`Model::absorbs`] it is.
//!
//! # The budget
//! Deciding linearizability is NP-complete, so the search runs under a [`Budget`]: a number of
//! steps per partition (which also bounds the cache's memory) and optionally a wall-clock
//! duration for the whole check. Running out gives [`Verdict::Unknown`]; the caller decides what
//! that means. [`Verdict::Illegal`] carries a [`Violation`]: the longest linearizable prefix found
//! (counting known operations), the state after it, and the operation that could not be placed.
//!
//! What stays expensive: a stack whose items sit deep for hundreds of operations while pushes
//! overlap (a wrong guess about their order shows only when the items are popped, and everything
//! in between is explored again), and a single key or stack with hundreds of timeouts. Workloads
//! meant to be checked should spread operations over several keys or stacks and keep stacks
//! shallow; the tests measure what fits in the default budget.
//!
//! ```
//! use raftkv_lincheck::{check, Budget, KvInput, KvModel, KvOutput, Operation};
//!
//! // A write completes at t=10; a read starting after it still sees nothing: a stale read.
//! let history = vec![
//!     Operation::completed(1, 0, 10, KvInput::Put { key: "x", value: 1 }, KvOutput::Done),
//!     Operation::completed(2, 20, 30, KvInput::Get { key: "x" }, KvOutput::Value(None)),
//! ];
//! let verdict = check::<KvModel<&str, i32>>(&history, Budget::default()).unwrap();
//! assert!(verdict.is_illegal());
//! ```

mod bitset;
mod cache;
mod check;
mod events;
mod explorer;
mod hashing;
mod history;
mod kv;
mod model;
mod search;
mod stack;
mod verdict;

pub use check::check;
pub use history::{HistoryError, Operation};
pub use kv::{KvInput, KvModel, KvOperation, KvOutput};
pub use model::{partition_by, Model};
pub use stack::{StackInput, StackModel, StackOperation, StackOutput};
pub use verdict::{Budget, Unfinished, Verdict, Violation};
