//! The key-value map model: put, get, delete and compare-and-set, partitioned by key.
//!
//! **CAS compares values, not versions.** `Cas { expected: Some(x), new }` succeeds iff the key
//! currently holds `x`; `expected: None` succeeds iff the key is absent (create-if-absent). The
//! model does not have to know how the server numbers versions. A workload that drives a
//! version-based `cas` writes unique values, so that a value names a version: having read version
//! `v` holding `x`, it records `Cas { expected: Some(x), .. }`, which is the same condition.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use super::history::Operation;
use super::model::{partition_by, Model};

/// A request to the map.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvInput<K, V> {
    /// Sets `key` to `value`.
    Put { key: K, value: V },
    /// Reads `key`.
    Get { key: K },
    /// Removes `key`.
    Delete { key: K },
    /// Sets `key` to `new` iff it holds `expected` (`None`: iff it is absent).
    Cas { key: K, expected: Option<V>, new: V },
}

impl<K, V> KvInput<K, V> {
    /// The key the request touches.
    pub fn key(&self) -> &K {
        match self {
            KvInput::Put { key, .. }
            | KvInput::Get { key }
            | KvInput::Delete { key }
            | KvInput::Cas { key, .. } => key,
        }
    }
}

/// An answer from the map. An answer of the wrong kind for its request (say `Swapped` for a
/// `Get`) is impossible from every state, so it shows up as a violation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvOutput<V> {
    /// `Put` or `Delete` acknowledged (a `Delete` claims nothing about whether the key existed).
    Done,
    /// `Delete` refused because the key was absent.
    NotFound,
    /// `Get`'s answer: the value, or `None` for an absent key.
    Value(Option<V>),
    /// `Cas`'s answer: whether the value was swapped.
    Swapped(bool),
}

/// One operation of a key-value history.
pub type KvOperation<K, V> = Operation<KvInput<K, V>, KvOutput<V>>;

/// The key-value map model over keys `K` and values `V`.
pub struct KvModel<K, V>(PhantomData<fn() -> (K, V)>);

impl<K, V> Model for KvModel<K, V>
where
    K: Clone + Ord + Hash + Debug,
    V: Clone + Eq + Hash + Debug,
{
    /// The whole map, so the model is right even unpartitioned; partitioned, it holds one key.
    type State = BTreeMap<K, V>;
    type Input = KvInput<K, V>;
    type Output = KvOutput<V>;

    fn init() -> Self::State {
        BTreeMap::new()
    }

    fn step(
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State> {
        let current = state.get(input.key());
        match (input, output) {
            (KvInput::Put { key, value }, None | Some(KvOutput::Done)) => {
                Some(with(state, key, Some(value)))
            }
            (KvInput::Get { .. }, None) => Some(state.clone()),
            (KvInput::Get { .. }, Some(KvOutput::Value(seen))) => {
                (seen.as_ref() == current).then(|| state.clone())
            }
            (KvInput::Delete { key }, None | Some(KvOutput::Done)) => Some(with(state, key, None)),
            (KvInput::Delete { .. }, Some(KvOutput::NotFound)) => {
                current.is_none().then(|| state.clone())
            }
            (KvInput::Cas { key, expected, new }, None) => Some(cas(state, key, expected, new)),
            (KvInput::Cas { key, expected, new }, Some(KvOutput::Swapped(claimed))) => {
                (*claimed == (expected.as_ref() == current)).then(|| cas(state, key, expected, new))
            }
            _ => None,
        }
    }

    fn is_read_only(input: &Self::Input, output: &Self::Output) -> bool {
        matches!(
            (input, output),
            (KvInput::Get { .. }, _)
                | (KvInput::Delete { .. }, KvOutput::NotFound)
                | (KvInput::Cas { .. }, KvOutput::Swapped(false))
        )
    }

    fn absorbs(later: &Self::Input, earlier: &Self::Input) -> bool {
        let overwrites = matches!(later, KvInput::Put { .. } | KvInput::Delete { .. });
        overwrites && later.key() == earlier.key()
    }

    fn partition(history: &[Operation<Self::Input, Self::Output>]) -> Vec<Vec<usize>> {
        partition_by(history, |op| op.input.key())
    }
}

/// `state` with `key` set to `value` (`None`: removed).
fn with<K: Clone + Ord, V: Clone>(
    state: &BTreeMap<K, V>,
    key: &K,
    value: Option<&V>,
) -> BTreeMap<K, V> {
    let mut next = state.clone();
    match value {
        Some(value) => next.insert(key.clone(), value.clone()),
        None => next.remove(key),
    };
    next
}

/// `state` after a compare-and-set, whether it swaps or not.
fn cas<K: Clone + Ord, V: Clone + Eq>(
    state: &BTreeMap<K, V>,
    key: &K,
    expected: &Option<V>,
    new: &V,
) -> BTreeMap<K, V> {
    if state.get(key) == expected.as_ref() {
        with(state, key, Some(new))
    } else {
        state.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type M = KvModel<&'static str, i64>;

    fn map(pairs: &[(&'static str, i64)]) -> BTreeMap<&'static str, i64> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn get_must_return_the_current_value() {
        let state = map(&[("a", 1)]);
        let get = KvInput::Get { key: "a" };
        assert_eq!(
            M::step(&state, &get, Some(&KvOutput::Value(Some(1)))),
            Some(state.clone())
        );
        assert_eq!(M::step(&state, &get, Some(&KvOutput::Value(Some(2)))), None);
        assert_eq!(M::step(&state, &get, Some(&KvOutput::Value(None))), None);
        assert_eq!(M::step(&state, &get, None), Some(state.clone()));
    }

    #[test]
    fn cas_swaps_only_on_the_expected_value_and_its_answer_must_agree() {
        let state = map(&[("a", 1)]);
        let hit = KvInput::Cas {
            key: "a",
            expected: Some(1),
            new: 5,
        };
        let miss = KvInput::Cas {
            key: "a",
            expected: Some(2),
            new: 5,
        };
        let absent = KvInput::Cas {
            key: "a",
            expected: None,
            new: 5,
        };
        let yes = KvOutput::Swapped(true);
        let no = KvOutput::Swapped(false);
        assert_eq!(M::step(&state, &hit, Some(&yes)), Some(map(&[("a", 5)])));
        assert_eq!(M::step(&state, &hit, Some(&no)), None);
        assert_eq!(M::step(&state, &miss, Some(&no)), Some(state.clone()));
        assert_eq!(M::step(&state, &miss, Some(&yes)), None);
        assert_eq!(M::step(&state, &absent, Some(&no)), Some(state.clone()));
        assert_eq!(
            M::step(&map(&[]), &absent, Some(&yes)),
            Some(map(&[("a", 5)]))
        );
        assert_eq!(M::step(&state, &hit, None), Some(map(&[("a", 5)])));
        assert_eq!(M::step(&state, &miss, None), Some(state.clone()));
    }

    #[test]
    fn delete_not_found_requires_an_absent_key() {
        let delete = KvInput::Delete { key: "a" };
        let not_found = Some(&KvOutput::NotFound);
        assert_eq!(M::step(&map(&[("a", 1)]), &delete, not_found), None);
        assert_eq!(M::step(&map(&[]), &delete, not_found), Some(map(&[])));
        assert_eq!(
            M::step(&map(&[("a", 1)]), &delete, Some(&KvOutput::Done)),
            Some(map(&[]))
        );
    }

    #[test]
    fn an_answer_of_the_wrong_kind_is_impossible() {
        let put = KvInput::Put { key: "a", value: 1 };
        assert_eq!(
            M::step(&map(&[]), &put, Some(&KvOutput::Swapped(true))),
            None
        );
        let get = KvInput::Get { key: "a" };
        assert_eq!(M::step(&map(&[]), &get, Some(&KvOutput::Done)), None);
    }

    #[test]
    fn partitions_follow_keys_in_order_of_first_appearance() {
        let ops: Vec<KvOperation<&str, i64>> = ["b", "a", "b", "c", "a"]
            .iter()
            .enumerate()
            .map(|(i, key)| Operation::unknown(1, i as u64, KvInput::Get { key: *key }))
            .collect();
        assert_eq!(M::partition(&ops), vec![vec![0, 2], vec![1, 4], vec![3]]);
    }
}
