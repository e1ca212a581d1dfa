//! A small map that keeps its entries in one vector, so that matching iterates them quickly.

use std::hash::Hash;

use super::hash::FastMap;

/// Above this many entries a [`DenseMap`] keeps a hash index of positions; below it, scanning
/// the vector is as fast and needs no memory besides.
const INDEX_ABOVE: usize = 16;

/// A map from keys to values stored as a dense `Vec<(K, V)>`.
///
/// Lookups scan the vector while it is small and use a hash index of positions once it is
/// large, so inserting and removing cost O(1) even for a filter with a huge fan-out. Removal
/// swaps the last entry into the hole, so the order of entries is not stable.
pub(crate) struct DenseMap<K, V> {
    entries: Vec<(K, V)>,
    positions: Option<FastMap<K, usize>>,
}

impl<K: Eq + Hash + Clone, V> DenseMap<K, V> {
    pub(crate) fn new() -> Self {
        Self {
            entries: Vec::new(),
            positions: None,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn entries(&self) -> &[(K, V)] {
        &self.entries
    }

    fn position(&self, key: &K) -> Option<usize> {
        match &self.positions {
            Some(positions) => positions.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let i = self.position(key)?;
        Some(&mut self.entries[i].1)
    }

    /// Inserts or replaces the value of `key`, returning the replaced value.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(i) = self.position(&key) {
            return Some(std::mem::replace(&mut self.entries[i].1, value));
        }
        if let Some(positions) = &mut self.positions {
            positions.insert(key.clone(), self.entries.len());
        }
        self.entries.push((key, value));
        if self.positions.is_none() && self.entries.len() > INDEX_ABOVE {
            self.positions = Some(
                self.entries
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .collect(),
            );
        }
        None
    }

    /// The value of `key`, inserting the entry made by `make` if there is none. `make` returns
    /// the key to store too (equal to `key`), so that the caller decides how it is held.
    pub(crate) fn get_or_insert_with(&mut self, key: &K, make: impl FnOnce() -> (K, V)) -> &mut V {
        let i = match self.position(key) {
            Some(i) => i,
            None => {
                let (key, value) = make();
                self.insert(key, value);
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.position(key)?;
        let (_, value) = self.entries.swap_remove(i);
        if let Some(positions) = &mut self.positions {
            positions.remove(key);
            if let Some((moved, _)) = self.entries.get(i) {
                positions.insert(moved.clone(), i);
            }
            // Half the threshold, so that a map at the threshold does not rebuild its index on
            // every insert and remove.
            if self.entries.len() < INDEX_ABOVE / 2 {
                self.positions = None;
            } else {
                shrink_map(positions);
            }
        }
        if self.entries.len() * 4 < self.entries.capacity() {
            self.entries.shrink_to(self.entries.len() * 2);
        }
        Some(value)
    }
}

/// Releases memory of a hash map that has shrunk to a quarter of its capacity, so that memory
/// follows churn. Halving at a quarter keeps the cost amortized O(1) per removal.
pub(crate) fn shrink_map<K: Eq + Hash, V, S: std::hash::BuildHasher>(
    map: &mut std::collections::HashMap<K, V, S>,
) {
    if map.len() * 4 < map.capacity() {
        map.shrink_to(map.len() * 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_map_below_and_above_the_index_threshold() {
        let mut map = DenseMap::new();
        let mut model = std::collections::HashMap::new();
        for round in 0..3u32 {
            for k in 0..40u32 {
                assert_eq!(map.insert(k, k + round), model.insert(k, k + round));
            }
            for k in (0..40u32).filter(|k| k % 3 != round) {
                assert_eq!(map.remove(&k), model.remove(&k));
                assert_eq!(map.remove(&k), None);
            }
            assert_eq!(map.entries().len(), model.len());
            for (k, v) in map.entries() {
                assert_eq!(model.get(k), Some(v));
            }
        }
        for k in 0..40u32 {
            assert_eq!(map.remove(&k), model.remove(&k));
        }
        assert!(map.is_empty());
        assert!(map.positions.is_none());
    }
}
