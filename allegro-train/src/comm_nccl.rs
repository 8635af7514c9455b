//! NCCL as the gradient all-reduce of data-parallel ranks that each drive one CUDA GPU
//! (`process_group_backend: nccl` in a nequip config, as PyTorch's DDP uses it). MPI
//! starts the ranks and hands NCCL its unique id; the sums then travel between the GPUs
//! (NVLink, PCIe or the network, NCCL's choice) instead of through host memory.
//!
//! The trainer's gradients are host `f64` slices ([`Communicator::all_reduce_sum`]), so
//! each sum is staged through a device buffer of this rank's GPU: copy in, NCCL
//! all-reduce in place, copy out. NCCL's all-reduce gives every rank the same bits (its
//! algorithms reduce each element once and copy the result to every rank), which
//! replicated weights and optimizer state need.
//!
//! NCCL is loaded at run time (cudarc's dynamic loading, which looks for `libnccl.so`, not
//! `libnccl.so.2`): the binary builds without it and only a run that asks for NCCL needs
//! it on the library path. PyTorch's `nvidia-nccl` wheel ships `libnccl.so.2` alone; a
//! link named `libnccl.so` to it, in a folder on `LD_LIBRARY_PATH`, does.

use std::cell::RefCell;
use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaSlice, CudaStream};
use cudarc::nccl::{Comm, Id, ReduceOp};

use crate::comm::{Communicator, MpiCommunicator};
use crate::error::{Error, Result};

/// The ranks of an MPI job, each on one CUDA GPU, summing over NCCL.
///
/// Fields drop in order: the device buffer and the NCCL communicator go before MPI is
/// finalised.
pub struct NcclCommunicator {
    /// The device buffer the sums are staged in, grown to the longest sum so far.
    staging: RefCell<Option<CudaSlice<f64>>>,
    comm: Comm,
    stream: Arc<CudaStream>,
    /// Rank, size, node rank, the maxima (rare: error checks) and NCCL's bootstrap.
    mpi: MpiCommunicator,
}

/// A CUDA failure as this crate's error, naming the step that failed.
fn nccl_error(step: &str, e: impl std::fmt::Debug) -> Error {
    Error::State(format!("NCCL: {step}: {e:?}"))
}

/// An NCCL failure as this crate's error: the step, NCCL's result code, its description
/// and NCCL's last message (which says why, e.g. two ranks on one GPU).
fn nccl_failure(step: &str, e: cudarc::nccl::result::NcclError) -> Error {
    use cudarc::nccl::sys;
    let text = |p: *const std::ffi::c_char| {
        if p.is_null() {
            String::new()
        } else {
            // SAFETY: NCCL returns NUL-terminated static or thread-local strings.
            unsafe { std::ffi::CStr::from_ptr(p) }
                .to_string_lossy()
                .into_owned()
        }
    };
    // SAFETY: both only read NCCL's error tables (no communicator: the last error of this
    // thread); the library is loaded (the failure came from it).
    let (described, last) = unsafe {
        (
            text(sys::ncclGetErrorString(e.0)),
            text(sys::ncclGetLastError(std::ptr::null_mut())),
        )
    };
    Error::State(format!("NCCL: {step}: {:?} ({described}): {last}", e.0))
}

impl NcclCommunicator {
    /// NCCL over the ranks of `mpi`, this rank on CUDA device `ordinal`. Every rank must
    /// call it (it is collective), each with its own GPU: NCCL refuses two ranks on one.
    pub fn new(mpi: MpiCommunicator, ordinal: usize) -> Result<Self> {
        // cudarc panics where a library is missing: asked first, so that it is an error.
        // SAFETY: only tries to open the libraries (dlopen), calls nothing in them.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(nccl_error("no CUDA driver (libcuda.so) here", ordinal));
        }
        // SAFETY: as above.
        if !unsafe { cudarc::nccl::sys::is_culib_present() } {
            return Err(Error::State(
                "NCCL: libnccl.so is not on the library path (LD_LIBRARY_PATH); PyTorch's \
                 nvidia-nccl wheel has libnccl.so.2: link it as libnccl.so"
                    .to_string(),
            ));
        }
        // Anything else cudarc would panic on is an error too.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Self::start(mpi, ordinal)))
            .unwrap_or_else(|panic| {
                let why = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("a panic in the CUDA binding");
                Err(Error::State(format!("NCCL: {why}")))
            })
    }

    /// [`NcclCommunicator::new`] once the libraries are known to load. A rank that fails
    /// before NCCL's collective start tells the others, so that none waits for it.
    fn start(mpi: MpiCommunicator, ordinal: usize) -> Result<Self> {
        use mpi::traits::{Communicator as _, Root};
        let stream = CudaContext::new(ordinal)
            .map_err(|e| nccl_error(&format!("CUDA device {ordinal}"), e))
            .and_then(|context| {
                context
                    .new_stream()
                    .map_err(|e| nccl_error("a CUDA stream", e))
            });
        // Rank 0 draws the id; MPI gives it to the others.
        let mut id = [0 as std::ffi::c_char; 128];
        let mut drawn = Ok(());
        if mpi.rank() == 0 && stream.is_ok() {
            drawn = Id::new()
                .map(|fresh| id = *fresh.internal())
                .map_err(|e| nccl_failure("ncclGetUniqueId", e));
        }
        mpi.world().process_at_rank(0).broadcast_into(&mut id[..]);
        let mine = stream.and_then(|s| drawn.map(|()| s));
        let mut failed = [mine.is_err() as u8 as f64];
        mpi.all_reduce_max(&mut failed)?;
        let stream = match (mine, failed[0] > 0.0) {
            (Err(e), _) => return Err(e),
            (Ok(_), true) => {
                return Err(Error::State(
                    "NCCL: another rank could not start (its error says why)".to_string(),
                ));
            }
            (Ok(stream), false) => stream,
        };
        let comm = Comm::from_rank(stream.clone(), mpi.rank(), mpi.size(), Id::uninit(id))
            .map_err(|e| nccl_failure("ncclCommInitRank", e))?;
        Ok(NcclCommunicator {
            staging: RefCell::new(None),
            comm,
            stream,
            mpi,
        })
    }
}

impl std::fmt::Debug for NcclCommunicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NcclCommunicator(rank {} of {}, CUDA device {})",
            self.rank(),
            self.size(),
            self.comm.ordinal()
        )
    }
}

impl Communicator for NcclCommunicator {
    fn rank(&self) -> usize {
        self.mpi.rank()
    }
    fn size(&self) -> usize {
        self.mpi.size()
    }
    fn local_rank(&self) -> usize {
        self.mpi.local_rank()
    }
    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let mut staging = self.staging.borrow_mut();
        if staging.as_ref().is_none_or(|b| b.len() < values.len()) {
            *staging = None; // the old buffer goes before the larger one comes
            let buffer = self
                .stream
                .alloc_zeros::<f64>(values.len())
                .map_err(|e| nccl_error("device staging buffer", e))?;
            *staging = Some(buffer);
        }
        let buffer = staging.as_mut().expect("allocated above");
        let mut part = buffer.slice_mut(0..values.len());
        self.stream
            .memcpy_htod(&values[..], &mut part)
            .map_err(|e| nccl_error("copy to the device", e))?;
        self.comm
            .all_reduce_in_place(&mut part, &ReduceOp::Sum)
            .map_err(|e| nccl_failure("ncclAllReduce", e))?;
        self.stream
            .memcpy_dtoh(&part, values)
            .map_err(|e| nccl_error("copy to the host", e))?;
        self.stream
            .synchronize()
            .map_err(|e| nccl_error("stream synchronize", e))
    }
    fn all_reduce_max(&self, values: &mut [f64]) -> Result<()> {
        self.mpi.all_reduce_max(values)
    }
}
