//! Where an opened model runs: the device string of `allegro_model_open_device`, parsed
//! and opened by [`allegro_nn::device`] (the Python package takes the same strings), with
//! its errors as this ABI's codes.

use allegro_nn::device::{DevicePredictor, DeviceSpec};
use allegro_nn::model_file::ModelFile;

use crate::error::{ALLEGRO_ERR_DEVICE, ALLEGRO_ERR_MODEL_FILE, FfiError};

/// The device a string names; a string that names none is `ALLEGRO_ERR_INVALID`.
pub(crate) fn parse_device(text: &str) -> Result<DeviceSpec, FfiError> {
    DeviceSpec::parse(text).map_err(|e| FfiError::invalid(e.0))
}

/// The model of `file` on the device `spec`: a device this library was built without or
/// one that does not start is `ALLEGRO_ERR_DEVICE`, a model the file cannot give
/// `ALLEGRO_ERR_MODEL_FILE`.
pub(crate) fn open_on(file: ModelFile, spec: DeviceSpec) -> Result<DevicePredictor, FfiError> {
    if let (false, Some(feature)) = (spec.is_built(), spec.feature()) {
        return Err(FfiError(
            ALLEGRO_ERR_DEVICE,
            format!(
                "device `{spec}` asked for, but this library was built without GPU support \
                 for it (cargo feature `{feature}` of allegro-ffi)"
            ),
        ));
    }
    DevicePredictor::open(file, spec).map_err(|e| match e {
        allegro_nn::Error::Device(_) => FfiError(ALLEGRO_ERR_DEVICE, e.to_string()),
        e => FfiError(ALLEGRO_ERR_MODEL_FILE, e.to_string()),
    })
}
