//! Permute, broadcast, concatenate and slice on the CPU (ndarray for the strided copies).

use ndarray::{ArrayView, IxDyn};

use super::storage::map_storage;
use super::{Cpu, CpuElement, CpuStorage};
use crate::backend::ShapeOps;

fn permute_slice<T: CpuElement>(x: &[T], shape: &[usize], perm: &[usize]) -> Vec<T> {
    let view = ArrayView::from_shape(IxDyn(shape), x).expect("cpu permute: shape and length agree");
    let permuted = view.permuted_axes(IxDyn(perm));
    permuted.as_standard_layout().iter().copied().collect()
}

fn broadcast_slice<T: CpuElement>(x: &[T], in_shape: &[usize], out_shape: &[usize]) -> Vec<T> {
    let view =
        ArrayView::from_shape(IxDyn(in_shape), x).expect("cpu broadcast: shape and length agree");
    let b = view
        .broadcast(IxDyn(out_shape))
        .expect("cpu broadcast: shapes are compatible");
    b.iter().copied().collect()
}

fn narrow_slice<T: CpuElement>(
    x: &[T],
    outer: usize,
    n: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> Vec<T> {
    let mut out = Vec::with_capacity(outer * len * inner);
    for o in 0..outer {
        out.extend_from_slice(&x[(o * n + start) * inner..(o * n + start + len) * inner]);
    }
    out
}

fn concat_slices<T: CpuElement>(parts: &[(&[T], usize)], outer: usize, inner: usize) -> Vec<T> {
    let total: usize = parts.iter().map(|p| p.1).sum();
    let mut out = Vec::with_capacity(outer * total * inner);
    for o in 0..outer {
        for &(x, n) in parts {
            out.extend_from_slice(&x[o * n * inner..(o + 1) * n * inner]);
        }
    }
    out
}

impl ShapeOps for Cpu {
    fn permute(x: &CpuStorage, shape: &[usize], perm: &[usize]) -> CpuStorage {
        map_storage!(x, |v| permute_slice(v, shape, perm))
    }

    fn broadcast_to(x: &CpuStorage, in_shape: &[usize], out_shape: &[usize]) -> CpuStorage {
        map_storage!(x, |v| broadcast_slice(v, in_shape, out_shape))
    }

    fn concat(parts: &[(&CpuStorage, usize)], outer: usize, inner: usize) -> CpuStorage {
        match parts.first() {
            Some((CpuStorage::F32(_), _)) => {
                let typed: Vec<(&[f32], usize)> = parts
                    .iter()
                    .map(|(s, n)| match s {
                        CpuStorage::F32(v) => (v.as_slice(), *n),
                        _ => panic!("cpu concat: parts of different dtypes"),
                    })
                    .collect();
                CpuStorage::from_vec_f32(concat_slices(&typed, outer, inner))
            }
            Some((CpuStorage::F64(_), _)) => {
                let typed: Vec<(&[f64], usize)> = parts
                    .iter()
                    .map(|(s, n)| match s {
                        CpuStorage::F64(v) => (v.as_slice(), *n),
                        _ => panic!("cpu concat: parts of different dtypes"),
                    })
                    .collect();
                CpuStorage::from_vec_f64(concat_slices(&typed, outer, inner))
            }
            None => panic!("cpu concat: no parts"),
        }
    }

    fn narrow(
        x: &CpuStorage,
        outer: usize,
        n: usize,
        inner: usize,
        start: usize,
        len: usize,
    ) -> CpuStorage {
        map_storage!(x, |v| narrow_slice(v, outer, n, inner, start, len))
    }
}
