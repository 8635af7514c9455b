//! Row-major float32 products through NVIDIA's cuBLAS, enqueued on the stream cubecl
//! launches this thread's kernels on (so ordered with them, no synchronisation). Used to
//! measure our own GEMM against the vendor library on the model's shapes
//! (`examples/gpu_gemm.rs`); `libcublas.so` is loaded at the first call.

use std::sync::Mutex;

use cubecl::cuda::CudaRuntime;
use cudarc::cublas::{result as cublas, sys};

use super::GpuStorage;
use crate::dtype::DType;
use crate::error::{Error, Result};

/// How cuBLAS may round a float32 product's multiplications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CublasMath {
    /// Float32 throughout (`CUBLAS_DEFAULT_MATH`).
    Exact,
    /// Operands rounded to TF32 on tensor cores (`CUBLAS_TF32_TENSOR_OP_MATH`).
    Tf32,
}

/// One cuBLAS handle per process (created at the first product, reused).
struct Handle(sys::cublasHandle_t);

// SAFETY: a cuBLAS handle may be used from any thread as long as calls on it do not
// overlap, which the mutex around it ensures.
unsafe impl Send for Handle {}

static HANDLE: Mutex<Option<Handle>> = Mutex::new(None);

/// `out = a @ w` with `a` a row-major `[rows, k]`, `w` a `[k, n]` and `out` a `[rows, n]`
/// float32 buffer of one CUDA device.
pub fn cublas_matmul_f32(
    a: &GpuStorage<CudaRuntime>,
    w: &GpuStorage<CudaRuntime>,
    out: &mut GpuStorage<CudaRuntime>,
    (rows, k, n): (usize, usize, usize),
    math: CublasMath,
) -> Result<()> {
    if [a.dtype, w.dtype, out.dtype] != [DType::F32; 3] {
        return Err(Error::Backend(
            "cublas_matmul_f32 takes float32 buffers".into(),
        ));
    }
    if a.len < rows * k || w.len < k * n || out.len < rows * n {
        return Err(Error::Backend(format!(
            "cublas_matmul_f32: buffers of {}, {}, {} elements for [{rows}, {k}] @ [{k}, {n}]",
            a.len, w.len, out.len
        )));
    }
    let int = |v: usize| {
        i32::try_from(v).map_err(|_| Error::Backend(format!("cuBLAS: {v} exceeds 32 bits")))
    };
    let (m32, k32, n32) = (int(rows)?, int(k)?, int(n)?);
    let client = a.client();
    let resource = |s: &GpuStorage<CudaRuntime>| {
        client
            .get_resource(s.handle.clone())
            .map_err(|e| Error::Backend(format!("cuBLAS operand: {e:?}")))
    };
    let (ra, rw, ro) = (resource(a)?, resource(w)?, resource(out)?);
    let stream = ro.resource().stream;
    let mut guard = HANDLE.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        // SAFETY: only asks the loader whether the library exists.
        if !unsafe { sys::is_culib_present() } {
            return Err(Error::Backend(
                "libcublas.so not found (set LD_LIBRARY_PATH to CUDA's lib64)".into(),
            ));
        }
        let h =
            cublas::create_handle().map_err(|e| Error::Backend(format!("cublasCreate: {e:?}")))?;
        *guard = Some(Handle(h));
    }
    let handle = guard.as_ref().expect("created above").0;
    let mode = match math {
        CublasMath::Exact => sys::cublasMath_t::CUBLAS_DEFAULT_MATH,
        CublasMath::Tf32 => sys::cublasMath_t::CUBLAS_TF32_TENSOR_OP_MATH,
    };
    let (one, zero) = (1.0f32, 0.0f32);
    // Row-major `out = a @ w` is column-major `outᵀ = wᵀ @ aᵀ`: the buffers read as
    // column-major are already `wᵀ` (n × k, ld n) and `aᵀ` (k × rows, ld k).
    // SAFETY: the handle is live and used under the mutex; the pointers are device
    // buffers of at least the sizes checked above, kept alive by their resources until
    // the call is enqueued, and later work on them is ordered after it on `stream`.
    unsafe {
        cublas::set_stream(handle, stream.cast())
            .and_then(|_| sys::cublasSetMathMode(handle, mode).result())
            .and_then(|_| {
                cublas::sgemm(
                    handle,
                    sys::cublasOperation_t::CUBLAS_OP_N,
                    sys::cublasOperation_t::CUBLAS_OP_N,
                    n32,
                    m32,
                    k32,
                    &one,
                    rw.resource().ptr as *const f32,
                    n32,
                    ra.resource().ptr as *const f32,
                    k32,
                    &zero,
                    ro.resource().ptr as *mut f32,
                    n32,
                )
            })
            .map_err(|e| Error::Backend(format!("cublasSgemm: {e:?}")))
    }
}
