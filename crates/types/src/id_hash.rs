//! A fast keyed hasher for maps keyed by ids.
//!
//! Ids are SHA-256 digests, so their bytes are already uniform: SipHash (std's default) spends
//! most of a store's or scheduler's per-message CPU re-mixing them. [`IdHasher`] folds each
//! 8-byte word into the state with one 64×64→128-bit multiply. It is keyed with random seeds
//! per map (from std's `RandomState`), so someone grinding signatures cannot aim items at one
//! bucket without knowing the seeds. Not for evaluation: iteration order differs per map.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher, RandomState};

/// A `HashMap` keyed by ids (or tuples of ids and integers).
pub type IdMap<K, V> = HashMap<K, V, IdBuildHasher>;
/// A `HashSet` of ids.
pub type IdSet<K> = HashSet<K, IdBuildHasher>;

/// Builds [`IdHasher`]s with seeds drawn once per map.
#[derive(Clone, Debug)]
pub struct IdBuildHasher {
    seed: u64,
    multiplier: u64,
}

impl Default for IdBuildHasher {
    fn default() -> Self {
        let random = RandomState::new();
        Self {
            seed: random.hash_one(0x5eed_u64),
            // Odd, so the multiply is a bijection of the word.
            multiplier: random.hash_one(0x3a17_u64) | 1,
        }
    }
}

impl BuildHasher for IdBuildHasher {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher {
            state: self.seed,
            multiplier: self.multiplier,
        }
    }
}

/// See the module doc.
#[derive(Clone, Debug)]
pub struct IdHasher {
    state: u64,
    multiplier: u64,
}

impl IdHasher {
    fn mix(&mut self, word: u64) {
        let product = u128::from(self.state ^ word) * u128::from(self.multiplier);
        // Fold the high half in, so every input bit reaches the low (bucket) bits.
        self.state = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" and "ab\0" apart.
            self.mix(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        // One more round: the last word's high bits must reach the top bits hashbrown tags with.
        let product = u128::from(self.state) * u128::from(self.multiplier ^ 0x9e37_79b9_7f4a_7c15);
        (product as u64) ^ ((product >> 64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Different keys hash apart, the same key hashes alike within a map, and two maps use
    /// different seeds.
    #[test]
    fn keyed_and_distinguishing() {
        let a = IdBuildHasher::default();
        let b = IdBuildHasher::default();
        let key = [7u8; 32];
        assert_eq!(a.hash_one(key), a.hash_one(key));
        assert_ne!(a.hash_one(key), b.hash_one(key));
        let mut other = key;
        other[31] ^= 1;
        assert_ne!(a.hash_one(key), a.hash_one(other));
        assert_ne!(a.hash_one(&b"ab"[..]), a.hash_one(&b"ab\0"[..]));
    }

    /// Ids that differ only in one byte still spread over the low bits buckets are picked by.
    #[test]
    fn low_bits_spread() {
        let h = IdBuildHasher::default();
        let buckets: HashSet<u64> = (0..=255u8)
            .map(|i| {
                let mut id = [0u8; 32];
                id[17] = i;
                h.hash_one(id) & 0xff
            })
            .collect();
        // 256 keys into 256 buckets: a uniform hash fills about 162; a broken one a handful.
        assert!(buckets.len() > 120, "only {} buckets used", buckets.len());
    }

    #[test]
    fn maps_work() {
        let mut m: IdMap<[u8; 32], u32> = IdMap::default();
        for i in 0..1000u32 {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.to_le_bytes());
            m.insert(k, i);
        }
        assert_eq!(m.len(), 1000);
        let mut k = [0u8; 32];
        k[..4].copy_from_slice(&500u32.to_le_bytes());
        assert_eq!(m.get(&k), Some(&500));
    }
}
