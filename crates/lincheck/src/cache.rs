//! Lowe's memoisation, extended with dominance for unknown-outcome operations.
//!
//! A configuration of the search is (known operations placed, unknown ones placed, state). Lowe's
//! rule: a configuration seen before needs no second visit. The extension: placing an
//! unknown-outcome operation is never required, so a configuration with the same known set and
//! state but *fewer* unknown operations placed can do everything this one can, in as many moves.
//! Once such a configuration has been visited (explored, being explored, or queued to be), this
//! one adds nothing: any linearization through it has a counterpart through the other. Without
//! this rule every subset of pending timeouts on a key would be a distinct configuration.

use std::collections::HashMap;
use std::hash::Hash;

use super::bitset::Bitset;
use super::hashing::{fast_hash, BuildFastHasher};

/// Configurations visited so far, bucketed by hash so that a lookup clones nothing.
pub(crate) struct Cache<S> {
    buckets: HashMap<u64, Vec<Seen<S>>, BuildFastHasher>,
}

/// One (known set, state) pair and the unknown sets visited with it.
struct Seen<S> {
    known: Bitset,
    state: S,
    unknown_sets: Vec<Bitset>,
}

impl<S: Clone + Eq + Hash> Cache<S> {
    pub(crate) fn new() -> Self {
        Cache {
            buckets: HashMap::default(),
        }
    }

    /// Records a configuration about to be explored; false when it is dominated by (or equal to)
    /// one visited before, so exploring it cannot help. `known_hash` must be a hash of `known`
    /// (the search keeps one up to date incrementally).
    pub(crate) fn visit(
        &mut self,
        known: &Bitset,
        known_hash: u64,
        unknown: &Bitset,
        state: &S,
    ) -> bool {
        let bucket = self
            .buckets
            .entry(known_hash ^ fast_hash(state))
            .or_default();
        let Some(seen) = bucket
            .iter_mut()
            .find(|seen| seen.known == *known && seen.state == *state)
        else {
            bucket.push(Seen {
                known: known.clone(),
                state: state.clone(),
                unknown_sets: vec![unknown.clone()],
            });
            return true;
        };
        if seen
            .unknown_sets
            .iter()
            .any(|visited| visited.is_subset(unknown))
        {
            return false;
        }
        seen.unknown_sets.push(unknown.clone());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(members: &[usize]) -> Bitset {
        let mut set = Bitset::new(8);
        members.iter().for_each(|&i| set.insert(i));
        set
    }

    /// A deliberately weak hash of the known set, so that buckets are shared.
    fn visit(cache: &mut Cache<u32>, known: &[usize], unknown: &[usize], state: u32) -> bool {
        cache.visit(&set(known), known.len() as u64, &set(unknown), &state)
    }

    #[test]
    fn a_configuration_is_visited_once() {
        let mut cache = Cache::new();
        assert!(visit(&mut cache, &[0], &[1], 7));
        assert!(!visit(&mut cache, &[0], &[1], 7));
        assert!(visit(&mut cache, &[0], &[1], 8));
        assert!(visit(&mut cache, &[1], &[1], 7));
    }

    #[test]
    fn a_visited_configuration_dominates_those_with_more_unknown_operations_placed() {
        let mut cache = Cache::new();
        assert!(visit(&mut cache, &[0], &[1], 7));
        assert!(!visit(&mut cache, &[0], &[1, 3], 7));
        assert!(visit(&mut cache, &[0], &[3], 7));
        assert!(visit(&mut cache, &[0, 4], &[1, 3], 7));
        assert!(visit(&mut cache, &[0], &[1, 3], 9));
    }
}
