//! Row-major float32 products through NVIDIA's cuBLAS, enqueued on the stream cubecl
//! launches this thread's kernels on (so ordered with them, no synchronisation).
//! `fused_linear` runs its products here on CUDA (`super::inference::linear_vendor`);
//! `examples/gpu_gemm.rs` measures them against our own kernel. `libcublas.so` is loaded
//! at the first call; where it is missing the caller falls back to our kernel.

use std::sync::Mutex;

use cubecl::cuda::CudaRuntime;
use cudarc::cublas::{result as cublas, sys};

use super::{GpuStorage, StridedF32};
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

/// `None` before the first product; `Some(None)` where the library is missing.
static HANDLE: Mutex<Option<Option<Handle>>> = Mutex::new(None);

/// Whether `libcublas.so` can be loaded (asked once per process).
pub fn cublas_available() -> bool {
    let mut guard = HANDLE.lock().unwrap_or_else(|e| e.into_inner());
    handle(&mut guard).is_ok()
}

/// The process's handle, created at the first call.
fn handle(slot: &mut Option<Option<Handle>>) -> Result<sys::cublasHandle_t> {
    if slot.is_none() {
        // SAFETY: only asks the loader whether the library exists.
        let present = unsafe { sys::is_culib_present() };
        if !present {
            // Asked once per process (the slot remembers), so said once.
            eprintln!(
                "allegro: libcublas.so not found (set LD_LIBRARY_PATH to CUDA's lib64); \
                 float32 products run on our own kernel"
            );
        }
        *slot = Some(if present {
            Some(Handle(cublas::create_handle().map_err(|e| {
                Error::Backend(format!("cublasCreate: {e:?}"))
            })?))
        } else {
            None
        });
    }
    match slot {
        Some(Some(h)) => Ok(h.0),
        _ => Err(Error::Backend(
            "libcublas.so not found (set LD_LIBRARY_PATH to CUDA's lib64)".into(),
        )),
    }
}

/// Elements a strided `[rows, width]` matrix reaches in its buffer.
fn reach(rows: usize, width: usize, m: &StridedF32<'_, CudaRuntime>) -> usize {
    if rows == 0 || width == 0 {
        0
    } else {
        m.offset + (rows - 1) * m.stride + width
    }
}

/// `out = a @ w + beta·out` with `a` a strided `[rows, k]`, `w` a strided `[k, n]` and
/// `out` a strided `[rows, n]`, all float32 buffers of one CUDA device.
pub fn cublas_gemm_f32(
    a: StridedF32<'_, CudaRuntime>,
    w: StridedF32<'_, CudaRuntime>,
    out: StridedF32<'_, CudaRuntime>,
    (rows, k, n): (usize, usize, usize),
    beta: f32,
    math: CublasMath,
) -> Result<()> {
    if [a.storage.dtype, w.storage.dtype, out.storage.dtype] != [DType::F32; 3] {
        return Err(Error::Backend(
            "cuBLAS products take float32 buffers".into(),
        ));
    }
    let fits = |m: &StridedF32<'_, CudaRuntime>, r: usize, c: usize| {
        m.stride >= c && reach(r, c, m) <= m.storage.len
    };
    if !(fits(&a, rows, k) && fits(&w, k, n) && fits(&out, rows, n)) {
        return Err(Error::Backend(format!(
            "cuBLAS: [{rows}, {k}] @ [{k}, {n}] does not fit buffers of {}, {}, {} elements \
             with strides {}, {}, {}",
            a.storage.len, w.storage.len, out.storage.len, a.stride, w.stride, out.stride
        )));
    }
    if rows == 0 || n == 0 {
        return Ok(());
    }
    let int = |v: usize| {
        i32::try_from(v).map_err(|_| Error::Backend(format!("cuBLAS: {v} exceeds 32 bits")))
    };
    let (m32, k32, n32) = (int(rows)?, int(k)?, int(n)?);
    let (lda, ldw, ldo) = (
        int(a.stride.max(1))?,
        int(w.stride.max(1))?,
        int(out.stride.max(1))?,
    );
    let client = out.storage.client();
    let resource = |s: &GpuStorage<CudaRuntime>| {
        client
            .get_resource(s.handle.clone())
            .map_err(|e| Error::Backend(format!("cuBLAS operand: {e:?}")))
    };
    let (ra, rw, ro) = (
        resource(a.storage)?,
        resource(w.storage)?,
        resource(out.storage)?,
    );
    let stream = ro.resource().stream;
    let mut guard = HANDLE.lock().unwrap_or_else(|e| e.into_inner());
    let handle = handle(&mut guard)?;
    let mode = match math {
        CublasMath::Exact => sys::cublasMath_t::CUBLAS_DEFAULT_MATH,
        CublasMath::Tf32 => sys::cublasMath_t::CUBLAS_TF32_TENSOR_OP_MATH,
    };
    let one = 1.0f32;
    // Element pointers: a resource's `ptr` is its first byte.
    let at = |ptr: u64, offset: usize| ptr + 4 * offset as u64;
    // Row-major `out = a @ w` is column-major `outᵀ = wᵀ @ aᵀ`: the buffers read as
    // column-major are already `wᵀ` (n × k, ld = w's stride) and `aᵀ` (k × rows, ld =
    // a's stride), and `outᵀ` is n × rows with ld = out's stride.
    // SAFETY: the handle is live and used under the mutex; every pointer stays inside
    // its buffer (checked above), kept alive by its resource until the call is enqueued,
    // and later work on the buffers is ordered after it on `stream`.
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
                    at(rw.resource().ptr, w.offset) as *const f32,
                    ldw,
                    at(ra.resource().ptr, a.offset) as *const f32,
                    lda,
                    &beta,
                    at(ro.resource().ptr, out.offset) as *mut f32,
                    ldo,
                )
            })
            .map_err(|e| Error::Backend(format!("cublasSgemm: {e:?}")))
    }
}

/// `out = a @ w` with `a` a row-major `[rows, k]`, `w` a `[k, n]` and `out` a `[rows, n]`
/// float32 buffer of one CUDA device.
pub fn cublas_matmul_f32(
    a: &GpuStorage<CudaRuntime>,
    w: &GpuStorage<CudaRuntime>,
    out: &mut GpuStorage<CudaRuntime>,
    (rows, k, n): (usize, usize, usize),
    math: CublasMath,
) -> Result<()> {
    let whole = |storage, stride| StridedF32 {
        storage,
        stride,
        offset: 0,
    };
    cublas_gemm_f32(
        whole(a, k),
        whole(w, n),
        whole(out, n),
        (rows, k, n),
        0.0,
        math,
    )
}
