//! A minimal complex number, only for the change of basis in [`super::wigner3j`].

use std::ops::{Add, Mul};

/// `re + i·im` in `f64`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct C64 {
    pub re: f64,
    pub im: f64,
}

impl C64 {
    pub const ZERO: C64 = C64 { re: 0.0, im: 0.0 };

    pub const fn new(re: f64, im: f64) -> C64 {
        C64 { re, im }
    }

    pub fn conj(self) -> C64 {
        C64::new(self.re, -self.im)
    }

    pub fn scale(self, s: f64) -> C64 {
        C64::new(self.re * s, self.im * s)
    }

    /// `(−i)^n`.
    pub fn minus_i_pow(n: usize) -> C64 {
        match n % 4 {
            0 => C64::new(1.0, 0.0),
            1 => C64::new(0.0, -1.0),
            2 => C64::new(-1.0, 0.0),
            _ => C64::new(0.0, 1.0),
        }
    }
}

impl Add for C64 {
    type Output = C64;
    fn add(self, o: C64) -> C64 {
        C64::new(self.re + o.re, self.im + o.im)
    }
}

impl Mul for C64 {
    type Output = C64;
    fn mul(self, o: C64) -> C64 {
        C64::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
}
