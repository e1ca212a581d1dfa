//! A log-linear latency histogram: constant memory, about 3% relative precision, mergeable.

/// Sub-buckets per power of two: 32 gives a relative error of at most 1/32.
const SUB_BUCKETS: usize = 32;
const SUB_BITS: u32 = 5;
/// Powers of two covered: values up to 2^48 ns (about 3 days).
const MAGNITUDES: usize = 48;

/// Counts of nanosecond values.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; SUB_BUCKETS * MAGNITUDES],
            total: 0,
            max: 0,
        }
    }
}

fn index(value: u64) -> usize {
    if value < SUB_BUCKETS as u64 {
        return value as usize;
    }
    let magnitude = 63 - value.leading_zeros(); // >= SUB_BITS
    let shift = magnitude - SUB_BITS;
    let sub = (value >> shift) as usize & (SUB_BUCKETS - 1);
    let bucket = (magnitude - SUB_BITS + 1) as usize * SUB_BUCKETS + sub;
    bucket.min(SUB_BUCKETS * MAGNITUDES - 1)
}

fn upper_bound(index: usize) -> u64 {
    if index < SUB_BUCKETS {
        return index as u64;
    }
    let group = (index / SUB_BUCKETS) as u32; // >= 1
    let sub = (index % SUB_BUCKETS) as u64;
    let shift = group - 1;
    ((SUB_BUCKETS as u64 + sub + 1) << shift) - 1
}

impl Histogram {
    /// Records one value.
    pub fn record(&mut self, value: u64) {
        self.counts[index(value)] += 1;
        self.total += 1;
        self.max = self.max.max(value);
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The number of values recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The value at quantile `q` (0.0 to 1.0), as the upper bound of its bucket.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return upper_bound(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_the_precision() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 / 50_000_000.0 - 1.0).abs() < 0.04, "p50 {p50}");
        assert!((p99 / 99_000_000.0 - 1.0).abs() < 0.04, "p99 {p99}");
        assert_eq!(h.quantile(1.0), 100_000_000);
    }

    #[test]
    fn bucket_bounds_are_monotonic() {
        let mut last = 0;
        for i in 1..SUB_BUCKETS * MAGNITUDES {
            let b = upper_bound(i);
            assert!(b > last, "bucket {i}");
            last = b;
        }
        for v in [0u64, 1, 31, 32, 33, 1000, 123_456_789] {
            assert!(upper_bound(index(v)) >= v);
        }
    }
}
