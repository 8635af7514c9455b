//! A model's metadata: cutoffs, atom types and dtype.

use std::ffi::{CStr, c_char};

use allegro_core::DType;

use crate::error::{FfiError, guard};
use crate::model::{AllegroModel, model_ref};

/// Model features are computed in IEEE binary32 (geometry and forces stay binary64).
pub const ALLEGRO_DTYPE_FLOAT32: i32 = 32;
/// Model features are computed in IEEE binary64.
pub const ALLEGRO_DTYPE_FLOAT64: i32 = 64;

/// Writes `value` to `out`, or reports `name` as a null pointer.
fn write<T>(out: *mut T, name: &str, value: T) -> Result<(), FfiError> {
    if out.is_null() {
        return Err(FfiError::null(name));
    }
    // SAFETY: checked non-null; the caller promises it is writable.
    unsafe { out.write(value) };
    Ok(())
}

/// A model type index from C, checked against the number of types.
fn type_index(m: &AllegroModel, index: i32, what: &str) -> Result<usize, FfiError> {
    usize::try_from(index)
        .ok()
        .filter(|&i| i < m.type_names.len())
        .ok_or_else(|| {
            FfiError::invalid(format!(
                "{what} {index} out of range 0..{}",
                m.type_names.len()
            ))
        })
}

/// Writes the model's largest cutoff radius (Å) to `*r_max`: the ghost-atom reach a
/// domain decomposition needs.
///
/// # Safety
/// `model` from `allegro_model_open`; `r_max` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn allegro_model_r_max(model: *const AllegroModel, r_max: *mut f64) -> i32 {
    guard(|| {
        write(
            r_max,
            "r_max",
            model_ref(model)?.predictor.model().config().r_max,
        )
    })
}

/// Writes the cutoff (Å) of edges from a center of type `center` to a neighbor of type
/// `neighbor` to `*cutoff` (per-edge-type cutoffs; `r_max` when the model has none).
/// Pairs farther apart than this contribute exactly zero.
///
/// # Safety
/// `model` from `allegro_model_open`; `cutoff` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn allegro_model_cutoff(
    model: *const AllegroModel,
    center: i32,
    neighbor: i32,
    cutoff: *mut f64,
) -> i32 {
    guard(|| {
        let m = model_ref(model)?;
        let (c, n) = (
            type_index(m, center, "center type")?,
            type_index(m, neighbor, "neighbor type")?,
        );
        write(cutoff, "cutoff", m.cutoffs[c * m.type_names.len() + n])
    })
}

/// Writes the number of atom types to `*n`.
///
/// # Safety
/// `model` from `allegro_model_open`; `n` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn allegro_model_num_types(model: *const AllegroModel, n: *mut i32) -> i32 {
    guard(|| write(n, "n", model_ref(model)?.type_names.len() as i32))
}

/// Copies where the model runs (`cpu`, `cuda:0`, …; NUL-terminated) into `buffer` of
/// `len` bytes.
///
/// # Safety
/// `model` from `allegro_model_open`; `buffer` writable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn allegro_model_device(
    model: *const AllegroModel,
    buffer: *mut c_char,
    len: usize,
) -> i32 {
    guard(|| {
        let m = model_ref(model)?;
        copy_c_string(&m.device.to_string(), buffer, len)
    })
}

/// Writes `text` and a NUL into `buffer` of `len` bytes.
fn copy_c_string(text: &str, buffer: *mut c_char, len: usize) -> Result<(), FfiError> {
    if buffer.is_null() {
        return Err(FfiError::null("buffer"));
    }
    if text.len() + 1 > len {
        return Err(FfiError::invalid(format!(
            "buffer of {len} bytes is too small for `{text}`"
        )));
    }
    // SAFETY: buffer has at least text.len() + 1 writable bytes (checked above).
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buffer as *mut u8, text.len());
        *buffer.add(text.len()) = 0;
    }
    Ok(())
}

/// Copies the name of type `index` (NUL-terminated) into `buffer` of `len` bytes.
///
/// # Safety
/// `model` from `allegro_model_open`; `buffer` writable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn allegro_model_type_name(
    model: *const AllegroModel,
    index: i32,
    buffer: *mut c_char,
    len: usize,
) -> i32 {
    guard(|| {
        let m = model_ref(model)?;
        if buffer.is_null() {
            return Err(FfiError::null("buffer"));
        }
        let name = &m.type_names[type_index(m, index, "type index")?];
        copy_c_string(name, buffer, len)
    })
}

/// Writes the index of the type called `name` (NUL-terminated, exact match) to
/// `*index`. An unknown name is `ALLEGRO_ERR_INVALID` with a message listing the
/// model's types, so a mistyped `pair_coeff` says what would have worked.
///
/// # Safety
/// `model` from `allegro_model_open`; `name` a valid C string; `index`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn allegro_model_type_index(
    model: *const AllegroModel,
    name: *const c_char,
    index: *mut i32,
) -> i32 {
    guard(|| {
        let m = model_ref(model)?;
        if name.is_null() {
            return Err(FfiError::null("name"));
        }
        // SAFETY: checked non-null; the caller promises a NUL-terminated string.
        let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
        let i = m
            .type_names
            .iter()
            .position(|t| *t == name)
            .ok_or_else(|| {
                FfiError::invalid(format!(
                    "type `{name}` is not in the model; its types are {}",
                    m.type_names.join(" ")
                ))
            })?;
        write(index, "index", i as i32)
    })
}

/// Writes the model's feature dtype to `*dtype`: `ALLEGRO_DTYPE_FLOAT32` or
/// `ALLEGRO_DTYPE_FLOAT64`. Inputs and outputs of this ABI are `double` either way.
///
/// # Safety
/// `model` from `allegro_model_open`; `dtype` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn allegro_model_dtype(model: *const AllegroModel, dtype: *mut i32) -> i32 {
    guard(|| {
        let code = match model_ref(model)?.predictor.model().dtype() {
            DType::F32 => ALLEGRO_DTYPE_FLOAT32,
            DType::F64 => ALLEGRO_DTYPE_FLOAT64,
        };
        write(dtype, "dtype", code)
    })
}
