//! Checks of gather (`index_select`) and scatter-add (`index_add`), tested together as
//! an adjoint pair.

use super::{assert_gradients, assert_values, random};
use crate::backend::Backend;
use crate::rng::SplitMix64;
use crate::tensor::{Indices, Tensor};
use crate::testing::tolerance::all_close;

/// `index_select` along axes 0 and 1 with repeated and missing indices.
pub fn index_select<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(41);
    let x = random::<B>(&[5, 3], -1.0, 1.0, &mut rng, device);
    let xv = x.to_vec_f64();
    let idx_v = [4u32, 0, 0, 2, 4, 4, 1];
    let idx = Indices::<B>::new(&idx_v, device);
    let want: Vec<f64> = idx_v
        .iter()
        .flat_map(|&i| (0..3).map(move |c| (i as usize, c)))
        .map(|(i, c)| xv[i * 3 + c])
        .collect();
    let i0 = idx.clone();
    let f = move |xs: &[Tensor<B>]| xs[0].index_select(0, &i0);
    assert_values("index_select axis 0", &f, &[x.clone()], &want);
    assert_gradients("index_select axis 0", &f, &[x.clone()]);
    let idx1 = Indices::<B>::new(&[2, 2, 0], device);
    let want1: Vec<f64> = (0..5)
        .flat_map(|r| [2usize, 2, 0].map(|c| xv[r * 3 + c]))
        .collect();
    let f = move |xs: &[Tensor<B>]| xs[0].index_select(1, &idx1).square();
    let want1sq: Vec<f64> = want1.iter().map(|v| v * v).collect();
    assert_values("index_select axis 1", &f, &[x.clone()], &want1sq);
    assert_gradients("index_select axis 1", &f, &[x]);
}

/// `index_add` along axes 0 and 1, with several sources per destination and empty
/// destinations.
pub fn index_add<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(42);
    let src = random::<B>(&[7, 2], -1.0, 1.0, &mut rng, device);
    let sv = src.to_vec_f64();
    let idx_v = [3u32, 0, 3, 3, 1, 0, 5];
    let n = 6;
    let mut want = vec![0.0; n * 2];
    for (m, &d) in idx_v.iter().enumerate() {
        for c in 0..2 {
            want[d as usize * 2 + c] += sv[m * 2 + c];
        }
    }
    let idx = Indices::<B>::new(&idx_v, device);
    let i0 = idx.clone();
    let f = move |xs: &[Tensor<B>]| xs[0].index_add(0, &i0, n);
    assert_values("index_add axis 0", &f, &[src.clone()], &want);
    // Nonlinear after the scatter so the second-order check sees a non-zero Hessian.
    let i1 = idx.clone();
    let g = move |xs: &[Tensor<B>]| xs[0].index_add(0, &i1, n).tanh();
    assert_gradients("index_add axis 0", &g, &[src.clone()]);
    let src_t = random::<B>(&[2, 7], -1.0, 1.0, &mut rng, device);
    let i2 = idx.clone();
    let h = move |xs: &[Tensor<B>]| xs[0].index_add(1, &i2, n).sin();
    assert_gradients("index_add axis 1", &h, &[src_t]);
}

/// `⟨index_select(x), y⟩ = ⟨x, index_add(y)⟩`, and the gather→scatter message pass of a
/// graph network differentiates twice.
pub fn index_adjoint_pair<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(43);
    let x = random::<B>(&[4, 3], -1.0, 1.0, &mut rng, device);
    let y = random::<B>(&[6, 3], -1.0, 1.0, &mut rng, device);
    let idx = Indices::<B>::new(&[1, 3, 3, 0, 1, 1], device);
    let lhs = x.index_select(0, &idx).mul(&y).sum_all().item();
    let rhs = x.mul(&y.index_add(0, &idx, 4)).sum_all().item();
    assert!((lhs - rhs).abs() < 1e-13, "adjoint: {lhs} vs {rhs}");
    let center = Indices::<B>::new(&[0, 0, 1, 2, 3, 3], device);
    let neighbor = Indices::<B>::new(&[1, 2, 0, 0, 0, 1], device);
    let f = move |xs: &[Tensor<B>]| {
        let h = xs[0].index_select(0, &neighbor).mul(&xs[1]).silu();
        h.index_add(0, &center, 4).square()
    };
    let w = random::<B>(&[6, 3], -1.0, 1.0, &mut rng, device);
    assert_gradients("gather·w → silu → scatter", &f, &[x, w]);
}

/// Large scatters take the parallel grouped path; the result equals a serial loop.
pub fn index_add_large<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(44);
    let (m, n, c) = (40_000, 1_000, 8);
    let src = random::<B>(&[m, c], -1.0, 1.0, &mut rng, device);
    let idx_v: Vec<u32> = (0..m).map(|_| rng.below(n as u64) as u32).collect();
    let out = src
        .index_add(0, &Indices::new(&idx_v, device), n)
        .to_vec_f64();
    let sv = src.to_vec_f64();
    let mut want = vec![0.0; n * c];
    for (k, &d) in idx_v.iter().enumerate() {
        for j in 0..c {
            want[d as usize * c + j] += sv[k * c + j];
        }
    }
    assert_eq!(out, want, "parallel index_add sums in source order");
}

/// Few destinations with very long segments (a per-structure sum over all edges), with
/// one destination left empty: backends may sum long segments in chunks, so values are
/// compared to a tolerance, and two runs must agree bit for bit.
pub fn index_add_long_segments<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(45);
    let (m, n, c) = (50_000, 4, 3);
    let src = random::<B>(&[m, c], -1.0, 1.0, &mut rng, device);
    // Destination 2 receives nothing; destination 0 most sources.
    let idx_v: Vec<u32> = (0..m)
        .map(|_| [0, 0, 1, 3][rng.below(4) as usize])
        .collect();
    let idx = Indices::new(&idx_v, device);
    let out = src.index_add(0, &idx, n).to_vec_f64();
    let again = src.index_add(0, &idx, n).to_vec_f64();
    assert_eq!(out, again, "index_add is reproducible");
    let sv = src.to_vec_f64();
    let mut want = vec![0.0; n * c];
    for (k, &d) in idx_v.iter().enumerate() {
        for j in 0..c {
            want[d as usize * c + j] += sv[k * c + j];
        }
    }
    if let Err(e) = all_close(&out, &want, 1e-12, 1e-11) {
        panic!("index_add with long segments: {e}");
    }
}

/// `Indices::narrow_minus`: a range of indices renumbered from its start, used on the
/// device (gather and scatter-add read the narrowed buffer itself, not a host copy).
pub fn indices_narrow<B: Backend>(device: &B::Device) {
    let values: Vec<u32> = (0..5000u32).map(|i| 100 + (i * 7919) % 600).collect();
    let idx = Indices::<B>::new(&values, device);
    let (start, len, minus) = (1234, 2500, 100);
    let part = idx.narrow_minus(start, len, minus);
    let want: Vec<u32> = values[start..start + len]
        .iter()
        .map(|v| v - minus)
        .collect();
    assert_eq!(part.len(), len);
    assert_eq!(part.to_vec(), want, "narrowed values");
    assert!(
        part.max()
            .is_some_and(|m| m as usize >= *want.iter().max().unwrap() as usize)
    );
    let mut rng = SplitMix64::new(43);
    let x = random::<B>(&[600, 2], -1.0, 1.0, &mut rng, device);
    let xv = x.to_vec_f64();
    let got = x.index_select(0, &part).to_vec_f64();
    let gathered: Vec<f64> = want
        .iter()
        .flat_map(|&i| [xv[2 * i as usize], xv[2 * i as usize + 1]])
        .collect();
    assert_eq!(got, gathered, "gather through narrowed indices");
    let ones = Tensor::<B>::ones(&[len], crate::DType::F64, device);
    let counts = ones.index_add(0, &part, 600).to_vec_f64();
    let mut want_counts = vec![0.0; 600];
    for &i in &want {
        want_counts[i as usize] += 1.0;
    }
    assert_eq!(counts, want_counts, "scatter through narrowed indices");
    let plain = idx.narrow(10, 0);
    assert!(plain.is_empty() && plain.to_vec().is_empty(), "empty range");
}

/// `index_add` over indices declared ascending (runs instead of a sort) equals the
/// general path bit for bit: empty destinations, gaps, a run long enough to be summed in
/// chunks, and a scatter into more destinations than the indices reach.
pub fn index_add_sorted<B: Backend>(device: &B::Device) {
    let mut values: Vec<u32> = Vec::new();
    for d in [0u32, 0, 2, 3, 3, 3, 7] {
        values.push(d);
    }
    values.extend(std::iter::repeat_n(8u32, 2500));
    values.extend([9, 9, 12]);
    let mut rng = SplitMix64::new(44);
    let src = random::<B>(&[values.len(), 3], -1.0, 1.0, &mut rng, device);
    let plain = Indices::<B>::new(&values, device);
    let sorted = Indices::<B>::new(&values, device).assume_sorted();
    for n in [13usize, 20] {
        let want = src.index_add(0, &plain, n).to_vec_f64();
        let got = src.index_add(0, &sorted, n).to_vec_f64();
        assert_eq!(got, want, "ascending indices into {n} destinations");
    }
    // A narrowed run keeps the declaration (the pass of a range of centers).
    let part = sorted.narrow_minus(2, 5, 2).with_max(Some(5));
    let part_src = src.narrow(0, 2, 5);
    let want = part_src
        .index_add(0, &Indices::<B>::new(&[0, 1, 1, 1, 5], device), 6)
        .to_vec_f64();
    assert_eq!(
        part_src.index_add(0, &part, 6).to_vec_f64(),
        want,
        "narrowed run"
    );
}
