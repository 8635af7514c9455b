//! Deterministic seeded shuffles and train/validation/test splits.

use crate::error::{Error, Result};
use crate::rng::SplitMix64;

/// How large each part of a split is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SplitSizes {
    /// Fractions of the dataset, each in [0, 1], summing to at most 1. Each part gets
    /// `floor(f·n)` frames; when the fractions sum to 1 the frames left by rounding go to
    /// the last part with a nonzero fraction (test, else validation), so none is lost
    /// and a part given 0 stays empty.
    Fractions {
        /// Fraction for training.
        train: f64,
        /// Fraction for validation.
        val: f64,
        /// Fraction for testing.
        test: f64,
    },
    /// Exact frame counts, summing to at most n.
    Counts {
        /// Frames for training.
        train: usize,
        /// Frames for validation.
        val: usize,
        /// Frames for testing.
        test: usize,
    },
}

/// Frame indices of each part; disjoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Training frames.
    pub train: Vec<usize>,
    /// Validation frames.
    pub val: Vec<usize>,
    /// Test frames.
    pub test: Vec<usize>,
}

/// `0..n` in an order fixed by `seed` (SplitMix64 + Fisher–Yates; the same on every
/// machine and version).
pub fn shuffled_indices(n: usize, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    SplitMix64::new(seed).shuffle(&mut v);
    v
}

/// Splits `0..n` after a seeded shuffle: train first, then validation, then test.
pub fn split(n: usize, sizes: SplitSizes, seed: u64) -> Result<Split> {
    let (a, b, c) = match sizes {
        SplitSizes::Fractions { train, val, test } => {
            let ok = |f: f64| (0.0..=1.0).contains(&f);
            let sum = train + val + test;
            if !(ok(train) && ok(val) && ok(test)) || sum > 1.0 + 1e-9 {
                return Err(Error::InvalidArgument(format!(
                    "split fractions must be in [0, 1] and sum to at most 1, got {train} + {val} + {test}"
                )));
            }
            let mut a = (train * n as f64).floor() as usize;
            let mut b = ((val * n as f64).floor() as usize).min(n - a);
            let mut c = ((test * n as f64).floor() as usize).min(n - a - b);
            if (sum - 1.0).abs() <= 1e-9 {
                // The frames rounding left over go to the last part asked for, so a
                // part given fraction 0 stays empty (a 90/10 split has no test set).
                let rest = n - a - b - c;
                if test > 0.0 {
                    c += rest;
                } else if val > 0.0 {
                    b += rest;
                } else {
                    a += rest;
                }
            }
            (a, b, c)
        }
        SplitSizes::Counts { train, val, test } => {
            if train + val + test > n {
                return Err(Error::InvalidArgument(format!(
                    "split counts {train} + {val} + {test} exceed the {n} frames"
                )));
            }
            (train, val, test)
        }
    };
    let order = shuffled_indices(n, seed);
    Ok(Split {
        train: order[..a].to_vec(),
        val: order[a..a + b].to_vec(),
        test: order[a + b..a + b + c].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_counts_and_determinism() {
        let s = split(
            10,
            SplitSizes::Fractions {
                train: 0.8,
                val: 0.1,
                test: 0.1,
            },
            3,
        )
        .unwrap();
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (8, 1, 1));
        assert_eq!(
            s,
            split(
                10,
                SplitSizes::Fractions {
                    train: 0.8,
                    val: 0.1,
                    test: 0.1
                },
                3
            )
            .unwrap()
        );
        let mut all: Vec<usize> = s
            .train
            .iter()
            .chain(&s.val)
            .chain(&s.test)
            .copied()
            .collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_ne!(shuffled_indices(100, 1), shuffled_indices(100, 2));
        let s = split(
            100,
            SplitSizes::Counts {
                train: 50,
                val: 5,
                test: 0,
            },
            9,
        )
        .unwrap();
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (50, 5, 0));
        assert!(
            split(
                10,
                SplitSizes::Counts {
                    train: 8,
                    val: 2,
                    test: 1
                },
                0
            )
            .is_err()
        );
        assert!(
            split(
                10,
                SplitSizes::Fractions {
                    train: 0.8,
                    val: 0.3,
                    test: 0.0
                },
                0
            )
            .is_err()
        );
        // 7 frames, 0.7/0.15/0.15: 4 + 1 + remaining 2.
        let s = split(
            7,
            SplitSizes::Fractions {
                train: 0.7,
                val: 0.15,
                test: 0.15,
            },
            0,
        )
        .unwrap();
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (4, 1, 2));
        // nequip's 90/10 split: no test part; the rounding remainder goes to validation.
        let s = split(
            2253,
            SplitSizes::Fractions {
                train: 0.9,
                val: 0.1,
                test: 0.0,
            },
            0,
        )
        .unwrap();
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (2027, 226, 0));
        // Pinned: the order for seed 42 must never change.
        assert_eq!(shuffled_indices(6, 42), PINNED);
    }

    // Recorded from this implementation on first run; a change here breaks every
    // published split.
    const PINNED: [usize; 6] = [2, 5, 3, 1, 0, 4];
}
