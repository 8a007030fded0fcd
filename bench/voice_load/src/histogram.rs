//! Latencies in nanoseconds, counted in log-linear buckets (128 per power of two: under 1 %
//! error), so that millions of packets cost a few kilobytes and any percentile can be read.

const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;

pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
    sum: u128,
}

fn index(value: u64) -> usize {
    if value < SUB {
        return usize::try_from(value).unwrap_or(0);
    }
    let exponent = value.ilog2(); // >= SUB_BITS
    let shift = exponent - SUB_BITS;
    let mantissa = (value >> shift) & (SUB - 1);
    usize::try_from(SUB + u64::from(shift) * SUB + mantissa).unwrap_or(usize::MAX)
}

fn lowest(bucket: usize) -> u64 {
    let bucket = bucket as u64;
    if bucket < SUB {
        return bucket;
    }
    let shift = (bucket - SUB) / SUB;
    let mantissa = (bucket - SUB) % SUB;
    (SUB + mantissa) << shift
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; index(u64::MAX) + 1],
            total: 0,
            max: 0,
            sum: 0,
        }
    }

    pub fn record(&mut self, value: u64) {
        if let Some(count) = self.counts.get_mut(index(value)) {
            *count += 1;
        }
        self.total += 1;
        self.max = self.max.max(value);
        self.sum += u128::from(value);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            #[allow(clippy::cast_precision_loss)]
            let mean = self.sum as f64 / self.total as f64;
            mean
        }
    }

    /// The nearest-rank `fraction` percentile (a bucket's lower bound); 0 when empty.
    pub fn percentile(&self, fraction: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let rank = ((fraction * self.total as f64) as u64).min(self.total - 1);
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen > rank {
                return lowest(bucket).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn buckets_keep_values_within_one_percent() {
        for value in [
            0,
            1,
            127,
            128,
            129,
            1000,
            65_432,
            1_000_000,
            123_456_789_012,
        ] {
            let low = lowest(index(value));
            assert!(low <= value, "{value}");
            assert!(value - low <= value / 100 + 1, "{value} → {low}");
        }
    }

    #[test]
    fn percentiles_are_read_by_rank() {
        let mut histogram = Histogram::new();
        for value in 1..=1000u64 {
            histogram.record(value * 1000);
        }
        assert_eq!(histogram.count(), 1000);
        assert_eq!(histogram.max(), 1_000_000);
        let p50 = histogram.percentile(0.5);
        assert!((495_000..=501_000).contains(&p50), "{p50}");
        let p99 = histogram.percentile(0.99);
        assert!((985_000..=991_000).contains(&p99), "{p99}");
        assert_eq!(Histogram::new().percentile(0.99), 0);
    }
}
