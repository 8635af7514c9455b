//! Where a model runs: the `device` argument (`"cpu"`, `"cuda:N"`, `"hip:N"`,
//! `"vulkan"`) and a predictor on whichever backend it names. The same strings as the C
//! ABI's `allegro_model_open_device`.

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::{AtomicGraph, Structure};
use allegro_nn::model_file::ModelFile;
use allegro_nn::{EnergyModel, Predictor};
use pyo3::PyErr;
use pyo3::exceptions::PyValueError;

use crate::error::{DeviceError, engine_error};

/// A device as its string names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceSpec {
    /// The host CPU.
    Cpu,
    /// CUDA device `N` (0 for plain `cuda`).
    Cuda(usize),
    /// HIP (ROCm) device `N`.
    Hip(usize),
    /// The default Vulkan adapter.
    Vulkan,
}

impl DeviceSpec {
    /// Parses a device string (case-insensitive kind, optional `:index`).
    pub(crate) fn parse(text: &str) -> Result<Self, PyErr> {
        let lower = text.trim().to_ascii_lowercase();
        let bad = || {
            PyValueError::new_err(format!(
                "device {text:?}: expected \"cpu\", \"cuda[:N]\", \"hip[:N]\" or \"vulkan\""
            ))
        };
        let (kind, index) = match lower.split_once(':') {
            Some((k, i)) => (k, Some(i.parse::<usize>().map_err(|_| bad())?)),
            None => (lower.as_str(), None),
        };
        match (kind, index) {
            ("cpu", None) => Ok(DeviceSpec::Cpu),
            ("cuda", i) => Ok(DeviceSpec::Cuda(i.unwrap_or(0))),
            ("hip" | "rocm", i) => Ok(DeviceSpec::Hip(i.unwrap_or(0))),
            ("vulkan", None) => Ok(DeviceSpec::Vulkan),
            _ => Err(bad()),
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

/// A model's predictor on one of the backends this build has.
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
            DevicePredictor::Cpu($p) => $body,
            #[cfg(feature = "cuda")]
            DevicePredictor::Cuda($p) => $body,
            #[cfg(feature = "hip")]
            DevicePredictor::Hip($p) => $body,
            #[cfg(feature = "vulkan")]
            DevicePredictor::Vulkan($p) => $body,
        }
    };
}

/// The error for a device whose backend is not in this build.
#[allow(dead_code)]
fn not_built(spec: DeviceSpec, feature: &str) -> PyErr {
    DeviceError::new_err(format!(
        "device {spec:?} asked for, but this build of allegro has no {feature} backend \
         (build the wheel with `maturin build --features {feature}`)",
        spec = spec.to_string()
    ))
}

/// A device that failed to start, as an error.
#[allow(dead_code)]
fn unusable(spec: DeviceSpec, e: impl std::fmt::Display) -> PyErr {
    DeviceError::new_err(format!("device {:?}: {e}", spec.to_string()))
}

impl DevicePredictor {
    /// The model of `file` with its weights on the device `spec`.
    pub(crate) fn open(file: ModelFile, spec: DeviceSpec) -> Result<Self, PyErr> {
        match spec {
            DeviceSpec::Cpu => file
                .into_predictor::<Cpu>(CpuDevice)
                .map(DevicePredictor::Cpu)
                .map_err(engine_error),
            #[cfg(feature = "cuda")]
            DeviceSpec::Cuda(index) => {
                use allegro_core::backend::gpu::{CudaDevice, CudaRuntime, GpuDevice};
                let device = GpuDevice::<CudaRuntime>::try_new(CudaDevice { index })
                    .map_err(|e| unusable(spec, e))?;
                file.into_predictor(device)
                    .map(DevicePredictor::Cuda)
                    .map_err(engine_error)
            }
            #[cfg(not(feature = "cuda"))]
            DeviceSpec::Cuda(_) => Err(not_built(spec, "cuda")),
            #[cfg(feature = "hip")]
            DeviceSpec::Hip(index) => {
                use allegro_core::backend::gpu::{AmdDevice, GpuDevice, HipRuntime};
                let device = GpuDevice::<HipRuntime>::try_new(AmdDevice { index })
                    .map_err(|e| unusable(spec, e))?;
                file.into_predictor(device)
                    .map(DevicePredictor::Hip)
                    .map_err(engine_error)
            }
            #[cfg(not(feature = "hip"))]
            DeviceSpec::Hip(_) => Err(not_built(spec, "hip")),
            #[cfg(feature = "vulkan")]
            DeviceSpec::Vulkan => {
                use allegro_core::backend::gpu::{GpuDevice, WgpuRuntime};
                let device =
                    GpuDevice::<WgpuRuntime>::try_default().map_err(|e| unusable(spec, e))?;
                file.into_predictor(device)
                    .map(DevicePredictor::Vulkan)
                    .map_err(engine_error)
            }
            #[cfg(not(feature = "vulkan"))]
            DeviceSpec::Vulkan => Err(not_built(spec, "vulkan")),
        }
    }

    /// The model (architecture and constants).
    pub(crate) fn model(&self) -> &allegro_nn::AllegroModel {
        with_predictor!(self, |p| p.model())
    }

    /// The graph of `structure` as the model reads it ([`EnergyModel::graph_of`]).
    pub(crate) fn graph_of(&self, structure: &Structure) -> allegro_nn::Result<AtomicGraph> {
        with_predictor!(self, |p| p.graph_of(structure))
    }

    /// Energies, forces and stress of every frame of `graph`.
    pub(crate) fn predict(
        &self,
        graph: &AtomicGraph,
    ) -> allegro_nn::Result<allegro_nn::Prediction> {
        with_predictor!(self, |p| p.predict(graph))
    }
}
