//! Opening a model file and reading its metadata.

use std::ffi::{CStr, c_char};

use allegro_nn::model_file::ModelFile;

use allegro_nn::device::{DevicePredictor, DeviceSpec};

use crate::device::{open_on, parse_device};
use crate::error::{ALLEGRO_ERR_MODEL_FILE, FfiError, guard};

/// An opened model (opaque to C). One handle may be used from one thread at a time;
/// open one handle per thread for parallel use.
pub struct AllegroModel {
    pub(crate) predictor: DevicePredictor,
    /// Where it runs (`cpu`, `cuda:0` …).
    pub(crate) device: DeviceSpec,
    pub(crate) type_names: Vec<String>,
    /// Cutoff of every edge type (`T × T`, row = center type), computed once because the
    /// LAMMPS entry point filters every pair by it on every step.
    pub(crate) cutoffs: Vec<f64>,
}

/// Opens the `.allegro` file at `path` (UTF-8, NUL-terminated) into `*out`, on the CPU.
///
/// # Safety
/// `path` must be a valid C string; `out` must point to writable storage.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn allegro_model_open(
    path: *const c_char,
    out: *mut *mut AllegroModel,
) -> i32 {
    guard(|| open(path, DeviceSpec::Cpu, out))
}

/// Opens the `.allegro` file at `path` into `*out` with its weights on `device`:
/// `"cpu"`, `"cuda"` / `"cuda:N"`, `"hip"` / `"hip:N"` or `"vulkan"` (NUL-terminated).
/// A GPU this library was not built for, or one that cannot start, is
/// `ALLEGRO_ERR_DEVICE` with a message saying which.
///
/// # Safety
/// `path` and `device` must be valid C strings; `out` must point to writable storage.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn allegro_model_open_device(
    path: *const c_char,
    device: *const c_char,
    out: *mut *mut AllegroModel,
) -> i32 {
    guard(|| {
        if device.is_null() {
            return Err(FfiError::null("device"));
        }
        // SAFETY: checked non-null; the caller promises a NUL-terminated string.
        let text = unsafe { CStr::from_ptr(device) }
            .to_str()
            .map_err(|_| FfiError::invalid("device is not UTF-8"))?;
        open(path, parse_device(text)?, out)
    })
}

fn open(
    path: *const c_char,
    spec: DeviceSpec,
    out: *mut *mut AllegroModel,
) -> Result<(), FfiError> {
    if path.is_null() {
        return Err(FfiError::null("path"));
    }
    if out.is_null() {
        return Err(FfiError::null("out"));
    }
    // SAFETY: checked non-null; the caller promises a NUL-terminated string.
    let path = unsafe { CStr::from_ptr(path) }
        .to_str()
        .map_err(|_| FfiError::invalid("path is not UTF-8"))?;
    let file =
        ModelFile::load(path).map_err(|e| FfiError(ALLEGRO_ERR_MODEL_FILE, e.to_string()))?;
    let type_names = file.type_names.clone();
    if spec == DeviceSpec::Cpu {
        // The program asked for CPU inference through us: keep the CPU backend's freed
        // buffers in malloc's heap (a process-wide setting, so made here, once, and not
        // when the library is merely loaded).
        allegro_core::backend::cpu::keep_freed_buffers();
    }
    let predictor = open_on(file, spec)?;
    let cutoffs = predictor.model().cutoffs();
    let handle = Box::new(AllegroModel {
        predictor,
        device: spec,
        type_names,
        cutoffs,
    });
    // SAFETY: checked non-null.
    unsafe { *out = Box::into_raw(handle) };
    Ok(())
}

/// Bounds the memory of each evaluation: edges are evaluated in passes of at most about
/// `max_edges` (grouped by center atom; exact, the passes add up to one evaluation).
/// `0` removes the bound (one pass, the default). Worth setting on a GPU for large
/// systems: memory grows with the edges of a pass, time barely changes above a few
/// hundred thousand.
///
/// # Safety
/// `model` must come from `allegro_model_open` (or be null: `ALLEGRO_ERR_NULL`) and not
/// be in use on another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn allegro_model_set_max_edges_per_pass(
    model: *mut AllegroModel,
    max_edges: u64,
) -> i32 {
    guard(|| {
        // SAFETY: non-null handles come from allegro_model_open (documented contract).
        let m = unsafe { model.as_mut() }.ok_or_else(|| FfiError::null("model"))?;
        let bound = (max_edges > 0).then(|| usize::try_from(max_edges).unwrap_or(usize::MAX));
        m.predictor.set_max_edges_per_pass(bound);
        Ok(())
    })
}

/// Frees a model opened by `allegro_model_open`; null is ignored. With `ALLEGRO_PROFILE`
/// set, prints the time per stage of its evaluations so far to stderr.
///
/// # Safety
/// `model` must come from `allegro_model_open` and not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn allegro_model_free(model: *mut AllegroModel) {
    if !model.is_null() {
        // SAFETY: the pointer came from Box::into_raw in allegro_model_open.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            drop(unsafe { Box::from_raw(model) });
            if allegro_nn::energy_forces::profile::enabled() {
                eprint!(
                    "allegro: time per stage (ALLEGRO_PROFILE)\n{}",
                    allegro_nn::energy_forces::profile::report()
                );
            }
        }));
    }
}

/// Borrows a handle, or reports a null pointer.
pub(crate) fn model_ref<'a>(model: *const AllegroModel) -> Result<&'a AllegroModel, FfiError> {
    // SAFETY: non-null handles come from allegro_model_open (documented contract).
    unsafe { model.as_ref() }.ok_or_else(|| FfiError::null("model"))
}
