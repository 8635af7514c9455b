//! Tiny dense square-matrix helpers (row-major `Vec<f64>`), for the Wigner D
//! matrices. Not a general linear-algebra library.

/// `a · b` for `n × n` matrices.
pub(crate) fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..n {
                c[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    c
}

/// The `n × n` identity.
pub(crate) fn identity(n: usize) -> Vec<f64> {
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        m[i * n + i] = 1.0;
    }
    m
}

/// Matrix exponential by scaling and squaring of a Taylor series (accurate to
/// a few ulps times the number of squarings for the small, skew-symmetric
/// matrices used here).
pub(crate) fn expm(a: &[f64], n: usize) -> Vec<f64> {
    let norm1 = (0..n)
        .map(|j| (0..n).map(|i| a[i * n + j].abs()).sum::<f64>())
        .fold(0.0, f64::max);
    let mut s = 0;
    while norm1 / f64::powi(2.0, s) > 0.25 {
        s += 1;
    }
    let scale = f64::powi(2.0, -s);
    let a: Vec<f64> = a.iter().map(|v| v * scale).collect();
    let mut result = identity(n);
    let mut term = identity(n);
    for k in 1..=18 {
        term = matmul(&term, &a, n);
        let inv_k = 1.0 / k as f64;
        term.iter_mut().for_each(|v| *v *= inv_k);
        result.iter_mut().zip(&term).for_each(|(r, t)| *r += t);
    }
    for _ in 0..s {
        result = matmul(&result, &result, n);
    }
    result
}
