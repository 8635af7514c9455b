//! Model hyper-parameters, with nequip-allegro's key names and defaults
//! (`allegro/model/allegro_models.py::FullAllegroModel`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Result, config_error};
use crate::nonlinearity::Nonlinearity;

/// A number for every type, or one per type name (nequip accepts a float, a list in
/// `type_names` order, or a dict keyed by type name).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerTypeValue {
    /// The same value for every type.
    One(f64),
    /// One value per type, in `type_names` order.
    List(Vec<f64>),
    /// One value per type name.
    Map(BTreeMap<String, f64>),
}

impl PerTypeValue {
    /// One value per type, in `type_names` order; `key` names the config entry in errors.
    pub fn per_type(&self, type_names: &[String], key: &str) -> Result<Vec<f64>> {
        match self {
            PerTypeValue::One(v) => Ok(vec![*v; type_names.len()]),
            PerTypeValue::List(v) if v.len() == type_names.len() => Ok(v.clone()),
            PerTypeValue::List(v) => Err(config_error(
                key,
                format!("{} values for {} types", v.len(), type_names.len()),
            )),
            PerTypeValue::Map(m) => {
                if let Some(unknown) = m.keys().find(|k| !type_names.contains(k)) {
                    return Err(config_error(
                        key,
                        format!("`{unknown}` is not in type_names"),
                    ));
                }
                type_names
                    .iter()
                    .map(|t| {
                        m.get(t)
                            .copied()
                            .ok_or_else(|| config_error(key, format!("no value for type `{t}`")))
                    })
                    .collect()
            }
        }
    }

    /// Whether one number applies to all types.
    pub fn is_single(&self) -> bool {
        matches!(self, PerTypeValue::One(_))
    }
}

/// The two-body radial-chemical scalar embedding (`radial_chemical_embed`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "_target_", deny_unknown_fields)]
pub enum RadialChemicalEmbedConfig {
    /// `allegro.nn.TwoBodyBesselScalarEmbed`: Bessel basis × polynomial envelope, times
    /// a product of type embeddings.
    #[serde(rename = "allegro.nn.TwoBodyBesselScalarEmbed")]
    Bessel {
        /// Number of Bessel functions.
        #[serde(default = "default_num_bessels")]
        num_bessels: usize,
        /// Whether the Bessel frequencies are trained.
        #[serde(default)]
        bessel_trainable: bool,
        /// Power `p` of the polynomial envelope.
        #[serde(default = "default_cutoff_p")]
        polynomial_cutoff_p: f64,
    },
    /// `allegro.nn.TwoBodySplineScalarEmbed`: per-edge-type splines.
    #[serde(rename = "allegro.nn.TwoBodySplineScalarEmbed")]
    Spline {
        /// Number of spline basis functions.
        #[serde(default = "default_num_splines")]
        num_splines: usize,
        /// Span of each spline in grid units.
        #[serde(default = "default_spline_span")]
        spline_span: usize,
    },
    /// A user-defined embedding ([`crate::embedding::CustomRadialEmbedding`]), recorded
    /// by name and settings: such a model is built with
    /// [`AllegroModel::with_radial_embedding`](crate::AllegroModel::with_radial_embedding)
    /// and the part itself, never from the config alone.
    #[serde(rename = "custom")]
    Custom {
        /// The part's name.
        name: String,
        /// The part's settings.
        #[serde(default)]
        settings: serde_json::Value,
    },
}

/// A part written outside these crates, as a config records it: its name and settings
/// (the layer's tensor product, `tensor_product`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPartConfig {
    /// The part's name.
    pub name: String,
    /// The part's settings.
    #[serde(default)]
    pub settings: serde_json::Value,
}

/// An optional pair potential added to the per-atom energies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "_target_", deny_unknown_fields)]
pub enum PairPotentialConfig {
    /// `nequip.nn.pair_potential.ZBL`: screened nuclear repulsion.
    #[serde(rename = "nequip.nn.pair_potential.ZBL")]
    Zbl {
        /// `metal` (eV, Å) or `real` (kcal/mol, Å).
        units: String,
        /// Chemical symbol of each type, in `type_names` order.
        chemical_species: Vec<String>,
        /// Power of the ZBL envelope.
        #[serde(default = "default_cutoff_p")]
        polynomial_cutoff_p: f64,
    },
}

/// Per-edge-type cutoffs: `{A: r}` sets every A→* entry, `{A: {B: r}}` sets A→B only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CutoffEntry {
    /// The cutoff of every edge whose center has this type.
    All(f64),
    /// Cutoffs by neighbor type.
    ByNeighbor(BTreeMap<String, f64>),
}

fn default_num_bessels() -> usize {
    8
}
fn default_cutoff_p() -> f64 {
    6.0
}
fn default_num_splines() -> usize {
    16
}
fn default_spline_span() -> usize {
    12
}
fn default_true() -> bool {
    true
}
fn default_one() -> usize {
    1
}
fn default_dtype() -> String {
    "float32".to_string()
}
fn default_silu() -> Option<String> {
    Some("silu".to_string())
}
fn default_64() -> usize {
    64
}
fn default_two() -> usize {
    2
}
fn default_sixteen() -> usize {
    16
}
fn default_32() -> usize {
    32
}

/// Hyper-parameters of an Allegro model, as in a nequip config's `model:` block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllegroConfig {
    /// Seed of the weight initialisation.
    #[serde(default)]
    pub seed: u64,
    /// `float32` or `float64`: dtype of the features (geometry is always float64).
    #[serde(default = "default_dtype")]
    pub model_dtype: String,
    /// Names of the atom types (chemical symbols when ZBL is used).
    pub type_names: Vec<String>,
    /// Cutoff radius in Å.
    pub r_max: f64,
    /// Optional smaller cutoffs per edge type.
    #[serde(default)]
    pub per_edge_type_cutoff: Option<BTreeMap<String, CutoffEntry>>,
    /// The two-body scalar embedding.
    pub radial_chemical_embed: RadialChemicalEmbedConfig,
    /// Output dimension of the radial-chemical embedding (default: `num_scalar_features`).
    #[serde(default)]
    pub radial_chemical_embed_dim: Option<usize>,
    /// Hidden layers of the scalar embedding MLP.
    #[serde(default = "default_one")]
    pub scalar_embed_mlp_hidden_layers_depth: usize,
    /// Width of those hidden layers.
    #[serde(default = "default_64")]
    pub scalar_embed_mlp_hidden_layers_width: usize,
    /// Nonlinearity of the scalar embedding MLP.
    #[serde(default = "default_silu")]
    pub scalar_embed_mlp_nonlinearity: Option<String>,
    /// Largest spherical-harmonic degree (1 to 3).
    pub l_max: usize,
    /// Whether odd-parity features are kept.
    #[serde(default = "default_true")]
    pub parity: bool,
    /// Whether tensor-product weights are per channel and path (`[U, P]`) or per path.
    #[serde(default = "default_true")]
    pub tp_path_channel_coupling: bool,
    /// Forward-normalised MLP weights (`α = gain/√fan_in`).
    #[serde(default = "default_true")]
    pub forward_normalize: bool,
    /// Number of Allegro layers.
    #[serde(default = "default_two")]
    pub num_layers: usize,
    /// Width `S` of the scalar latent.
    #[serde(default = "default_64")]
    pub num_scalar_features: usize,
    /// Channels `U` of the tensor track.
    #[serde(default = "default_sixteen")]
    pub num_tensor_features: usize,
    /// Hidden layers of each layer's latent MLP.
    #[serde(default = "default_one")]
    pub allegro_mlp_hidden_layers_depth: usize,
    /// Width of those hidden layers.
    #[serde(default = "default_64")]
    pub allegro_mlp_hidden_layers_width: usize,
    /// Nonlinearity of the latent MLPs.
    #[serde(default = "default_silu")]
    pub allegro_mlp_nonlinearity: Option<String>,
    /// Hidden layers of the edge-energy readout MLP.
    #[serde(default = "default_one")]
    pub readout_mlp_hidden_layers_depth: usize,
    /// Width of those hidden layers.
    #[serde(default = "default_32")]
    pub readout_mlp_hidden_layers_width: usize,
    /// Nonlinearity of the readout MLP.
    #[serde(default = "default_silu")]
    pub readout_mlp_nonlinearity: Option<String>,
    /// Mean number of neighbors (one number or per type); sums over neighbors are
    /// divided by its square root. Absent: no normalisation.
    #[serde(default)]
    pub avg_num_neighbors: Option<PerTypeValue>,
    /// Per-type energy shifts (added after scaling).
    #[serde(default)]
    pub per_type_energy_shifts: Option<PerTypeValue>,
    /// Per-type energy scales.
    #[serde(default)]
    pub per_type_energy_scales: Option<PerTypeValue>,
    /// Whether the scales are trained.
    #[serde(default)]
    pub per_type_energy_scales_trainable: bool,
    /// Whether the shifts are trained.
    #[serde(default)]
    pub per_type_energy_shifts_trainable: bool,
    /// Optional pair potential.
    #[serde(default)]
    pub pair_potential: Option<PairPotentialConfig>,
    /// A custom tensor product in place of Allegro's contraction in every layer
    /// ([`crate::tensor_product_custom::CustomTensorProduct`]); absent: Allegro's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor_product: Option<CustomPartConfig>,
}

impl AllegroConfig {
    /// Parses a config from JSON text, naming the offending key on error.
    pub fn from_json(text: &str) -> Result<Self> {
        let cfg: AllegroConfig =
            serde_json::from_str(text).map_err(|e| config_error("model", e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Output dimension `D` of the radial-chemical embedding.
    pub fn embed_dim(&self) -> usize {
        self.radial_chemical_embed_dim
            .unwrap_or(self.num_scalar_features)
    }

    /// Feature dtype.
    pub fn dtype(&self) -> Result<allegro_core::DType> {
        self.model_dtype.parse().map_err(|_| {
            config_error(
                "model_dtype",
                format!("`{}` (expected float32 or float64)", self.model_dtype),
            )
        })
    }

    /// Checks values the types cannot express.
    pub fn validate(&self) -> Result<()> {
        if self.type_names.is_empty() {
            return Err(config_error("type_names", "no types"));
        }
        if !(self.r_max > 0.0 && self.r_max.is_finite()) {
            return Err(config_error(
                "r_max",
                format!("{} is not a positive length", self.r_max),
            ));
        }
        if !(1..=3).contains(&self.l_max) {
            return Err(config_error(
                "l_max",
                format!("{} (supported: 1 to 3)", self.l_max),
            ));
        }
        if self.num_layers == 0 {
            return Err(config_error("num_layers", "at least one layer"));
        }
        if !self.embed_dim().is_multiple_of(2)
            && matches!(
                self.radial_chemical_embed,
                RadialChemicalEmbedConfig::Bessel { .. }
            )
        {
            return Err(config_error(
                "radial_chemical_embed_dim",
                "must be even (two type embeddings)",
            ));
        }
        self.dtype()?;
        for (key, v) in [
            (
                "scalar_embed_mlp_nonlinearity",
                &self.scalar_embed_mlp_nonlinearity,
            ),
            ("allegro_mlp_nonlinearity", &self.allegro_mlp_nonlinearity),
            ("readout_mlp_nonlinearity", &self.readout_mlp_nonlinearity),
        ] {
            Nonlinearity::parse(v.as_deref()).map_err(|m| config_error(key, m))?;
        }
        Ok(())
    }

    /// The `T × T` table of cutoffs (row = center type), from `per_edge_type_cutoff`.
    pub fn cutoff_table(&self) -> Result<Vec<f64>> {
        let t = self.type_names.len();
        let mut table = vec![self.r_max; t * t];
        let Some(map) = &self.per_edge_type_cutoff else {
            return Ok(table);
        };
        let index = |name: &str| {
            self.type_names
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| {
                    config_error(
                        "per_edge_type_cutoff",
                        format!("`{name}` is not in type_names"),
                    )
                })
        };
        let check = |r: f64| {
            if r > 0.0 && r <= self.r_max {
                Ok(r)
            } else {
                Err(config_error(
                    "per_edge_type_cutoff",
                    format!("{r} is not in (0, r_max = {}]", self.r_max),
                ))
            }
        };
        for (center, entry) in map {
            let i = index(center)?;
            match entry {
                CutoffEntry::All(r) => {
                    let r = check(*r)?;
                    table[i * t..(i + 1) * t].iter_mut().for_each(|c| *c = r);
                }
                CutoffEntry::ByNeighbor(m) => {
                    for (neighbor, r) in m {
                        table[i * t + index(neighbor)?] = check(*r)?;
                    }
                }
            }
        }
        Ok(table)
    }
}
