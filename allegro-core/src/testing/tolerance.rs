//! Named tolerances, per dtype and purpose, in one place.

/// Central-difference step for f64 checks.
pub const FD_STEP: f64 = 1e-6;
/// Relative tolerance of a gradient against central differences (f64).
pub const FD_GRAD_RTOL: f64 = 1e-6;
/// Absolute tolerance of a gradient against central differences (f64), relative to the
/// largest gradient entry of the check.
pub const FD_GRAD_ATOL: f64 = 1e-7;
/// Values of f64 ops against plain f64 loops (rounding order may differ).
pub const F64_VALUE_RTOL: f64 = 1e-12;
/// Values of f32 ops against plain f64 loops.
pub const F32_VALUE_RTOL: f64 = 2e-6;

/// Whether `got` is within `atol + rtol·|want|` of `want`, elementwise; the error
/// message names the first offending index.
pub fn all_close(got: &[f64], want: &[f64], rtol: f64, atol: f64) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("length {} != {}", got.len(), want.len()));
    }
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= atol + rtol * w.abs() || (g.is_nan() && w.is_nan());
        if !ok {
            return Err(format!(
                "index {i}: got {g:e}, want {w:e} (|diff| {:e})",
                (g - w).abs()
            ));
        }
    }
    Ok(())
}
