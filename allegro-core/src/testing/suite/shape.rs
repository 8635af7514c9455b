//! Checks of data-movement ops.

use super::{assert_gradients, assert_values, multi_indices, offset, random};
use crate::backend::Backend;
use crate::dtype::DType;
use crate::rng::SplitMix64;
use crate::tensor::Tensor;

/// `permute` of a rank-3 tensor, `transpose`, `reshape`, `unsqueeze`/`squeeze`.
pub fn permute_reshape<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(51);
    let shape = [2, 3, 4];
    let x = random::<B>(&shape, -1.0, 1.0, &mut rng, device);
    let xv = x.to_vec_f64();
    let perm = [2, 0, 1];
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let want: Vec<f64> = multi_indices(&out_shape)
        .iter()
        .map(|o| {
            let mut i = [0; 3];
            for (k, &p) in perm.iter().enumerate() {
                i[p] = o[k];
            }
            xv[offset(&i, &shape)]
        })
        .collect();
    let f = move |xs: &[Tensor<B>]| xs[0].permute(&perm);
    assert_values("permute", &f, &[x.clone()], &want);
    assert_gradients("permute", &f, &[x.clone()]);
    let g = |xs: &[Tensor<B>]| xs[0].reshape(&[6, 4]).t().unsqueeze(1).squeeze(1).exp();
    assert_gradients("reshape/t/unsqueeze", &g, &[x]);
}

/// `broadcast_to` from `[3,1]` to `[2,3,4]`.
pub fn broadcast<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(52);
    let x = random::<B>(&[3, 1], -1.0, 1.0, &mut rng, device);
    let xv = x.to_vec_f64();
    let want: Vec<f64> = multi_indices(&[2, 3, 4]).iter().map(|i| xv[i[1]]).collect();
    let f = |xs: &[Tensor<B>]| xs[0].broadcast_to(&[2, 3, 4]);
    assert_values("broadcast_to", &f, &[x.clone()], &want);
    let g = |xs: &[Tensor<B>]| xs[0].broadcast_to(&[2, 3, 4]).sin();
    assert_gradients("broadcast_to", &g, &[x]);
    // Large enough for the threaded path: rows copied and elements repeated.
    let col = random::<B>(&[1000, 1], -1.0, 1.0, &mut rng, device);
    let row = random::<B>(&[1, 40], -1.0, 1.0, &mut rng, device);
    let (cv, rv) = (col.to_vec_f64(), row.to_vec_f64());
    let bc = col.broadcast_to(&[3, 1000, 40]).to_vec_f64();
    let br = row.broadcast_to(&[1000, 40]).to_vec_f64();
    for k in (0..bc.len()).step_by(997) {
        assert_eq!(bc[k], cv[(k / 40) % 1000], "column broadcast at {k}");
    }
    for k in (0..br.len()).step_by(991) {
        assert_eq!(br[k], rv[k % 40], "row broadcast at {k}");
    }
}

/// `concat` along axes 0 and 1 and `narrow`, as inverse operations.
pub fn concat_narrow<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(53);
    let a = random::<B>(&[2, 3], -1.0, 1.0, &mut rng, device);
    let b = random::<B>(&[2, 1], -1.0, 1.0, &mut rng, device);
    let (av, bv) = (a.to_vec_f64(), b.to_vec_f64());
    let want: Vec<f64> = (0..2)
        .flat_map(|r| vec![av[3 * r], av[3 * r + 1], av[3 * r + 2], bv[r]])
        .collect();
    let f = |xs: &[Tensor<B>]| Tensor::concat(&[&xs[0], &xs[1]], 1);
    assert_values("concat axis 1", &f, &[a.clone(), b.clone()], &want);
    let g = |xs: &[Tensor<B>]| Tensor::concat(&[&xs[0].t(), &xs[1].t(), &xs[0].t()], 0).cos();
    assert_gradients("concat axis 0", &g, &[a.clone(), b.clone()]);
    let want: Vec<f64> = (0..2)
        .flat_map(|r| vec![av[3 * r + 1], av[3 * r + 2]])
        .collect();
    let h = |xs: &[Tensor<B>]| xs[0].narrow(1, 1, 2);
    assert_values("narrow", &h, &[a.clone()], &want);
    let k = |xs: &[Tensor<B>]| xs[0].narrow(1, 1, 2).square();
    assert_gradients("narrow", &k, &[a.clone()]);
    pad(a, &av);
}

/// `pad_axis` of a `[2, 3]` tensor on each axis and side against the index loop, and its
/// gradients (narrow's adjoint; second order goes through narrow and pad again).
fn pad<B: Backend>(a: Tensor<B>, av: &[f64]) {
    for (axis, before, after) in [(1, 2, 1), (0, 1, 0), (1, 0, 3), (0, 0, 2)] {
        let mut shape = [2usize, 3];
        shape[axis] += before + after;
        let want: Vec<f64> = (0..shape[0] * shape[1])
            .map(|t| {
                let (r, c) = (t / shape[1], t % shape[1]);
                let (mut r, mut c) = (r as isize, c as isize);
                if axis == 0 {
                    r -= before as isize;
                } else {
                    c -= before as isize;
                }
                let inside = (0..2).contains(&r) && (0..3).contains(&c);
                if inside {
                    av[(r * 3 + c) as usize]
                } else {
                    0.0
                }
            })
            .collect();
        let f = move |xs: &[Tensor<B>]| xs[0].pad_axis(axis, before, after);
        let name = format!("pad axis {axis} ({before}, {after})");
        assert_values(&name, &f, &[a.clone()], &want);
        let g = move |xs: &[Tensor<B>]| xs[0].pad_axis(axis, before, after).sin().square();
        assert_gradients(&name, &g, &[a.clone()]);
    }
}

/// `cast` round trip and gradient through a cast.
pub fn cast<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(54);
    let x = random::<B>(&[4], -1.0, 1.0, &mut rng, device);
    let y = x.cast(DType::F32);
    assert_eq!(y.dtype(), DType::F32);
    let back = y.cast(DType::F64).to_vec_f64();
    for (a, b) in back.iter().zip(x.to_vec_f64()) {
        assert!((a - b).abs() < 1e-7);
    }
    let f = |xs: &[Tensor<B>]| xs[0].cast(DType::F64).exp();
    assert_gradients("cast", &f, &[x]);
}

/// Transposes of the last two axes (tiled, and threaded for large matrices) equal the
/// index loop, for odd sizes.
pub fn transpose_tiled<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(55);
    for shape in [vec![3, 37, 65], vec![1001, 67]] {
        let x = random::<B>(&shape, -1.0, 1.0, &mut rng, device);
        let xv = x.to_vec_f64();
        let r = shape.len();
        let (rows, cols) = (shape[r - 2], shape[r - 1]);
        let batch = xv.len() / (rows * cols);
        let got = x.t().to_vec_f64();
        for b in 0..batch {
            for i in 0..rows {
                for j in 0..cols {
                    let want = xv[(b * rows + i) * cols + j];
                    assert_eq!(
                        got[(b * cols + j) * rows + i],
                        want,
                        "transpose {shape:?} at {b},{i},{j}"
                    );
                }
            }
        }
    }
}

/// Permutations that keep trailing axes (block moves) and gathers along the last axis,
/// small and large (threaded), against index loops.
pub fn block_permute_and_last_axis_gather<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(56);
    for shape in [[3usize, 4, 5], [300, 7, 11]] {
        let x = random::<B>(&shape, -1.0, 1.0, &mut rng, device);
        let xv = x.to_vec_f64();
        let p = x.permute(&[1, 0, 2]).to_vec_f64();
        for (k, idx) in multi_indices(&[shape[1], shape[0], shape[2]])
            .iter()
            .enumerate()
        {
            assert_eq!(
                p[k],
                xv[offset(&[idx[1], idx[0], idx[2]], &shape)],
                "permute [1,0,2] of {shape:?}"
            );
        }
        let cols: Vec<u32> = vec![4, 0, 0, 2, 1];
        let g = x
            .index_select(2, &crate::tensor::Indices::new(&cols, device))
            .to_vec_f64();
        for (k, idx) in multi_indices(&[shape[0], shape[1], cols.len()])
            .iter()
            .enumerate()
        {
            assert_eq!(
                g[k],
                xv[offset(&[idx[0], idx[1], cols[idx[2]] as usize], &shape)],
                "gather {shape:?}"
            );
        }
    }
    let mut rng = SplitMix64::new(57);
    let x = random::<B>(&[2, 3, 4], -1.0, 1.0, &mut rng, device);
    let f = |xs: &[Tensor<B>]| xs[0].permute(&[1, 0, 2]).sin();
    assert_gradients("permute [1,0,2]", &f, &[x]);
}
