//! Where a model runs: the `device` argument (`"cpu"`, `"cuda:N"`, `"hip:N"`,
//! `"vulkan"`), parsed and opened by [`allegro_nn::device`] (the same strings as the C
//! ABI's `allegro_model_open_device`), with its errors as Python exceptions.

use allegro_nn::device::{DevicePredictor, DeviceSpec};
use allegro_nn::model_file::ModelFile;
use pyo3::PyErr;
use pyo3::exceptions::PyValueError;

use crate::error::{DeviceError, engine_error};

/// The device a string names; a string that names none is a `ValueError`.
pub(crate) fn parse_device(text: &str) -> Result<DeviceSpec, PyErr> {
    DeviceSpec::parse(text).map_err(|e| PyValueError::new_err(e.0))
}

/// The model of `file` on the device `spec`: a backend this wheel was built without, or
/// a device that does not start, is a `DeviceError`; a model the file cannot give, the
/// file's error.
pub(crate) fn open_on(file: ModelFile, spec: DeviceSpec) -> Result<DevicePredictor, PyErr> {
    if let (false, Some(feature)) = (spec.is_built(), spec.feature()) {
        return Err(DeviceError::new_err(format!(
            "device \"{spec}\" asked for, but this build of allegro has no {feature} backend \
             (build the wheel with `maturin build --features {feature}`)"
        )));
    }
    DevicePredictor::open(file, spec).map_err(engine_error)
}
