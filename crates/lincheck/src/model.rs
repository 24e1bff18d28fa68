//! The sequential specification a history is checked against.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

use super::history::Operation;

/// A sequential object: its states, and which output each operation may give from each state.
///
/// Models are deterministic: one state and one input lead to at most one next state. That is all
/// the search needs, and it keeps the memoisation cache exact.
pub trait Model {
    /// The object's state. Hashed and compared by the search's cache, so keep it small and cheap
    /// to clone (one key's value, one stack), which partitioning makes possible.
    type State: Clone + Eq + Hash + Debug;
    /// What a client asks. Equal inputs are interchangeable when their outcomes are unknown,
    /// which the search exploits.
    type Input: Debug + Eq + Hash;
    /// What a client is told.
    type Output: Debug;

    /// The state before any operation.
    fn init() -> Self::State;

    /// Applies `input` to `state`. With `Some(output)`, returns the next state only if the object
    /// could have answered `output` from `state`, and `None` when that answer is impossible. With
    /// `None` (unknown outcome) any answer is allowed, so this must return the next state.
    fn step(
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// True when `input` answered with `output` leaves unchanged every state it is possible from
    /// (a read; a compare-and-set that failed). The search places such an operation as soon as
    /// it fits, without trying alternatives, which makes read-heavy histories much cheaper to
    /// check. A wrong `true` makes the checker reject linearizable histories; the default,
    /// `false`, is always safe.
    fn is_read_only(input: &Self::Input, output: &Self::Output) -> bool {
        let _ = (input, output);
        false
    }

    /// True when applying `earlier` then `later`, both with unknown outcomes, always leads to the
    /// state `later` alone leads to (a write that overwrites whatever the other did). The search
    /// then never tries `later` right after `earlier` among timeouts, which keeps histories with
    /// many timeouts on one key tractable. A wrong `true` makes the checker reject linearizable
    /// histories; the default, `false`, is always safe.
    fn absorbs(later: &Self::Input, earlier: &Self::Input) -> bool {
        let _ = (later, earlier);
        false
    }

    /// Splits a history into independent sub-histories, as lists of indices into `history`
    /// (P-compositionality: a history is linearizable iff each part is, when the parts touch
    /// disjoint parts of the state, such as different keys). Every index must appear in exactly
    /// one part. The default keeps the history whole.
    fn partition(history: &[Operation<Self::Input, Self::Output>]) -> Vec<Vec<usize>> {
        vec![(0..history.len()).collect()]
    }

    /// A one-line rendering of an operation for violation reports.
    fn describe(op: &Operation<Self::Input, Self::Output>) -> String {
        let ret = match op.ret {
            Some(ret) => ret.to_string(),
            None => "?".to_string(),
        };
        let output = match &op.output {
            Some(output) => format!("{output:?}"),
            None => "unknown".to_string(),
        };
        format!(
            "client {} [{}, {}] {:?} -> {}",
            op.client, op.call, ret, op.input, output
        )
    }
}

/// Groups the items of a history by `part_of` (a key, a stack id), for [`Model::partition`].
/// Parts come in order of first appearance, so reports name the same part on every run.
pub fn partition_by<'a, T, P: Eq + Hash>(
    history: &'a [T],
    part_of: impl Fn(&'a T) -> P,
) -> Vec<Vec<usize>> {
    let mut position: HashMap<P, usize> = HashMap::new();
    let mut parts: Vec<Vec<usize>> = Vec::new();
    for (i, item) in history.iter().enumerate() {
        let next = parts.len();
        let part = *position.entry(part_of(item)).or_insert(next);
        if part == next {
            parts.push(Vec::new());
        }
        parts[part].push(i);
    }
    parts
}
