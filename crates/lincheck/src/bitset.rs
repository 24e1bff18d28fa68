//! A fixed-size set of operation indices: the "which operations are linearized" half of a cache key.

/// A set of indices below a capacity fixed at construction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Bitset {
    words: Box<[u64]>,
}

impl Bitset {
    /// An empty set able to hold `0..capacity`.
    pub(crate) fn new(capacity: usize) -> Self {
        Bitset {
            words: vec![0; capacity.div_ceil(64)].into_boxed_slice(),
        }
    }

    pub(crate) fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub(crate) fn remove(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }

    /// True when every member of `self` is in `other` (both of the same capacity).
    pub(crate) fn is_subset(&self, other: &Bitset) -> bool {
        debug_assert_eq!(self.words.len(), other.words.len());
        self.words
            .iter()
            .zip(other.words.iter())
            .all(|(mine, theirs)| mine & !theirs == 0)
    }

    pub(crate) fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_and_remove_touch_only_their_bit() {
        let mut set = Bitset::new(130);
        set.insert(0);
        set.insert(64);
        set.insert(129);
        assert!(set.contains(0) && set.contains(64) && set.contains(129));
        assert!(!set.contains(1) && !set.contains(63) && !set.contains(128));
        set.remove(64);
        assert!(!set.contains(64));
        assert!(set.contains(0) && set.contains(129));
        assert_eq!(set, {
            let mut other = Bitset::new(130);
            other.insert(129);
            other.insert(0);
            other
        });
    }

    #[test]
    fn subsets_are_recognised_across_words() {
        let set = |members: &[usize]| {
            let mut set = Bitset::new(100);
            members.iter().for_each(|&i| set.insert(i));
            set
        };
        assert!(set(&[]).is_subset(&set(&[3])));
        assert!(set(&[3, 70]).is_subset(&set(&[3, 70, 99])));
        assert!(set(&[3, 70]).is_subset(&set(&[3, 70])));
        assert!(!set(&[3, 70]).is_subset(&set(&[3, 99])));
        assert!(!set(&[70]).is_subset(&set(&[])));
    }
}
