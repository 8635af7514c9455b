//! Which vector extension the CPU kernels are compiled for, chosen at run time.
//!
//! The crate is built for the x86-64 baseline (SSE2), so loops the compiler vectorises
//! use 4 f32 lanes. Kernels that are worth it are compiled a second and third time with
//! AVX2 + FMA and with AVX-512 enabled (`#[target_feature]`), and [`level`] picks the
//! widest the processor has. The kernels are written without `mul_add`, and the compiler
//! does not contract `a * b + c` on its own, so every level gives the same bits.
//!
//! `ALLEGRO_CPU_SIMD=baseline|avx2|avx512` caps the level (for tests and measurements);
//! a level the CPU lacks is never used.

use std::sync::OnceLock;

/// A vector extension level of x86-64 (baseline elsewhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    /// What the build targets (SSE2 on x86-64).
    Baseline,
    /// AVX2 and FMA (8 f32 lanes).
    Avx2,
    /// AVX-512 F (16 f32 lanes).
    Avx512,
}

impl SimdLevel {
    /// The widest level this processor supports.
    pub fn detected() -> SimdLevel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return SimdLevel::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return SimdLevel::Avx2;
            }
        }
        SimdLevel::Baseline
    }

    /// Every level this processor supports, narrowest first.
    pub fn available() -> Vec<SimdLevel> {
        let top = SimdLevel::detected();
        [SimdLevel::Baseline, SimdLevel::Avx2, SimdLevel::Avx512]
            .into_iter()
            .filter(|l| *l <= top)
            .collect()
    }
}

/// The level the kernels use: the detected one, capped by `ALLEGRO_CPU_SIMD`.
pub fn level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = match std::env::var("ALLEGRO_CPU_SIMD").as_deref() {
            Ok("baseline") => SimdLevel::Baseline,
            Ok("avx2") => SimdLevel::Avx2,
            _ => SimdLevel::Avx512,
        };
        SimdLevel::detected().min(cap)
    })
}

/// Defines `$name(level, args…)` that runs the `#[inline(always)]` function `$body`
/// compiled for the given [`SimdLevel`] (capped by what the CPU has). The function may
/// have one type parameter.
macro_rules! dispatch {
    ($(#[$doc:meta])* $vis:vis fn $name:ident<$T:ident: $bound:path>($($arg:ident: $ty:ty),* $(,)?) => $body:ident) => {
        $(#[$doc])*
        $vis fn $name<$T: $bound>(
            level: $crate::backend::cpu::simd::SimdLevel,
            $($arg: $ty),*
        ) {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2<$T: $bound>($($arg: $ty),*) {
                $body::<$T>($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            fn avx512<$T: $bound>($($arg: $ty),*) {
                $body::<$T>($($arg),*)
            }
            $crate::backend::cpu::simd::dispatch!(@run level, avx2::<$T>, avx512::<$T>, $body::<$T>, $($arg),*)
        }
    };
    ($(#[$doc:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $body:ident) => {
        $(#[$doc])*
        $vis fn $name(level: $crate::backend::cpu::simd::SimdLevel, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2($($arg: $ty),*) {
                $body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            fn avx512($($arg: $ty),*) {
                $body($($arg),*)
            }
            $crate::backend::cpu::simd::dispatch!(@run level, avx2, avx512, $body, $($arg),*)
        }
    };
    (@run $level:ident, $avx2:expr, $avx512:expr, $plain:expr, $($arg:ident),*) => {{
        use $crate::backend::cpu::simd::SimdLevel;
        match $level.min(SimdLevel::detected()) {
            // SAFETY: the level is capped by what the CPU has, so it has these features.
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => unsafe { $avx512($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => unsafe { $avx2($($arg),*) },
            _ => $plain($($arg),*),
        }
    }};
}
pub(crate) use dispatch;
