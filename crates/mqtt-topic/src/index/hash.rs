//! A fast, randomly seeded hasher for the maps of the subscription index.
//!
//! Every PUBLISH hashes each level of its topic at least once, so SipHash, the standard
//! library's default, would dominate matching. The keys are chosen by clients though, so an
//! unseeded hash such as FxHash would let a client craft colliding filters and slow every
//! lookup in a node. This hasher folds each 64-bit word in with a 128-bit multiply (the mixing
//! step of foldhash and wyhash), starting from a seed drawn once per process.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::OnceLock;

/// A `HashMap` hashed with [`FoldHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, SeededState>;

/// An odd 64-bit constant with well-spread bits: the multiplier of the PCG generator.
const MULTIPLIER: u64 = 0x5851_f42d_4c95_7f2d;

/// Builds [`FoldHasher`]s starting from the process-wide random seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SeededState {
    seed: u64,
}

impl Default for SeededState {
    fn default() -> Self {
        static SEED: OnceLock<u64> = OnceLock::new();
        // `RandomState` draws its keys from the operating system's randomness.
        let seed = *SEED.get_or_init(|| RandomState::new().hash_one(MULTIPLIER));
        Self { seed }
    }
}

impl BuildHasher for SeededState {
    type Hasher = FoldHasher;

    fn build_hasher(&self) -> FoldHasher {
        FoldHasher { state: self.seed }
    }
}

/// The hasher built by [`SeededState`].
pub(crate) struct FoldHasher {
    state: u64,
}

impl FoldHasher {
    fn mix(&mut self, word: u64) {
        let product = u128::from(self.state ^ word) * u128::from(MULTIPLIER);
        // Folding the high half into the low one makes every output bit depend on every input
        // bit, which hashbrown needs: it picks buckets with the low bits and tags with the high.
        self.state = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Whole words, then the last 1 to 8 bytes read as one word, overlapping the word before
        // if need be. Given the length, which a slice hashes first, the words fix every byte,
        // so different keys of one length never feed the same words. Reading whole words
        // rather than copying partial ones keeps this branch-light and free of `memcpy`.
        let mut rest = bytes;
        while let Some((word, tail)) = rest.split_first_chunk::<8>() {
            if tail.is_empty() {
                break;
            }
            self.mix(u64::from_le_bytes(*word));
            rest = tail;
        }
        // `rest` holds 1 to 8 bytes now, unless `bytes` is empty; the fallbacks of the chunk
        // reads below are never taken, as each arm's length range allows its reads.
        let last = match rest.len() {
            0 => return,
            len @ 1..=3 => {
                u64::from(rest[0]) << 16 | u64::from(rest[len / 2]) << 8 | u64::from(rest[len - 1])
            }
            4..=7 => {
                let (head, _) = rest.split_first_chunk::<4>().unwrap_or((&[0; 4], &[]));
                let (_, tail) = rest.split_last_chunk::<4>().unwrap_or((&[], &[0; 4]));
                u64::from(u32::from_le_bytes(*head)) << 32 | u64::from(u32::from_le_bytes(*tail))
            }
            _ => {
                let (_, tail) = bytes.split_last_chunk::<8>().unwrap_or((&[], &[0; 8]));
                u64::from_le_bytes(*tail)
            }
        };
        self.mix(last);
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equally_and_lengths_matter() {
        let state = SeededState::default();
        assert_eq!(state.hash_one(&b"abc"[..]), state.hash_one(&b"abc"[..]));
        assert_ne!(state.hash_one(&b"a"[..]), state.hash_one(&b"a\0"[..]));
        assert_ne!(state.hash_one(&b""[..]), state.hash_one(&b"\0"[..]));
    }

    #[test]
    fn every_length_reads_every_byte() {
        // Changing any single byte of a key of any length changes its hash.
        let state = SeededState::default();
        for len in 1..=24 {
            let key = vec![b'a'; len];
            let base = state.hash_one(&key[..]);
            for i in 0..len {
                let mut changed = key.clone();
                changed[i] = b'b';
                assert_ne!(state.hash_one(&changed[..]), base, "len {len}, byte {i}");
            }
        }
    }

    #[test]
    fn low_bits_spread_for_keys_differing_in_high_bytes() {
        // FxHash keeps low bits equal for keys differing only in their last bytes; this one
        // must not, or hashbrown would put such keys in the same bucket.
        let state = SeededState::default();
        let buckets: std::collections::HashSet<u64> = (0u8..64)
            .map(|b| state.hash_one([b'd', b'e', b'v', b'-', b'0', b'0', b'0', b]) & 0xff)
            .collect();
        assert!(
            buckets.len() > 32,
            "only {} distinct buckets",
            buckets.len()
        );
    }
}
