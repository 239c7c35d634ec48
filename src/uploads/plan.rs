//! How a multipart upload is cut: tollgate chooses the part size, so every part's exact length
//! is known and signed into its URL.

use crate::config::{MAX_PARTS, MIN_PART_BYTES};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPlan {
    pub total: u64,
    pub part_size: u64,
    pub part_count: u64,
}

impl PartPlan {
    /// Parts of `preferred` bytes, raised when the file would need more than 10000 parts.
    pub fn new(total: u64, preferred: u64) -> Self {
        let part_size = preferred.max(MIN_PART_BYTES).max(total.div_ceil(MAX_PARTS));
        Self {
            total,
            part_size,
            part_count: total.div_ceil(part_size).max(1),
        }
    }

    /// The plan of an upload whose size the client did not tell (Uppy's Companion protocol):
    /// total 0, parts of any length.
    pub fn unknown_size() -> Self {
        Self::new(0, 0)
    }

    pub fn is_size_known(&self) -> bool {
        self.total > 0
    }

    /// The exact length of part `number` (1-based), `None` outside the plan.
    pub fn part_len(&self, number: u64) -> Option<u64> {
        if number == 0 || number > self.part_count {
            return None;
        }
        let before = (number - 1) * self.part_size;
        Some((self.total - before).min(self.part_size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_last_part_takes_the_rest() {
        let plan = PartPlan::new(11 * 1024 * 1024, 5 * 1024 * 1024);
        assert_eq!(plan.part_count, 3);
        assert_eq!(plan.part_len(3), Some(1024 * 1024));
        assert_eq!(plan.part_len(0), None);
        assert_eq!(plan.part_len(4), None);
    }

    proptest! {
        #[test]
        fn parts_add_up_and_respect_s3_limits(total in 1u64..60_000_000_000, preferred in 0u64..6_000_000_000) {
            let plan = PartPlan::new(total, preferred);
            prop_assert!(plan.part_count <= MAX_PARTS);
            prop_assert!(plan.part_size >= MIN_PART_BYTES);
            let sum: u64 = (1..=plan.part_count).map(|n| plan.part_len(n).unwrap()).sum();
            prop_assert_eq!(sum, total);
        }
    }
}
