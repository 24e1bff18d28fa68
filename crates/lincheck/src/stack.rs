//! The stack model: stacks of `i64` under integer ids (the `sPush`/`sPop`/`sTop`/`sSize`
//! workflow), partitioned by stack id. A stack that was never pushed to is empty.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::history::Operation;
use super::model::{partition_by, Model};

/// A request to one stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StackInput {
    /// Pushes `item` on `stack`.
    Push { stack: u64, item: i64 },
    /// Removes and returns the top item.
    Pop { stack: u64 },
    /// Returns the top item without removing it.
    Top { stack: u64 },
    /// Returns the number of items.
    Size { stack: u64 },
}

impl StackInput {
    /// The stack the request touches.
    pub fn stack(&self) -> u64 {
        match *self {
            StackInput::Push { stack, .. }
            | StackInput::Pop { stack }
            | StackInput::Top { stack }
            | StackInput::Size { stack } => stack,
        }
    }
}

/// An answer from a stack; one of the wrong kind for its request is impossible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StackOutput {
    /// `Push` acknowledged.
    Done,
    /// `Pop` or `Top`: the item, or `None` when the stack was empty.
    Item(Option<i64>),
    /// `Size`'s answer.
    Size(u64),
}

/// One operation of a stack history.
pub type StackOperation = Operation<StackInput, StackOutput>;

/// The stack model.
pub struct StackModel;

impl Model for StackModel {
    /// Every stack by id, so the model is right even unpartitioned; partitioned, it holds one.
    /// Empty stacks are not stored, so equal contents always compare (and hash) equal.
    type State = BTreeMap<u64, Vec<i64>>;
    type Input = StackInput;
    type Output = StackOutput;

    fn init() -> Self::State {
        BTreeMap::new()
    }

    fn step(
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State> {
        let id = input.stack();
        let items = state.get(&id).map_or(&[][..], Vec::as_slice);
        let top = items.last().copied();
        match (input, output) {
            (StackInput::Push { item, .. }, None | Some(StackOutput::Done)) => {
                let mut next = state.clone();
                next.entry(id).or_default().push(*item);
                Some(next)
            }
            (StackInput::Pop { .. }, None) => Some(popped(state, id)),
            (StackInput::Pop { .. }, Some(StackOutput::Item(seen))) => {
                (*seen == top).then(|| popped(state, id))
            }
            (StackInput::Top { .. }, None) => Some(state.clone()),
            (StackInput::Top { .. }, Some(StackOutput::Item(seen))) => {
                (*seen == top).then(|| state.clone())
            }
            (StackInput::Size { .. }, None) => Some(state.clone()),
            (StackInput::Size { .. }, Some(StackOutput::Size(seen))) => {
                (*seen == items.len() as u64).then(|| state.clone())
            }
            _ => None,
        }
    }

    fn is_read_only(input: &Self::Input, output: &Self::Output) -> bool {
        matches!(
            (input, output),
            (StackInput::Top { .. } | StackInput::Size { .. }, _)
                | (StackInput::Pop { .. }, StackOutput::Item(None))
        )
    }

    fn partition(history: &[Operation<Self::Input, Self::Output>]) -> Vec<Vec<usize>> {
        partition_by(history, |op| op.input.stack())
    }
}

/// `state` after popping stack `id` (unchanged when it is empty).
fn popped(state: &BTreeMap<u64, Vec<i64>>, id: u64) -> BTreeMap<u64, Vec<i64>> {
    let mut next = state.clone();
    if let Some(items) = next.get_mut(&id) {
        items.pop();
        if items.is_empty() {
            next.remove(&id);
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(items: &[i64]) -> BTreeMap<u64, Vec<i64>> {
        if items.is_empty() {
            return BTreeMap::new();
        }
        BTreeMap::from([(7, items.to_vec())])
    }

    #[test]
    fn pop_returns_the_last_pushed_item_or_none_when_empty() {
        let pop = StackInput::Pop { stack: 7 };
        let item = |i| Some(StackOutput::Item(i));
        assert_eq!(
            StackModel::step(&state(&[1, 2]), &pop, item(Some(2)).as_ref()),
            Some(state(&[1]))
        );
        assert_eq!(
            StackModel::step(&state(&[1, 2]), &pop, item(Some(1)).as_ref()),
            None
        );
        assert_eq!(
            StackModel::step(&state(&[1]), &pop, item(Some(1)).as_ref()),
            Some(state(&[]))
        );
        assert_eq!(
            StackModel::step(&state(&[]), &pop, item(None).as_ref()),
            Some(state(&[]))
        );
        assert_eq!(
            StackModel::step(&state(&[1]), &pop, item(None).as_ref()),
            None
        );
        assert_eq!(
            StackModel::step(&state(&[1, 2]), &pop, None),
            Some(state(&[1]))
        );
    }

    #[test]
    fn top_and_size_observe_without_changing() {
        let s = state(&[4, 9]);
        let top = StackInput::Top { stack: 7 };
        let size = StackInput::Size { stack: 7 };
        assert_eq!(
            StackModel::step(&s, &top, Some(&StackOutput::Item(Some(9)))),
            Some(s.clone())
        );
        assert_eq!(
            StackModel::step(&s, &top, Some(&StackOutput::Item(Some(4)))),
            None
        );
        assert_eq!(
            StackModel::step(&s, &size, Some(&StackOutput::Size(2))),
            Some(s.clone())
        );
        assert_eq!(
            StackModel::step(&s, &size, Some(&StackOutput::Size(1))),
            None
        );
        assert_eq!(StackModel::step(&s, &size, Some(&StackOutput::Done)), None);
    }

    #[test]
    fn stacks_are_independent() {
        let s = BTreeMap::from([(1, vec![10]), (2, vec![20])]);
        let pop = StackInput::Pop { stack: 2 };
        let next = StackModel::step(&s, &pop, Some(&StackOutput::Item(Some(20))));
        assert_eq!(next, Some(BTreeMap::from([(1, vec![10])])));
    }
}
