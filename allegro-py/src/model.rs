//! `allegro.Model`: a `.allegro` file loaded on a device, evaluated on one structure or
//! a batch of them in one model pass.

use std::path::PathBuf;

use allegro_data::{AtomicGraph, Origin, Structure, TypeMapper};
use allegro_nn::EnergyModel;
use allegro_nn::device::{DevicePredictor, DeviceSpec};
use allegro_nn::model_file::ModelFile;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{self, PyStructure};
use crate::device::{open_on, parse_device};
use crate::error::{engine_error, guard, os_error};

/// A trained Allegro model (a `.allegro` file) with its weights on a device.
///
/// `Model(path, device="cpu")`; `device` is `"cpu"`, `"cuda"`/`"cuda:N"`, `"hip"` or
/// `"vulkan"` where the wheel was built with that backend. Atoms are typed by chemical
/// symbol: the model's type names are element symbols. `compute` evaluates one
/// structure, `compute_batch` several in one model pass; both release the GIL while the
/// engine runs. The ASE calculator `allegro.AllegroCalculator` is built on this class.
#[pyclass(module = "allegro", name = "Model", frozen)]
pub struct Model {
    predictor: DevicePredictor,
    /// Types by chemical symbol, in model order.
    mapper: TypeMapper,
    path: PathBuf,
    device: DeviceSpec,
}

#[pymethods]
impl Model {
    /// Loads the model file at `path` onto `device`.
    #[new]
    #[pyo3(signature = (path, device = "cpu"))]
    fn new(py: Python<'_>, path: PathBuf, device: &str) -> PyResult<Self> {
        let spec = parse_device(device)?;
        let shown = path.display().to_string();
        py.detach(|| {
            guard(|| {
                // A missing or unreadable file is Python's OSError (FileNotFoundError …,
                // naming the file); what the file holds is checked by ModelFile::load.
                let meta = std::fs::metadata(&path).map_err(|e| os_error(&e, &shown))?;
                if meta.is_dir() {
                    let e = std::io::Error::from_raw_os_error(21); // EISDIR
                    return Err(os_error(&e, &shown));
                }
                let file = ModelFile::load(&path).map_err(engine_error)?;
                let mapper = TypeMapper::new(&file.type_names).map_err(|e| {
                    crate::error::ModelFileError::new_err(format!("model file {shown}: {e}"))
                })?;
                let predictor = open_on(file, spec)?;
                Ok(Model {
                    predictor,
                    mapper,
                    path,
                    device: spec,
                })
            })
        })
    }

    /// The model's type names (chemical symbols), in model order.
    #[getter]
    fn type_names(&self) -> Vec<String> {
        self.mapper.type_names().to_vec()
    }

    /// The cutoff radius (Å): the neighbor-list radius.
    #[getter]
    fn r_max(&self) -> f64 {
        self.predictor.model().config().r_max
    }

    /// The dtype of the model's features: `"float32"` or `"float64"` (results are
    /// float64 either way).
    #[getter]
    fn dtype(&self) -> &'static str {
        self.predictor.model().dtype().name()
    }

    /// Where the model runs (`"cpu"`, `"cuda:0"` …).
    #[getter]
    fn device(&self) -> String {
        self.device.to_string()
    }

    /// The file the model was loaded from.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Energy, per-atom energies, forces, virial and (periodic systems) stress of one
    /// structure: `numbers` `[N]` (int64 atomic numbers), `positions` `[N, 3]` (float64,
    /// Å), `cell` `[3, 3]` (rows = lattice vectors; `None` or zeros: no cell), `pbc` three
    /// booleans (`None`: periodic wherever there is a cell). Returns a dict with
    /// `energy`, `energies`, `forces`, `virial` and, when periodic, `stress` (3 × 3,
    /// eV/Å³, ASE's sign).
    #[pyo3(signature = (numbers, positions, cell = None, pbc = None))]
    fn compute<'py>(
        &self,
        py: Python<'py>,
        numbers: numpy::PyReadonlyArray1<'py, i64>,
        positions: numpy::PyReadonlyArray2<'py, f64>,
        cell: Option<numpy::PyReadonlyArray2<'py, f64>>,
        pbc: Option<[bool; 3]>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let s = convert::structure(&(numbers, positions, cell, pbc), &self.mapper, "")?;
        let n = s.n_atoms();
        let p = py.detach(|| {
            guard(|| {
                // On a GPU the neighbor list is found there (the same edges as the CPU's).
                self.predictor.predict_structure(&s).map_err(engine_error)
            })
        })?;
        convert::results(py, &p, 0, 0..n)
    }

    /// [`Model::compute`] of each structure of `structures`, a list of
    /// `(numbers, positions, cell, pbc)` tuples, evaluated as one batched graph in one
    /// model pass. Returns one dict per structure, in order.
    fn compute_batch<'py>(
        &self,
        py: Python<'py>,
        structures: Vec<PyStructure<'py>>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let frames = structures
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let mut s = convert::structure(s, &self.mapper, &format!("structure {k}: "))?;
                s.origin = Some(Origin {
                    source: "<batch>".into(),
                    frame: k,
                    line: 0,
                });
                Ok(s)
            })
            .collect::<PyResult<Vec<Structure>>>()?;
        if frames.is_empty() {
            return Ok(Vec::new());
        }
        let (p, frame_ptr) = py.detach(|| {
            guard(|| {
                // Each structure's own neighbor list, then the disjoint union: one graph,
                // one model pass.
                let graphs = frames
                    .iter()
                    .map(|s| self.predictor.graph_of(s))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(engine_error)?;
                let graph = AtomicGraph::batch(&graphs);
                let p = self.predictor.predict(&graph).map_err(engine_error)?;
                Ok((p, graph.frame_ptr))
            })
        })?;
        (0..frames.len())
            .map(|f| convert::results(py, &p, f, frame_ptr[f]..frame_ptr[f + 1]))
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "Model({:?}, device={:?}, type_names={:?}, dtype={:?}, r_max={})",
            self.path.display().to_string(),
            self.device.to_string(),
            self.mapper.type_names(),
            self.dtype(),
            self.r_max()
        )
    }
}
