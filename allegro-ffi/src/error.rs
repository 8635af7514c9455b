//! Error codes and the thread-local last-error message.

use std::cell::RefCell;
use std::ffi::{CString, c_char};

/// Success.
pub const ALLEGRO_OK: i32 = 0;
/// A required pointer was null.
pub const ALLEGRO_ERR_NULL: i32 = 1;
/// An argument is invalid (size, type name, non-UTF-8 path ...).
pub const ALLEGRO_ERR_INVALID: i32 = 2;
/// The model file could not be read.
pub const ALLEGRO_ERR_MODEL_FILE: i32 = 3;
/// The computation failed (bad structure, neighbor list ...).
pub const ALLEGRO_ERR_COMPUTE: i32 = 4;
/// A bug: a panic was caught at the boundary.
pub const ALLEGRO_ERR_PANIC: i32 = 5;
/// The device asked for is not usable: not built into this library, or it could not
/// start (no driver, no such device).
pub const ALLEGRO_ERR_DEVICE: i32 = 6;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error.
pub(crate) fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// The message of the last failed call on this thread (empty if none). The pointer is
/// valid until the next failing call on the same thread.
#[unsafe(no_mangle)]
pub extern "C" fn allegro_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// An error to report across the boundary: code and message.
#[derive(Debug)]
pub(crate) struct FfiError(pub i32, pub String);

impl FfiError {
    pub(crate) fn null(what: &str) -> Self {
        FfiError(ALLEGRO_ERR_NULL, format!("{what} is a null pointer"))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        FfiError(ALLEGRO_ERR_INVALID, message.into())
    }
}

/// Runs `f`, turning errors and panics into a code plus last-error message: nothing
/// unwinds into C.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), FfiError>) -> i32 {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(())) => ALLEGRO_OK,
        Ok(Err(FfiError(code, message))) => {
            set_last_error(&message);
            code
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            set_last_error(&format!("internal error (please report): {msg}"));
            ALLEGRO_ERR_PANIC
        }
    }
}
