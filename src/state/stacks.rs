//! Stacks of integers, created under a label and addressed by id.

use imbl::{OrdMap, Vector};

/// Why a stack operation could not be carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    /// No stack has this id, or no stack has this label.
    #[error("no such stack")]
    NotFound,
    /// Pop or top of an empty stack.
    #[error("stack is empty")]
    Empty,
}

/// One stack.
#[derive(Clone, Debug)]
pub(super) struct Stack {
    pub(super) label: i64,
    /// Bottom first. Persistent like the maps, so that pushing onto a stack shared with a snapshot
    /// copies a few chunks, not the whole stack.
    pub(super) items: Vector<i64>,
}

/// All stacks.
///
/// Invariant: `by_label` and `by_id` describe the same stacks (label ↔ id is a bijection), and every
/// id is below `next_id`. Ids are handed out 1, 2, 3, … in order of creation, which is the same on
/// every replica.
#[derive(Clone, Debug)]
pub(super) struct Stacks {
    by_id: OrdMap<u64, Stack>,
    by_label: OrdMap<i64, u64>,
    /// Invariant: at least 1.
    next_id: u64,
}

impl Default for Stacks {
    fn default() -> Self {
        Stacks::restored(1)
    }
}

impl Stacks {
    /// The id of the stack labelled `label`, creating an empty one if there is none.
    pub(super) fn create(&mut self, label: i64) -> u64 {
        if let Some(&id) = self.by_label.get(&label) {
            return id;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.by_label.insert(label, id);
        let previous = self.by_id.insert(
            id,
            Stack {
                label,
                items: Vector::new(),
            },
        );
        assert!(previous.is_none(), "stack id {id} handed out twice");
        id
    }

    /// The id of the stack labelled `label`.
    pub(super) fn id(&self, label: i64) -> Result<u64, StackError> {
        self.by_label
            .get(&label)
            .copied()
            .ok_or(StackError::NotFound)
    }

    /// Pushes `item`; returns the new length.
    pub(super) fn push(&mut self, id: u64, item: i64) -> Result<u64, StackError> {
        let stack = self.by_id.get_mut(&id).ok_or(StackError::NotFound)?;
        stack.items.push_back(item);
        Ok(stack.items.len() as u64)
    }

    /// Removes and returns the top item.
    pub(super) fn pop(&mut self, id: u64) -> Result<i64, StackError> {
        let stack = self.by_id.get_mut(&id).ok_or(StackError::NotFound)?;
        stack.items.pop_back().ok_or(StackError::Empty)
    }

    /// The top item.
    pub(super) fn top(&self, id: u64) -> Result<i64, StackError> {
        let stack = self.by_id.get(&id).ok_or(StackError::NotFound)?;
        stack.items.last().copied().ok_or(StackError::Empty)
    }

    /// The number of items.
    pub(super) fn size(&self, id: u64) -> Result<u64, StackError> {
        let stack = self.by_id.get(&id).ok_or(StackError::NotFound)?;
        Ok(stack.items.len() as u64)
    }

    /// Every stack with its id, by ascending id.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, &Stack)> + '_ {
        self.by_id.iter().map(|(&id, stack)| (id, stack))
    }

    /// The number of stacks.
    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// The id the next created stack gets.
    pub(super) fn next_id(&self) -> u64 {
        self.next_id
    }

    /// No stacks yet, the next created getting `next_id` (at least 1), as a snapshot says.
    pub(super) fn restored(next_id: u64) -> Self {
        assert!(next_id >= 1, "stack ids start at 1");
        Stacks {
            by_id: OrdMap::new(),
            by_label: OrdMap::new(),
            next_id,
        }
    }

    /// Adds a stack read back from a snapshot, which lists stacks by ascending id. Stacks are never
    /// removed, so the ids must run 1, 2, 3, … without a gap; a label already taken is refused too.
    pub(super) fn restore(
        &mut self,
        id: u64,
        label: i64,
        items: Vector<i64>,
    ) -> Result<(), String> {
        let expected = self.by_id.len() as u64 + 1;
        if id != expected {
            return Err(format!(
                "stack id {id} is out of sequence (expected {expected})"
            ));
        }
        if id >= self.next_id {
            return Err(format!(
                "stack id {id} was never handed out (next is {})",
                self.next_id
            ));
        }
        if let Some(other) = self.by_label.insert(label, id) {
            return Err(format!(
                "label {label} names both stack {other} and stack {id}"
            ));
        }
        self.by_id.insert(id, Stack { label, items });
        Ok(())
    }

    /// Checks, once every stack is restored, that the next id follows the last one handed out.
    pub(super) fn check_restored(&self) -> Result<(), String> {
        let (count, next_id) = (self.by_id.len(), self.next_id);
        if next_id != count as u64 + 1 {
            return Err(format!(
                "the next stack id is {next_id}, but there are {count} stacks"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_handed_out_in_creation_order_and_labels_are_reused() {
        let mut stacks = Stacks::default();
        assert_eq!(stacks.create(-5), 1);
        assert_eq!(stacks.create(9), 2);
        assert_eq!(stacks.create(-5), 1);
        assert_eq!(stacks.id(9), Ok(2));
        assert_eq!(stacks.id(10), Err(StackError::NotFound));
    }

    #[test]
    fn push_pop_top_size_follow_last_in_first_out() {
        let mut stacks = Stacks::default();
        let id = stacks.create(1);
        assert_eq!(stacks.push(id, 10), Ok(1));
        assert_eq!(stacks.push(id, 20), Ok(2));
        assert_eq!(stacks.top(id), Ok(20));
        assert_eq!(stacks.pop(id), Ok(20));
        assert_eq!(stacks.size(id), Ok(1));
        assert_eq!(stacks.pop(id), Ok(10));
        assert_eq!(stacks.pop(id), Err(StackError::Empty));
        assert_eq!(stacks.top(id), Err(StackError::Empty));
        assert_eq!(stacks.push(99, 1), Err(StackError::NotFound));
    }
}
