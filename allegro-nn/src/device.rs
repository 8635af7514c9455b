//! Where a model runs, chosen at run time by a string: `cpu`, `cuda[:N]`, `hip[:N]`
//! (also `rocm[:N]`), `vulkan` ([`DeviceSpec`]), and a predictor on whichever backend it
//! names ([`DevicePredictor`]). The C ABI (`allegro_model_open_device`) and the Python
//! package take the same strings through this module; each turns its errors into its own
//! kind (an error code, a Python exception).

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::{AtomicGraph, Structure};

use crate::energy_model::EnergyModel;
use crate::error::{Error, Result};
use crate::model::AllegroModel;
use crate::model_file::ModelFile;
use crate::predictor::{AtomOutputs, Prediction, Predictor};

/// A device as a string names it: `cpu`, `cuda`, `cuda:N`, `hip`, `hip:N`, `vulkan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The host CPU.
    Cpu,
    /// CUDA device `N` (0 for plain `cuda`).
    Cuda(usize),
    /// HIP (ROCm) device `N` (0 for plain `hip`).
    Hip(usize),
    /// The default Vulkan adapter (Mesa's lavapipe where there is no GPU).
    Vulkan,
}

/// A device string that names no device; its message quotes the string and says what
/// is accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeviceSpecError(pub String);

impl DeviceSpec {
    /// Parses a device string: a case-insensitive kind with an optional `:index`,
    /// surrounding blanks ignored.
    pub fn parse(text: &str) -> std::result::Result<Self, DeviceSpecError> {
        let lower = text.trim().to_ascii_lowercase();
        let (kind, index) = match lower.split_once(':') {
            Some((k, i)) => {
                let n = i.parse::<usize>().map_err(|_| {
                    DeviceSpecError(format!("device `{text}`: `{i}` is not a device index"))
                })?;
                (k, Some(n))
            }
            None => (lower.as_str(), None),
        };
        match (kind, index) {
            ("cpu", None) => Ok(DeviceSpec::Cpu),
            ("cuda", i) => Ok(DeviceSpec::Cuda(i.unwrap_or(0))),
            ("hip" | "rocm", i) => Ok(DeviceSpec::Hip(i.unwrap_or(0))),
            ("vulkan", None) => Ok(DeviceSpec::Vulkan),
            _ => Err(DeviceSpecError(format!(
                "device `{text}`: expected cpu, cuda[:N], hip[:N] or vulkan"
            ))),
        }
    }

    /// The cargo feature that builds this device's backend (`None` for the CPU, always
    /// built).
    pub fn feature(self) -> Option<&'static str> {
        match self {
            DeviceSpec::Cpu => None,
            DeviceSpec::Cuda(_) => Some("cuda"),
            DeviceSpec::Hip(_) => Some("hip"),
            DeviceSpec::Vulkan => Some("vulkan"),
        }
    }

    /// Whether this build has the device's backend (allegro-nn's features).
    pub fn is_built(self) -> bool {
        match self {
            DeviceSpec::Cpu => true,
            DeviceSpec::Cuda(_) => cfg!(feature = "cuda"),
            DeviceSpec::Hip(_) => cfg!(feature = "hip"),
            DeviceSpec::Vulkan => cfg!(feature = "vulkan"),
        }
    }
}

impl std::str::FromStr for DeviceSpec {
    type Err = DeviceSpecError;
    fn from_str(text: &str) -> std::result::Result<Self, DeviceSpecError> {
        DeviceSpec::parse(text)
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

/// A model's predictor on one of the backends this build has: what a device string
/// opens. It is an [`EnergyModel`], and forwards the [`Predictor`] methods callers of a
/// run-time device need.
pub enum DevicePredictor {
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

/// Runs `$body` with `$p` bound to the predictor, whatever its backend. Kept inside this
/// crate: the `cfg`s of a macro are read where it expands, so an exported one would see
/// the caller's features, not these.
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

/// A device that did not start, as [`Error::Device`] naming it.
#[cfg(any(feature = "cuda", feature = "hip", feature = "vulkan"))]
fn unusable(spec: DeviceSpec, e: impl std::fmt::Display) -> Error {
    Error::Device(format!("`{spec}` did not start: {e}"))
}

impl DevicePredictor {
    /// The model of `file` with its weights on the device `spec`. A device whose backend
    /// this build lacks ([`DeviceSpec::is_built`]) or that does not start is an
    /// [`Error::Device`]; a model the file cannot give is the file's error.
    pub fn open(file: ModelFile, spec: DeviceSpec) -> Result<Self> {
        match spec {
            DeviceSpec::Cpu => file.into_predictor::<Cpu>(CpuDevice).map(Self::Cpu),
            #[cfg(feature = "cuda")]
            DeviceSpec::Cuda(index) => {
                use allegro_core::backend::gpu::{CudaDevice, CudaRuntime, GpuDevice};
                let device = GpuDevice::<CudaRuntime>::try_new(CudaDevice { index })
                    .map_err(|e| unusable(spec, e))?;
                file.into_predictor(device).map(Self::Cuda)
            }
            #[cfg(feature = "hip")]
            DeviceSpec::Hip(index) => {
                use allegro_core::backend::gpu::{AmdDevice, GpuDevice, HipRuntime};
                let device = GpuDevice::<HipRuntime>::try_new(AmdDevice { index })
                    .map_err(|e| unusable(spec, e))?;
                file.into_predictor(device).map(Self::Hip)
            }
            #[cfg(feature = "vulkan")]
            DeviceSpec::Vulkan => {
                use allegro_core::backend::gpu::{GpuDevice, WgpuRuntime};
                let device =
                    GpuDevice::<WgpuRuntime>::try_default().map_err(|e| unusable(spec, e))?;
                file.into_predictor(device).map(Self::Vulkan)
            }
            #[allow(unreachable_patterns)] // every backend built: nothing is left here
            _ => {
                let feature = spec.feature().unwrap_or("cpu");
                Err(Error::Device(format!(
                    "device `{spec}` asked for, but this build has no {feature} backend \
                     (cargo feature `{feature}`)"
                )))
            }
        }
    }

    /// The model (architecture and constants).
    pub fn model(&self) -> &AllegroModel {
        with_predictor!(self, |p| p.model())
    }

    /// [`Predictor::set_max_edges_per_pass`].
    pub fn set_max_edges_per_pass(&mut self, max_edges: Option<usize>) {
        with_predictor!(self, |p| p.set_max_edges_per_pass(max_edges))
    }

    /// [`Predictor::atom_outputs`].
    pub fn atom_outputs(&self, graph: &AtomicGraph, with_atom_virial: bool) -> Result<AtomOutputs> {
        with_predictor!(self, |p| p.atom_outputs(graph, with_atom_virial))
    }
}

impl EnergyModel for DevicePredictor {
    fn type_names(&self) -> Vec<String> {
        with_predictor!(self, |p| p.type_names())
    }
    fn cutoffs(&self) -> Vec<f64> {
        with_predictor!(self, |p| p.cutoffs())
    }
    fn predict(&self, graph: &AtomicGraph) -> Result<Prediction> {
        with_predictor!(self, |p| p.predict(graph))
    }
    /// The predictor's own route: on a GPU the neighbor list is found on the device
    /// (`Predictor::predict_structure_on_device`, with a GPU feature).
    fn predict_structure(&self, structure: &Structure) -> Result<Prediction> {
        with_predictor!(self, |p| p.predict_structure(structure))
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
        assert_eq!(DeviceSpec::parse("rocm").unwrap(), DeviceSpec::Hip(0));
        assert_eq!(
            " vulkan ".parse::<DeviceSpec>().unwrap(),
            DeviceSpec::Vulkan
        );
        for spec in [DeviceSpec::Cpu, DeviceSpec::Cuda(2), DeviceSpec::Hip(0)] {
            assert_eq!(DeviceSpec::parse(&spec.to_string()).unwrap(), spec);
        }
        for bad in ["gpu", "cuda:x", "cpu:0", "vulkan:1", "", "cuda:-1"] {
            let e = DeviceSpec::parse(bad).unwrap_err();
            assert!(e.0.contains(&format!("device `{bad}`")), "{bad}: {e}");
        }
    }

    /// A backend this build lacks is an error naming the device and the feature; the CPU
    /// opens and predicts what its plain predictor does.
    #[test]
    fn open_on_built_and_missing_backends() {
        use allegro_data::{Species, Structure};
        let config = crate::AllegroConfig::from_json(
            r#"{"type_names": ["H", "O"], "r_max": 4.0, "l_max": 2,
                "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed"}}"#,
        )
        .unwrap();
        let model = AllegroModel::new(&config).unwrap();
        let params = model.init_parameters::<Cpu>(&CpuDevice);
        let file = || ModelFile::from_model(&model, &params, Default::default()).unwrap();
        let cpu = DevicePredictor::open(file(), DeviceSpec::Cpu).unwrap();
        let plain = file().into_predictor::<Cpu>(CpuDevice).unwrap();
        let species = ["O", "H", "H"].map(|s| Species::new(s).unwrap());
        let water = Structure::new(
            species.to_vec(),
            vec![[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]],
            None,
            [false; 3],
        );
        let (a, b) = (
            cpu.predict_structure(&water).unwrap(),
            plain.predict_structure(&water).unwrap(),
        );
        assert_eq!(a.total_energy, b.total_energy);
        assert_eq!(a.forces, b.forces);
        assert!(a.forces.iter().flatten().any(|f| *f != 0.0));
        assert_eq!(cpu.type_names(), ["H", "O"]);
        for spec in [DeviceSpec::Cuda(1), DeviceSpec::Hip(0), DeviceSpec::Vulkan] {
            if spec.is_built() {
                continue;
            }
            let Err(Error::Device(message)) = DevicePredictor::open(file(), spec) else {
                panic!("{spec}: a backend not built opened");
            };
            let feature = spec.feature().unwrap();
            assert!(
                message.contains(&format!("`{spec}`"))
                    && message.contains(&format!("feature `{feature}`")),
                "{message}"
            );
        }
    }
}
