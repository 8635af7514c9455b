//! The backend's [`FusedOps`](crate::backend::FusedOps) against the references built from
//! primitive ops ([`crate::backend::ops::fused_reference`]), which are its defaults: both
//! contractions, coupled and shared weights, the slot permutations the backward rules
//! use, edge counts around the kernels' blocks, in f64 and f32. (The references
//! themselves are checked against plain loops and finite differences by running the
//! whole suite on a backend that only has them, `tests/plain_backend.rs`.)

use std::sync::Arc;

use super::inference::{assert_close, download};
use crate::backend::ops::fused_reference::{
    channel_contract_reference, channel_contract_weight_grad_reference,
};
use crate::backend::{Backend, ContractEntry, ContractionSpec};
use crate::dtype::DType;
use crate::rng::SplitMix64;
use crate::tensor::Tensor;

/// Tolerance relative to the largest value of a result: the kernels sum the same terms
/// in other orders (lanes, edge blocks), and sums of mixed signs cancel.
pub(super) fn tol(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-12,
        DType::F32 => 1e-5,
    }
}

/// `n` random entries over slots of extents `dims` and `paths` paths.
fn random_spec(
    rng: &mut SplitMix64,
    dims: [usize; 3],
    paths: usize,
    n: usize,
) -> Arc<ContractionSpec> {
    let entries = (0..n)
        .map(|_| ContractEntry {
            slots: dims.map(|d| rng.below(d as u64) as u32),
            path: rng.below(paths as u64) as u32,
            coeff: rng.uniform_in(-1.0, 1.0),
        })
        .collect();
    Arc::new(ContractionSpec {
        entries,
        dims,
        num_paths: paths,
    })
}

/// A random `[shape]` buffer of `dtype`.
pub(super) fn buffer<B: Backend>(
    shape: &[usize],
    dtype: DType,
    rng: &mut SplitMix64,
    device: &B::Device,
) -> B::Storage {
    let v = rng.vec_uniform(crate::shape::numel(shape), -1.0, 1.0);
    Tensor::<B>::from_f64(&v, shape, dtype, device)
        .expect("shape")
        .storage()
        .clone()
}

/// Both contractions of one spec, backend against reference.
fn contract_case<B: Backend>(
    spec: &ContractionSpec,
    edges: usize,
    channels: usize,
    per_channel: bool,
    dtype: DType,
    rng: &mut SplitMix64,
    device: &B::Device,
) {
    let [dx, dy, dout] = spec.dims;
    let w_rows = if per_channel { channels } else { 1 };
    let x = buffer::<B>(&[edges, channels, dx], dtype, rng, device);
    let y = buffer::<B>(&[edges, channels, dy], dtype, rng, device);
    let w = buffer::<B>(&[w_rows, spec.num_paths], dtype, rng, device);
    let g = buffer::<B>(&[edges, channels, dout], dtype, rng, device);
    let label = format!(
        "dims {:?}, {} entries, E {edges}, U {channels}, per_channel {per_channel}, {dtype}",
        spec.dims,
        spec.entries.len()
    );
    let fused = B::channel_contract(&x, &y, &w, edges, channels, spec, per_channel);
    let plain = channel_contract_reference::<B>(&x, &y, &w, edges, channels, spec, per_channel);
    assert_eq!(B::storage_dtype(&plain), dtype, "{label}: reference dtype");
    assert_close(
        &format!("channel_contract {label}"),
        &download::<B>(&fused),
        &download::<B>(&plain),
        tol(dtype),
    );
    let fused = B::channel_contract_weight_grad(&x, &y, &g, edges, channels, spec, per_channel);
    let plain =
        channel_contract_weight_grad_reference::<B>(&x, &y, &g, edges, channels, spec, per_channel);
    assert_eq!(
        B::storage_len(&plain),
        w_rows * spec.num_paths,
        "{label}: shape"
    );
    assert_close(
        &format!("channel_contract_weight_grad {label}"),
        &download::<B>(&fused),
        &download::<B>(&plain),
        tol(dtype),
    );
}

/// `channel_contract` and `channel_contract_weight_grad` of the backend equal their
/// references: random specs (entries sharing outputs and paths, slots left unused) and
/// the permutations of the backward rules, one edge to several kernel blocks.
pub fn channel_contract_matches_reference<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(8101);
    for dtype in [DType::F64, DType::F32] {
        let spec = random_spec(&mut rng, [4, 3, 5], 3, 17);
        let sparse = random_spec(&mut rng, [9, 5, 7], 6, 4);
        for (edges, channels) in [(1, 1), (3, 2), (70, 5), (301, 33)] {
            for per_channel in [true, false] {
                for s in [&spec, &spec.permuted([2, 1, 0]), &spec.permuted([2, 0, 1])] {
                    contract_case::<B>(s, edges, channels, per_channel, dtype, &mut rng, device);
                }
                contract_case::<B>(
                    &sparse,
                    edges,
                    channels,
                    per_channel,
                    dtype,
                    &mut rng,
                    device,
                );
            }
        }
    }
}

/// The Allegro track's own contractions (the model's specs, coefficients of the Clebsch–
/// Gordan couplings) on many edges, backend against reference.
pub fn channel_contract_allegro_matches_reference<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(8102);
    for layer in [0, 1] {
        let (spec, _, _) = super::segment::allegro_spec(layer);
        for dtype in [DType::F64, DType::F32] {
            contract_case::<B>(&spec, 517, 8, true, dtype, &mut rng, device);
            contract_case::<B>(&spec, 64, 3, false, dtype, &mut rng, device);
        }
    }
}
