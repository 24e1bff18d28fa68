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
//! stack. The calls and returns form one time-ordered list. Walking it from the start, the search
//! tries to make each called-but-unplaced operation the next one in the linearization; the model
//! says whether the answer it gave is possible from the current state. Success lifts the
//! operation's events out of the list and restarts the walk; reaching a return means the earliest
//! pending operation can no longer be placed, so the latest choice is undone. Every configuration
//! reached, (set of placed operations as a bitset, model state), is cached: two orders that place
//! the same operations and end in the same state have the same future, so the second is skipped.
//!
//! A call and a return at the same instant count as concurrent. Before searching, the model's
//! [`Model::partition`] splits the history into independent parts (one per key, one per stack),
//! which are checked separately: a history is linearizable iff each part is (P-compositionality),
//! and the search is exponential in the size of what it is given, so this matters most.
//!
//! # Unknown outcomes
//! An operation with `output: None` timed out or lost its connection: it may have taken effect at
//! any time after its call, or never. It is modelled as returning at +∞ with any output: it stays
//! pending until the end and the model accepts any answer for it. The search succeeds once every
//! operation *with* a known outcome is placed; unknown ones left over are those that never took
//! effect (or did so after everything observed, which nothing can tell apart). An unknown one
//! whose placement would not change the state (a timed-out read) is never placed, as it can
//! explain nothing.
//!
//! # The budget
//! The problem is NP-complete, so the search runs under a [`Budget`]: a number of steps per
//! partition (which also bounds the cache's memory) and optionally a wall-clock duration for the
//! whole check. Running out gives [`Verdict::Unknown`]; the caller decides what that means.
//! [`Verdict::Illegal`] carries a [`Violation`]: the longest linearizable prefix found, the
//! state after it, and the operation that could not be placed after it.
//!
//! ```
//! use raftkv::lincheck::{check, Budget, KvInput, KvModel, KvOutput, Operation};
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
mod check;
mod events;
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
