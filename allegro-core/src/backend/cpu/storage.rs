//! CPU buffers and host transfer.

use std::sync::Arc;

use super::{Cpu, CpuDevice};
use crate::backend::StorageOps;
use crate::dtype::{DType, HostData};

/// A CPU float buffer. Cloning shares the allocation.
#[derive(Clone, Debug)]
pub enum CpuStorage {
    /// `f32` elements.
    F32(Arc<Vec<f32>>),
    /// `f64` elements.
    F64(Arc<Vec<f64>>),
}

impl CpuStorage {
    /// Wraps a vector.
    pub fn from_vec_f32(v: Vec<f32>) -> Self {
        CpuStorage::F32(Arc::new(v))
    }

    /// Wraps a vector.
    pub fn from_vec_f64(v: Vec<f64>) -> Self {
        CpuStorage::F64(Arc::new(v))
    }
}

/// Runs `$body` with `$v` bound to the typed slice of `$s`, wrapping a `Vec` result back
/// into a storage of the same dtype.
macro_rules! map_storage {
    ($s:expr, |$v:ident| $body:expr) => {
        match $s {
            $crate::backend::cpu::CpuStorage::F32(a) => {
                let $v: &[f32] = a.as_slice();
                $crate::backend::cpu::CpuStorage::F32(std::sync::Arc::new($body))
            }
            $crate::backend::cpu::CpuStorage::F64(a) => {
                let $v: &[f64] = a.as_slice();
                $crate::backend::cpu::CpuStorage::F64(std::sync::Arc::new($body))
            }
        }
    };
}
pub(crate) use map_storage;

/// Like [`map_storage`] for ops with several inputs of the same dtype.
macro_rules! map_storage2 {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $body:expr) => {
        match ($a, $b) {
            (
                $crate::backend::cpu::CpuStorage::F32(a),
                $crate::backend::cpu::CpuStorage::F32(b),
            ) => {
                let ($x, $y): (&[f32], &[f32]) = (a.as_slice(), b.as_slice());
                $crate::backend::cpu::CpuStorage::F32(std::sync::Arc::new($body))
            }
            (
                $crate::backend::cpu::CpuStorage::F64(a),
                $crate::backend::cpu::CpuStorage::F64(b),
            ) => {
                let ($x, $y): (&[f64], &[f64]) = (a.as_slice(), b.as_slice());
                $crate::backend::cpu::CpuStorage::F64(std::sync::Arc::new($body))
            }
            _ => panic!("cpu backend: operands of different dtypes"),
        }
    };
}
pub(crate) use map_storage2;

impl StorageOps for Cpu {
    fn from_host(_device: &CpuDevice, data: HostData) -> CpuStorage {
        match data {
            HostData::F32(v) => CpuStorage::F32(Arc::new(v)),
            HostData::F64(v) => CpuStorage::F64(Arc::new(v)),
        }
    }

    fn to_host(storage: &CpuStorage) -> HostData {
        match storage {
            CpuStorage::F32(v) => HostData::F32(v.as_ref().clone()),
            CpuStorage::F64(v) => HostData::F64(v.as_ref().clone()),
        }
    }

    fn storage_dtype(storage: &CpuStorage) -> DType {
        match storage {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F64(_) => DType::F64,
        }
    }

    fn storage_len(storage: &CpuStorage) -> usize {
        match storage {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::F64(v) => v.len(),
        }
    }

    fn storage_device(_storage: &CpuStorage) -> CpuDevice {
        CpuDevice
    }

    fn full(_device: &CpuDevice, len: usize, value: f64, dtype: DType) -> CpuStorage {
        match dtype {
            DType::F32 => CpuStorage::F32(Arc::new(vec![value as f32; len])),
            DType::F64 => CpuStorage::F64(Arc::new(vec![value; len])),
        }
    }

    fn cast(storage: &CpuStorage, dtype: DType) -> CpuStorage {
        match (storage, dtype) {
            (CpuStorage::F32(v), DType::F32) => CpuStorage::F32(Arc::new(v.as_ref().clone())),
            (CpuStorage::F64(v), DType::F64) => CpuStorage::F64(Arc::new(v.as_ref().clone())),
            (CpuStorage::F32(v), DType::F64) => {
                CpuStorage::F64(Arc::new(v.iter().map(|&x| x as f64).collect()))
            }
            (CpuStorage::F64(v), DType::F32) => {
                CpuStorage::F32(Arc::new(v.iter().map(|&x| x as f32).collect()))
            }
        }
    }

    fn indices_from_host(_device: &CpuDevice, indices: &[u32]) -> Arc<Vec<u32>> {
        Arc::new(indices.to_vec())
    }

    fn indices_to_host(indices: &Arc<Vec<u32>>) -> Vec<u32> {
        indices.as_ref().clone()
    }

    fn indices_narrow(
        indices: &Arc<Vec<u32>>,
        start: usize,
        len: usize,
        minus: u32,
    ) -> Arc<Vec<u32>> {
        Arc::new(
            indices[start..start + len]
                .iter()
                .map(|&i| i - minus)
                .collect(),
        )
    }
}
