//! Where an opened model runs: the device string of `allegro_model_open_device` and a
//! predictor on whichever backend it names.

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_nn::Predictor;
use allegro_nn::model_file::ModelFile;

use crate::error::{ALLEGRO_ERR_DEVICE, ALLEGRO_ERR_MODEL_FILE, FfiError};

/// A device as a string names it: `cpu`, `cuda`, `cuda:N`, `hip`, `hip:N`, `vulkan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceSpec {
    /// The host CPU.
    Cpu,
    /// CUDA device `N` (0 for plain `cuda`).
    Cuda(usize),
    /// HIP (ROCm) device `N`.
    Hip(usize),
    /// The default Vulkan adapter (Mesa's lavapipe where there is no GPU).
    Vulkan,
}

impl DeviceSpec {
    /// Parses a device string (case-insensitive kind, optional `:index`).
    pub(crate) fn parse(text: &str) -> Result<Self, FfiError> {
        let lower = text.trim().to_ascii_lowercase();
        let (kind, index) = match lower.split_once(':') {
            Some((k, i)) => {
                let n = i.parse::<usize>().map_err(|_| {
                    FfiError::invalid(format!("device `{text}`: `{i}` is not a device index"))
                })?;
                (k.to_string(), Some(n))
            }
            None => (lower.clone(), None),
        };
        match (kind.as_str(), index) {
            ("cpu", None) => Ok(DeviceSpec::Cpu),
            ("cuda", i) => Ok(DeviceSpec::Cuda(i.unwrap_or(0))),
            ("hip" | "rocm", i) => Ok(DeviceSpec::Hip(i.unwrap_or(0))),
            ("vulkan", None) => Ok(DeviceSpec::Vulkan),
            _ => Err(FfiError::invalid(format!(
                "device `{text}`: expected cpu, cuda[:N], hip[:N] or vulkan"
            ))),
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Cpu => write!(f, "cpu"),
            DeviceSpec::Cuda(i) => write!(f, "cuda:{i}"),
            DeviceSpec::Hip(i) => write!(f, "hip:{i}"),
            DeviceSpec::Vulkan => write!(f, "vulkan"),
        }
    }
}

/// A model's predictor on one of the backends this library was built with.
pub(crate) enum DevicePredictor {
    /// On the CPU.
    Cpu(Predictor<Cpu>),
    /// On a CUDA GPU.
    #[cfg(feature = "cuda")]
    Cuda(Predictor<allegro_core::backend::gpu::Cuda>),
    /// On a HIP GPU.
    #[cfg(feature = "hip")]
    Hip(Predictor<allegro_core::backend::gpu::Hip>),
    /// On Vulkan.
    #[cfg(feature = "vulkan")]
    Vulkan(Predictor<allegro_core::backend::gpu::Vulkan>),
}

/// Runs `$body` with `$p` bound to the predictor, whatever its backend.
macro_rules! with_predictor {
    ($predictor:expr, |$p:ident| $body:expr) => {
        match $predictor {
            $crate::device::DevicePredictor::Cpu($p) => $body,
            #[cfg(feature = "cuda")]
            $crate::device::DevicePredictor::Cuda($p) => $body,
            #[cfg(feature = "hip")]
            $crate::device::DevicePredictor::Hip($p) => $body,
            #[cfg(feature = "vulkan")]
            $crate::device::DevicePredictor::Vulkan($p) => $body,
        }
    };
}
pub(crate) use with_predictor;

/// The error for a device whose backend is not in this build.
#[allow(dead_code)]
fn not_built(spec: DeviceSpec, feature: &str) -> FfiError {
    FfiError(
        ALLEGRO_ERR_DEVICE,
        format!(
            "device `{spec}` asked for, but this library was built without GPU support for \
             it (cargo feature `{feature}` of allegro-ffi)"
        ),
    )
}

/// A failed device start, as an error.
#[allow(dead_code)]
fn unusable(e: impl std::fmt::Display) -> FfiError {
    FfiError(ALLEGRO_ERR_DEVICE, e.to_string())
}

fn model_error(e: impl std::fmt::Display) -> FfiError {
    FfiError(ALLEGRO_ERR_MODEL_FILE, e.to_string())
}

impl DevicePredictor {
    /// The model of `file` with its weights on the device `spec`.
    pub(crate) fn open(file: ModelFile, spec: DeviceSpec) -> Result<Self, FfiError> {
        match spec {
            DeviceSpec::Cpu => file
                .into_predictor::<Cpu>(CpuDevice)
                .map(DevicePredictor::Cpu)
                .map_err(model_error),
            #[cfg(feature = "cuda")]
            DeviceSpec::Cuda(index) => {
                use allegro_core::backend::gpu::{CudaDevice, CudaRuntime, GpuDevice};
                let device =
                    GpuDevice::<CudaRuntime>::try_new(CudaDevice { index }).map_err(unusable)?;
                file.into_predictor(device)
                    .map(DevicePredictor::Cuda)
                    .map_err(model_error)
            }
            #[cfg(not(feature = "cuda"))]
            DeviceSpec::Cuda(_) => Err(not_built(spec, "cuda")),
            #[cfg(feature = "hip")]
            DeviceSpec::Hip(index) => {
                use allegro_core::backend::gpu::{AmdDevice, GpuDevice, HipRuntime};
                let device =
                    GpuDevice::<HipRuntime>::try_new(AmdDevice { index }).map_err(unusable)?;
                file.into_predictor(device)
                    .map(DevicePredictor::Hip)
                    .map_err(model_error)
            }
            #[cfg(not(feature = "hip"))]
            DeviceSpec::Hip(_) => Err(not_built(spec, "hip")),
            #[cfg(feature = "vulkan")]
            DeviceSpec::Vulkan => {
                use allegro_core::backend::gpu::{GpuDevice, WgpuRuntime};
                let device = GpuDevice::<WgpuRuntime>::try_default().map_err(unusable)?;
                file.into_predictor(device)
                    .map(DevicePredictor::Vulkan)
                    .map_err(model_error)
            }
            #[cfg(not(feature = "vulkan"))]
            DeviceSpec::Vulkan => Err(not_built(spec, "vulkan")),
        }
    }

    /// The model (architecture and constants).
    pub(crate) fn model(&self) -> &allegro_nn::AllegroModel {
        with_predictor!(self, |p| p.model())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_strings() {
        assert_eq!(DeviceSpec::parse("cpu").unwrap(), DeviceSpec::Cpu);
        assert_eq!(DeviceSpec::parse("CUDA").unwrap(), DeviceSpec::Cuda(0));
        assert_eq!(DeviceSpec::parse("cuda:3").unwrap(), DeviceSpec::Cuda(3));
        assert_eq!(DeviceSpec::parse("hip:1").unwrap(), DeviceSpec::Hip(1));
        assert_eq!(DeviceSpec::parse(" vulkan ").unwrap(), DeviceSpec::Vulkan);
        for bad in ["gpu", "cuda:x", "cpu:0", "vulkan:1", ""] {
            let e = DeviceSpec::parse(bad).unwrap_err();
            assert!(e.1.contains("device"), "{bad}: {}", e.1);
        }
    }
}
