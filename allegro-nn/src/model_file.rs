//! Portable model files (`.allegro`): hyper-parameters, type names, cutoffs and every
//! state tensor of a model, bit-exact in its own dtype.
//!
//! # Layout (all integers little-endian)
//!
//! | offset | size | content |
//! |---|---|---|
//! | 0 | 8 | magic [`MAGIC`] = `b"ALLEGRO\0"` |
//! | 8 | 4 | format version `u32` ([`FORMAT_VERSION`]) |
//! | 12 | 8 | body length `L` in bytes, `u64` |
//! | 20 | `L` | body: postcard encoding of the file's fields (see below) |
//! | 20 + `L` | 4 | CRC-32 (IEEE 802.3, as zlib's `crc32`) of the body, `u32` |
//!
//! The body holds, in this order: the config as nequip-keyed JSON text, the type names,
//! `r_max`, the `T × T` cutoff table (row = center type), the model dtype name, the
//! tensors (name, shape, trainable flag, values as `f32` or `f64`) in name order, and a
//! string-to-string metadata map. The config is JSON inside the body because its
//! per-type values are untagged enums, which a non-self-describing format such as
//! postcard cannot decode; JSON keeps nequip's key names readable too.
//!
//! Loading checks, in order: magic, version (a newer one is refused with both numbers),
//! length, checksum, body, config validation, agreement of type names / cutoffs / dtype
//! with the config, and names and shapes of the tensors against the model the config
//! builds. Every failure is an [`Error::ModelFile`] naming the file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_core::{Backend, DType, HostData, Tensor};
use serde::{Deserialize, Serialize};

use crate::config::{AllegroConfig, RadialChemicalEmbedConfig};
use crate::embedding::CustomRadialEmbedding;
use crate::error::{Error, Result};
use crate::model::AllegroModel;
use crate::model_parts::ModelParts;
use crate::parameters::Parameters;
use crate::predictor::Predictor;

/// First 8 bytes of every model file.
pub const MAGIC: [u8; 8] = *b"ALLEGRO\0";

/// The format version this build writes, and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// Conventional file extension (without the dot).
pub const EXTENSION: &str = "allegro";

/// Bytes before the body: magic, version, body length.
const HEADER_LEN: usize = 8 + 4 + 8;
/// Bytes after the body: the checksum.
const TRAILER_LEN: usize = 4;

/// Values of one tensor in its own dtype.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TensorValues {
    /// `f32` elements.
    F32(Vec<f32>),
    /// `f64` elements.
    F64(Vec<f64>),
}

impl TensorValues {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            TensorValues::F32(v) => v.len(),
            TensorValues::F64(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        match self {
            TensorValues::F32(_) => DType::F32,
            TensorValues::F64(_) => DType::F64,
        }
    }
}

impl From<HostData> for TensorValues {
    fn from(h: HostData) -> Self {
        match h {
            HostData::F32(v) => TensorValues::F32(v),
            HostData::F64(v) => TensorValues::F64(v),
        }
    }
}

impl From<TensorValues> for HostData {
    fn from(v: TensorValues) -> Self {
        match v {
            TensorValues::F32(v) => HostData::F32(v),
            TensorValues::F64(v) => HostData::F64(v),
        }
    }
}

/// One stored state tensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredTensor {
    /// Name as in [`Parameters`] (the reference's `state_dict` name without `model.func.`).
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Whether an optimizer updates it.
    pub trainable: bool,
    /// Values, row-major.
    pub values: TensorValues,
}

/// The postcard body: what [`ModelFile`] holds, with the config as JSON text.
#[derive(Serialize, Deserialize)]
struct Body {
    config_json: String,
    type_names: Vec<String>,
    r_max: f64,
    cutoffs: Vec<f64>,
    model_dtype: String,
    tensors: Vec<StoredTensor>,
    metadata: BTreeMap<String, String>,
}

/// A model file in memory: config, weights and metadata.
///
/// Fields are public for inspection; [`ModelFile::from_bytes`] and
/// [`ModelFile::into_model`] both check that they agree with each other.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFile {
    /// Hyper-parameters (nequip key names).
    pub config: AllegroConfig,
    /// Atom type names, in type-index order (same as `config.type_names`).
    pub type_names: Vec<String>,
    /// Largest cutoff (Å), `config.r_max`.
    pub r_max: f64,
    /// Cutoff of every edge type, `T × T`, row = center type (Å).
    pub cutoffs: Vec<f64>,
    /// Feature dtype of the model.
    pub model_dtype: DType,
    /// Every state tensor, in name order.
    pub tensors: Vec<StoredTensor>,
    /// Free-form metadata (training info, creation time, writer version, ...).
    pub metadata: BTreeMap<String, String>,
    /// Where the file came from, for error messages (not stored).
    source: String,
}

/// Metadata key of the writing crate's version, set by [`ModelFile::from_model`].
pub const META_WRITER: &str = "writer";
/// Metadata key of the creation time (seconds since the Unix epoch).
pub const META_CREATED: &str = "created_unix_s";

/// CRC-32 (reflected polynomial `0xEDB88320`, initial and final XOR `0xFFFFFFFF`), the
/// checksum of zlib, PNG and gzip. Twenty lines here rather than a dependency: the file
/// format needs nothing else from a crate, and it stays checkable against
/// `python3 -c "import zlib; print(zlib.crc32(b'...'))"`.
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |c, &b| {
        TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8)
    })
}

fn file_error(source: &str, message: impl Into<String>) -> Error {
    Error::ModelFile {
        path: source.to_string(),
        message: message.into(),
    }
}

/// Checks `tensors` against the parameters `model` expects: same names, same shapes.
fn check_tensors<B: Backend>(
    tensors: &[StoredTensor],
    expected: &Parameters<B>,
    source: &str,
) -> Result<()> {
    let stored: BTreeMap<&str, &StoredTensor> =
        tensors.iter().map(|t| (t.name.as_str(), t)).collect();
    if stored.len() != tensors.len() {
        return Err(file_error(source, "a tensor name appears twice"));
    }
    for (name, entry) in expected.iter() {
        let t = stored.get(name).ok_or_else(|| {
            file_error(
                source,
                format!("tensor `{name}` required by the config is missing"),
            )
        })?;
        if t.shape != entry.tensor.shape() {
            return Err(file_error(
                source,
                format!(
                    "tensor `{name}` has shape {:?}, the config gives {:?}",
                    t.shape,
                    entry.tensor.shape()
                ),
            ));
        }
    }
    if let Some(extra) = tensors.iter().find(|t| expected.entry(&t.name).is_none()) {
        return Err(file_error(
            source,
            format!("tensor `{}` is not a parameter of this config", extra.name),
        ));
    }
    Ok(())
}

impl ModelFile {
    /// The file of `model` with weights `params`; `metadata` is stored as given, plus
    /// [`META_WRITER`] and [`META_CREATED`] unless it sets them.
    ///
    /// Fails when `params` does not hold exactly the tensors `model` expects (names
    /// and shapes), so a file that could not be loaded is never written.
    pub fn from_model<B: Backend>(
        model: &AllegroModel,
        params: &Parameters<B>,
        metadata: BTreeMap<String, String>,
    ) -> Result<ModelFile> {
        let source = "<model being saved>";
        let config = model.config().clone();
        let cutoffs = config.cutoff_table()?;
        let tensors: Vec<StoredTensor> = params
            .iter()
            .map(|(name, p)| StoredTensor {
                name: name.to_string(),
                shape: p.tensor.shape().to_vec(),
                trainable: p.trainable,
                values: p.tensor.to_host().into(),
            })
            .collect();
        check_tensors(&tensors, &model.init_parameters::<Cpu>(&CpuDevice), source)?;
        let mut metadata = metadata;
        metadata
            .entry(META_WRITER.to_string())
            .or_insert_with(|| format!("allegro-nn {}", env!("CARGO_PKG_VERSION")));
        if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            metadata
                .entry(META_CREATED.to_string())
                .or_insert_with(|| t.as_secs().to_string());
        }
        Ok(ModelFile {
            type_names: config.type_names.clone(),
            r_max: config.r_max,
            cutoffs,
            model_dtype: model.dtype(),
            config,
            tensors,
            metadata,
            source: source.to_string(),
        })
    }

    /// The file's bytes (header, postcard body, checksum).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let config_json = serde_json::to_string(&self.config)
            .map_err(|e| file_error(&self.source, format!("config: {e}")))?;
        let body = Body {
            config_json,
            type_names: self.type_names.clone(),
            r_max: self.r_max,
            cutoffs: self.cutoffs.clone(),
            model_dtype: self.model_dtype.name().to_string(),
            tensors: self.tensors.clone(),
            metadata: self.metadata.clone(),
        };
        let body = postcard::to_stdvec(&body)
            .map_err(|e| file_error(&self.source, format!("encoding: {e}")))?;
        let mut out = Vec::with_capacity(HEADER_LEN + body.len() + TRAILER_LEN);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_le_bytes());
        Ok(out)
    }

    /// Writes the file atomically: a temporary file in the same directory, flushed to
    /// disk, then renamed over `path` (readers never see a partial file).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let bytes = self.to_bytes()?;
        let name = path
            .file_name()
            .ok_or_else(|| file_error(&shown, "not a file path"))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = dir.join(format!(
            ".{}.tmp-{}-{nanos}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            file_error(&shown, format!("cannot write: {e}"))
        })
    }

    /// Reads and checks a model file.
    pub fn load(path: impl AsRef<Path>) -> Result<ModelFile> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let bytes =
            std::fs::read(path).map_err(|e| file_error(&shown, format!("cannot read: {e}")))?;
        Self::decode(&bytes, &shown)
    }

    /// Decodes and checks the bytes of a model file (errors name it `<bytes>`).
    pub fn from_bytes(bytes: &[u8]) -> Result<ModelFile> {
        Self::decode(bytes, "<bytes>")
    }

    fn decode(bytes: &[u8], source: &str) -> Result<ModelFile> {
        let truncated = |need: usize| {
            file_error(
                source,
                format!("truncated: {} bytes, at least {need} expected", bytes.len()),
            )
        };
        if bytes.len() < MAGIC.len() {
            return Err(if MAGIC.starts_with(bytes) {
                truncated(HEADER_LEN + TRAILER_LEN)
            } else {
                foreign(bytes, source)
            });
        }
        if bytes[..8] != MAGIC {
            return Err(foreign(bytes, source));
        }
        if bytes.len() < 12 {
            return Err(truncated(HEADER_LEN + TRAILER_LEN));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version > FORMAT_VERSION {
            return Err(file_error(
                source,
                format!(
                    "written by a newer allegro-rs: format {version}, this build reads up to {FORMAT_VERSION}"
                ),
            ));
        }
        if version == 0 {
            return Err(file_error(source, "corrupted: format version 0"));
        }
        if bytes.len() < HEADER_LEN {
            return Err(truncated(HEADER_LEN + TRAILER_LEN));
        }
        let body_len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
        let total = usize::try_from(body_len)
            .ok()
            .and_then(|l| l.checked_add(HEADER_LEN + TRAILER_LEN))
            .ok_or_else(|| file_error(source, format!("corrupted: body length {body_len}")))?;
        if bytes.len() < total {
            return Err(truncated(total));
        }
        if bytes.len() > total {
            return Err(file_error(
                source,
                format!(
                    "corrupted: {} bytes after the end the header announces ({total} bytes)",
                    bytes.len() - total
                ),
            ));
        }
        let body = &bytes[HEADER_LEN..total - TRAILER_LEN];
        let stored = u32::from_le_bytes(bytes[total - TRAILER_LEN..].try_into().expect("4 bytes"));
        let computed = crc32(body);
        if stored != computed {
            return Err(file_error(
                source,
                format!("corrupted: checksum {computed:08x} of the body, {stored:08x} stored"),
            ));
        }
        let body: Body = postcard::from_bytes(body)
            .map_err(|e| file_error(source, format!("corrupted body: {e}")))?;
        let config: AllegroConfig = serde_json::from_str(&body.config_json)
            .map_err(|e| file_error(source, format!("config: {e}")))?;
        let model_dtype: DType = body.model_dtype.parse().map_err(|_| {
            file_error(
                source,
                format!("unknown model dtype `{}`", body.model_dtype),
            )
        })?;
        let file = ModelFile {
            config,
            type_names: body.type_names,
            r_max: body.r_max,
            cutoffs: body.cutoffs,
            model_dtype,
            tensors: body.tensors,
            metadata: body.metadata,
            source: source.to_string(),
        };
        // A model with parts of one's own is checked when it is built (`into_model*`:
        // the parts are passed or registered by then); every other model is checked now.
        if !file.names_custom_parts() {
            file.check_model::<Cpu>(&CpuDevice, &ModelParts::new())?;
        }
        Ok(file)
    }

    /// Whether the config names a part written outside these crates (a custom radial
    /// embedding or tensor product), which the program must pass or register.
    pub fn names_custom_parts(&self) -> bool {
        matches!(
            self.config.radial_chemical_embed,
            RadialChemicalEmbedConfig::Custom { .. }
        ) || self.config.tensor_product.is_some()
    }

    /// The model the config builds, after checking that the other fields agree with it.
    fn check_model<B: Backend>(
        &self,
        device: &B::Device,
        parts: &ModelParts,
    ) -> Result<(AllegroModel, Parameters<B>)> {
        let src = self.source.as_str();
        let model = AllegroModel::build(&self.config, parts)
            .map_err(|e| file_error(src, format!("invalid config: {e}")))?;
        if self.type_names != self.config.type_names {
            return Err(file_error(
                src,
                format!(
                    "type names {:?} differ from the config's {:?}",
                    self.type_names, self.config.type_names
                ),
            ));
        }
        if self.r_max.to_bits() != self.config.r_max.to_bits() {
            return Err(file_error(
                src,
                format!(
                    "r_max {} differs from the config's {}",
                    self.r_max, self.config.r_max
                ),
            ));
        }
        let table = self.config.cutoff_table()?;
        if self.cutoffs.len() != table.len()
            || self
                .cutoffs
                .iter()
                .zip(&table)
                .any(|(a, b)| a.to_bits() != b.to_bits())
        {
            return Err(file_error(
                src,
                "per-edge-type cutoffs differ from the config's per_edge_type_cutoff",
            ));
        }
        if self.model_dtype != model.dtype() {
            return Err(file_error(
                src,
                format!(
                    "model dtype {} differs from the config's {}",
                    self.model_dtype,
                    model.dtype()
                ),
            ));
        }
        // Checked product: a damaged shape must not overflow.
        if let Some(t) = self.tensors.iter().find(|t| {
            t.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) != Some(t.values.len())
        }) {
            return Err(file_error(
                src,
                format!(
                    "tensor `{}` has {} values for shape {:?}",
                    t.name,
                    t.values.len(),
                    t.shape
                ),
            ));
        }
        let expected = model.init_parameters::<B>(device);
        check_tensors(&self.tensors, &expected, src)?;
        Ok((model, expected))
    }

    /// The model and its weights on `device`, each tensor in its stored dtype with its
    /// stored bits and trainable flag. Parts of one's own that the config names come
    /// from the [`registry`](crate::registry) (an error names an unregistered one).
    pub fn into_model<B: Backend>(
        self,
        device: &B::Device,
    ) -> Result<(AllegroModel, Parameters<B>)> {
        self.into_model_with_parts(device, &ModelParts::new())
    }

    /// [`ModelFile::into_model`] for a model saved with a user-defined radial embedding
    /// ([`AllegroModel::with_radial_embedding`]): `part` must have the name and settings
    /// the file records.
    pub fn into_model_with<B: Backend, E: CustomRadialEmbedding>(
        self,
        device: &B::Device,
        part: E,
    ) -> Result<(AllegroModel, Parameters<B>)> {
        self.into_model_with_parts(device, &ModelParts::new().with_radial_embedding(part))
    }

    /// [`ModelFile::into_model`] with parts of one's own ([`AllegroModel::with_parts`]):
    /// each part the file names is the one passed, if its name and settings agree, else
    /// a registered one.
    pub fn into_model_with_parts<B: Backend>(
        self,
        device: &B::Device,
        parts: &ModelParts,
    ) -> Result<(AllegroModel, Parameters<B>)> {
        let (model, _) = self.check_model::<B>(device, parts)?;
        let mut params = Parameters::new();
        for t in self.tensors {
            let tensor = Tensor::from_host(t.values.into(), &t.shape, device)?;
            params.insert(&t.name, tensor, t.trainable);
        }
        Ok((model, params))
    }

    /// A [`Predictor`] of the stored model on `device`.
    pub fn into_predictor<B: Backend>(self, device: B::Device) -> Result<Predictor<B>> {
        let (model, params) = self.into_model::<B>(&device)?;
        Ok(Predictor::new(model, &params, device))
    }

    /// [`ModelFile::into_predictor`] for a model saved with a user-defined radial
    /// embedding (see [`ModelFile::into_model_with`]).
    pub fn into_predictor_with<B: Backend, E: CustomRadialEmbedding>(
        self,
        device: B::Device,
        part: E,
    ) -> Result<Predictor<B>> {
        let (model, params) = self.into_model_with::<B, E>(&device, part)?;
        Ok(Predictor::new(model, &params, device))
    }

    /// [`ModelFile::into_predictor`] with parts of one's own (see
    /// [`ModelFile::into_model_with_parts`]).
    pub fn into_predictor_with_parts<B: Backend>(
        self,
        device: B::Device,
        parts: &ModelParts,
    ) -> Result<Predictor<B>> {
        let (model, params) = self.into_model_with_parts::<B>(&device, parts)?;
        Ok(Predictor::new(model, &params, device))
    }

    /// Where the file came from (a path, or `<bytes>`).
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// The error for bytes that are not a model file, with a hint for common look-alikes.
fn foreign(bytes: &[u8], source: &str) -> Error {
    let head = &bytes[..bytes.len().min(8)];
    let hint = match head.first() {
        Some(b'{') => {
            " (looks like JSON: a fixture-layout file loads with `allegro_nn::import::load_reference_json`)"
        }
        Some(b'P') if head.starts_with(b"PK") => {
            " (looks like a zip archive, e.g. a `.nequip.zip` package: convert it with tools/export_nequip.py)"
        }
        _ => "",
    };
    file_error(
        source,
        format!(
            "not an allegro-rs model file: starts with {head:02x?}, expected {:02x?}{hint}",
            MAGIC
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_zlib() {
        // zlib.crc32(b"123456789") == 0xCBF43926 (the standard check value).
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}
