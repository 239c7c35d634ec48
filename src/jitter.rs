//! Randomness for retry jitter, so that clients retrying together (replicas after an outage,
//! events after a receiver's failure) do not retry in step.

/// A number in `[0, 1)` for the jitter. uuid's v4 draws from rand's thread-local generator
/// (its `fast-rng` feature): the low 53 bits are all random (the version and variant bits are
/// higher up), exactly what an `f64` mantissa holds.
pub fn random_unit() -> f64 {
    const BITS: u32 = 53;
    let random = uuid::Uuid::new_v4().as_u128() & ((1 << BITS) - 1);
    #[allow(clippy::cast_precision_loss)] // below 2^53: exact
    let random = random as f64;
    random / f64::from(2u32).powi(BITS.cast_signed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_spread_over_the_unit_interval() {
        let draws: Vec<f64> = (0..2000).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        // Each tenth of the interval gets some: not constant, not stuck in one half.
        for tenth in 0..10 {
            let low = f64::from(tenth) / 10.0;
            let count = draws
                .iter()
                .filter(|u| (low..low + 0.1).contains(*u))
                .count();
            assert!(count > 100, "{count} draws in [{low}, {low}+0.1)");
        }
    }
}
