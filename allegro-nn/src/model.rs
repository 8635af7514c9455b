//! `AllegroModel`: the architecture built from a config, applied to any parameter set.

use allegro_core::e3::{AllegroTensorTrack, Irreps, ShNormalization, SphericalHarmonics};
use allegro_core::{Backend, DType, SplitMix64, Tensor};

use crate::config::{AllegroConfig, PairPotentialConfig, RadialChemicalEmbedConfig};
use crate::embedding::{
    BesselEmbedding, CustomRadialEmbedding, RadialChemicalEmbed, RadialChemicalEmbedding,
    SplineEmbedding, TensorEmbedding, WeightedChannels,
};
use crate::error::{Result, config_error};
use crate::inputs::ModelInputs;
use crate::layer::{AllegroLayer, EdgeState};
use crate::mlp::ScalarMlp;
use crate::model_parts::ModelParts;
use crate::nonlinearity::Nonlinearity;
use crate::pair::{PairPotential, Zbl};
use crate::parameters::Parameters;
use crate::scale_shift::{SCALES, SHIFTS, ScaleShift};
use crate::tensor_product_custom::{LayerProduct, TensorProductSite};
use crate::tensor_product_fused::FusedTensorProduct;

/// An Allegro model's architecture and constants (no weights: those are a
/// [`Parameters`] set, so one model runs with trained, EMA or tracked weights).
#[derive(Clone, Debug)]
pub struct AllegroModel {
    config: AllegroConfig,
    dtype: DType,
    /// `1/r_c` per edge type (`T·T`, row = center type).
    rmax_recip: Vec<f64>,
    sh: SphericalHarmonics,
    weighted: WeightedChannels,
    radial: RadialChemicalEmbed,
    scalar_mlp: ScalarMlp,
    tensor_embed: TensorEmbedding,
    first_projection: ScalarMlp,
    layers: Vec<AllegroLayer>,
    readout: ScalarMlp,
    /// `1/√avg_num_neighbors` per type.
    env_norm: Option<Vec<f64>>,
    scale_shift: ScaleShift,
    zbl: Option<Zbl>,
}

/// Components of `prev` that make up `next` (each irrep of `next` looked up in `prev`),
/// or `None` when they are the same.
fn component_selection(prev: &Irreps, next: &Irreps) -> Option<Vec<u32>> {
    if prev == next {
        return None;
    }
    let slices = prev.slices();
    let mut out = Vec::new();
    for entry in next.iter() {
        let k = prev
            .iter()
            .position(|p| p.ir == entry.ir)
            .expect("pruned irreps come from the previous layer");
        out.extend(slices[k].clone().map(|c| c as u32));
    }
    Some(out)
}

fn nonlinearity(key: &str, v: &Option<String>) -> Result<Option<Nonlinearity>> {
    Nonlinearity::parse(v.as_deref()).map_err(|m| config_error(key, m))
}

impl AllegroModel {
    /// Builds the architecture, checking the config. A config that names parts of
    /// one's own finds them in the [`registry`](crate::registry).
    pub fn new(config: &AllegroConfig) -> Result<Self> {
        Self::build(config, &ModelParts::new())
    }

    /// Builds the architecture with a user-defined radial-chemical embedding in place of
    /// the config's (see [`AllegroModel::with_parts`]).
    pub fn with_radial_embedding<E: CustomRadialEmbedding>(
        config: &AllegroConfig,
        embedding: E,
    ) -> Result<Self> {
        Self::with_parts(config, ModelParts::new().with_radial_embedding(embedding))
    }

    /// Builds the architecture with parts of one's own in place of the config's; the
    /// model's config then records each part's name and settings (checkpoints and model
    /// files carry them, and a saved model is rebuilt only with equal parts: passed
    /// again, or registered by name in the [`registry`](crate::registry)). Everything
    /// downstream — the trainer, the predictor, model files — works with them unchanged;
    /// the no-tape inference path has no kernels for a custom tensor product, so a
    /// [`Predictor`](crate::Predictor) evaluates such a model on the tape.
    pub fn with_parts(config: &AllegroConfig, parts: ModelParts) -> Result<Self> {
        Self::build(&parts.recorded_in(config), &parts)
    }

    /// The architecture of `config`; the parts it names come from `parts`, else the
    /// registry.
    pub(crate) fn build(config: &AllegroConfig, parts: &ModelParts) -> Result<Self> {
        config.validate()?;
        let c = config;
        let dtype = c.dtype()?;
        let (s, u, layers_n) = (c.num_scalar_features, c.num_tensor_features, c.num_layers);
        let rmax_recip = c.cutoff_table()?.iter().map(|r| 1.0 / r).collect();
        let track = AllegroTensorTrack::new(c.l_max, c.parity, layers_n)?;
        let sh = SphericalHarmonics::new(c.l_max, ShNormalization::Component, true);
        let weighted = WeightedChannels::new(&track.sh, u);
        let radial = radial_embed(c, parts)?;
        let fwd = c.forward_normalize;
        let scalar_mlp = ScalarMlp::new(
            "scalar_embed_mlp.mlp_module",
            radial.output_dim(),
            c.scalar_embed_mlp_hidden_layers_depth,
            c.scalar_embed_mlp_hidden_layers_width,
            s,
            nonlinearity(
                "scalar_embed_mlp_nonlinearity",
                &c.scalar_embed_mlp_nonlinearity,
            )?,
            fwd,
        );
        let tensor_embed = TensorEmbedding::new(s, weighted.clone());
        let first_projection = ScalarMlp::linear(
            "allegro.first_layer_env_embed_projection",
            s,
            s + weighted.weight_numel(),
        );
        let latent_nl = nonlinearity("allegro_mlp_nonlinearity", &c.allegro_mlp_nonlinearity)?;
        let mut layers = Vec::with_capacity(layers_n);
        for k in 0..layers_n {
            let last = k + 1 == layers_n;
            let contraction = track.contraction(k)?;
            let tp = match &c.tensor_product {
                None => LayerProduct::Allegro(FusedTensorProduct::new(
                    &format!("allegro.tps.{k}"),
                    &contraction,
                    u,
                    c.tp_path_channel_coupling,
                )),
                Some(wanted) => LayerProduct::Custom {
                    part: parts.tensor_product(wanted)?,
                    site: Box::new(TensorProductSite::new(
                        k,
                        contraction,
                        u,
                        c.tp_path_channel_coupling,
                    )),
                },
            };
            let out = if last { s } else { s + weighted.weight_numel() };
            let latent = ScalarMlp::new(
                &format!("allegro.latents.{k}"),
                s * (k + 1) + u,
                c.allegro_mlp_hidden_layers_depth,
                c.allegro_mlp_hidden_layers_width,
                out,
                latent_nl,
                fwd,
            );
            let prev = if k == 0 {
                &track.sh
            } else {
                &track.layer_out[k - 1]
            };
            let select = component_selection(prev, &track.layer_in[k]);
            layers.push(AllegroLayer::new(last, s, select, tp, latent));
        }
        let readout = ScalarMlp::new(
            "edge_readout.mlp_module",
            s * (layers_n + 1),
            c.readout_mlp_hidden_layers_depth,
            c.readout_mlp_hidden_layers_width,
            1,
            nonlinearity("readout_mlp_nonlinearity", &c.readout_mlp_nonlinearity)?,
            fwd,
        );
        let env_norm = env_norm_of(c)?;
        let scale_shift = scale_shift_of(c)?;
        let zbl = zbl_of(c)?;
        Ok(AllegroModel {
            config: c.clone(),
            dtype,
            rmax_recip,
            sh,
            weighted,
            radial,
            scalar_mlp,
            tensor_embed,
            first_projection,
            layers,
            readout,
            env_norm,
            scale_shift,
            zbl,
        })
    }

    /// The config the model was built from.
    pub fn config(&self) -> &AllegroConfig {
        &self.config
    }

    /// Feature dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Evaluates features in another dtype from now on (geometry stays float64).
    pub fn set_dtype(&mut self, dtype: DType) {
        self.dtype = dtype;
        self.config.model_dtype = dtype.name().to_string();
    }

    /// Why the no-tape inference path cannot evaluate this model (`None`: it can): a
    /// layer with a custom tensor product, or the composed oracle asked for
    /// ([`AllegroModel::set_use_composed_tensor_product`]).
    pub fn no_tape_refusal(&self) -> Option<String> {
        for (k, layer) in self.layers.iter().enumerate() {
            if let LayerProduct::Custom { part, .. } = layer.product() {
                return Some(format!(
                    "the custom tensor product `{}` (layer {k}): the no-tape path has kernels \
                     for Allegro's contraction only",
                    part.name()
                ));
            }
            if layer.uses_composed() {
                return Some("the composed tensor product was asked for".into());
            }
        }
        None
    }

    /// Evaluates tensor products with the composed oracle (`true`) or the fused op.
    pub fn set_use_composed_tensor_product(&mut self, composed: bool) {
        for layer in &mut self.layers {
            layer.set_use_composed(composed);
        }
    }

    /// Number of atom types.
    pub fn num_types(&self) -> usize {
        self.config.type_names.len()
    }

    /// `1/r_max` per edge type (`T·T`, row = center type), as the model multiplies by it.
    pub(crate) fn rmax_recip(&self) -> &[f64] {
        &self.rmax_recip
    }

    /// Cutoff per edge type (`T·T`, row = center type).
    pub fn cutoffs(&self) -> Vec<f64> {
        self.rmax_recip.iter().map(|r| 1.0 / r).collect()
    }

    /// The layers.
    pub fn layers(&self) -> &[AllegroLayer] {
        &self.layers
    }

    /// The ZBL term, if any.
    pub fn zbl(&self) -> Option<&Zbl> {
        self.zbl.as_ref()
    }

    /// Whether a parameter is kept in float64 whatever the model dtype.
    pub fn is_float64_parameter(name: &str) -> bool {
        name == SCALES || name == SHIFTS
    }

    /// Freshly initialised parameters (docs/model.md §10), seeded by `config.seed`.
    pub fn init_parameters<B: Backend>(&self, device: &B::Device) -> Parameters<B> {
        let mut rng = SplitMix64::new(self.config.seed);
        let mut p = Parameters::new();
        let dt = self.dtype;
        self.radial.init(&mut p, &mut rng, dt, device);
        self.scalar_mlp.init(&mut p, &mut rng, dt, device);
        self.tensor_embed.init(&mut p, &mut rng, dt, device);
        self.first_projection.init(&mut p, &mut rng, dt, device);
        for layer in &self.layers {
            layer.init(&mut p, &mut rng, dt, device);
        }
        self.readout.init(&mut p, &mut rng, dt, device);
        self.scale_shift.init(&mut p, device);
        p
    }

    /// Per-edge geometry and embeddings of the edge vectors (docs/model.md §2, §3, §5): what the
    /// layers read, computed with tape ops (so `∂/∂v` flows through them). The harmonics
    /// and the Bessel basis × cutoff are the backend's fused kernels where it has them:
    /// one launch forward, one for the forces and one for a force loss's parameter
    /// gradient (the fused JVPs), the composition for any other second derivative.
    pub(crate) fn edge_front<B: Backend>(
        &self,
        params: &Parameters<B>,
        inputs: &ModelInputs<B>,
    ) -> EdgeFront<B> {
        let device = inputs.edge_vectors.device();
        let e = inputs.n_edges();
        // Geometry in float64.
        let v = &inputs.edge_vectors;
        let r = v.square().sum(1, false).sqrt();
        let recip = Tensor::from_f64(
            &self.rmax_recip,
            &[self.rmax_recip.len()],
            DType::F64,
            &device,
        )
        .expect("shape");
        let x = r.mul(&recip.index_select(0, &inputs.edge_types));
        // Features in the model dtype.
        let xm = x.cast(self.dtype).reshape(&[e, 1]);
        let y = self.sh.forward_fused(&v.cast(self.dtype));
        let radial = self.radial.forward(params, &xm, inputs);
        EdgeFront { r, x, y, radial }
    }

    /// `a(t_n) = 1/√avg_num_neighbors` of every atom (`[N]`, `dtype`), or `None`.
    pub(crate) fn env_norm_per_atom<B: Backend>(
        &self,
        inputs: &ModelInputs<B>,
        dtype: DType,
    ) -> Option<Tensor<B>> {
        self.env_norm.as_ref().map(|a| {
            Tensor::from_f64(a, &[a.len()], dtype, &inputs.edge_vectors.device())
                .expect("shape")
                .index_select(0, &inputs.atom_types)
        })
    }

    /// The scalar embedding MLP (radial features → `h`).
    pub(crate) fn scalar_mlp(&self) -> &ScalarMlp {
        &self.scalar_mlp
    }

    /// The tensor embedding (`h` → channel weights of the harmonics).
    pub(crate) fn tensor_embed(&self) -> &TensorEmbedding {
        &self.tensor_embed
    }

    /// The first projection (`h` → `[h¹ | w¹]`).
    pub(crate) fn first_projection(&self) -> &ScalarMlp {
        &self.first_projection
    }

    /// The edge readout MLP.
    pub(crate) fn readout(&self) -> &ScalarMlp {
        &self.readout
    }

    /// The per-channel weighting of the harmonics.
    pub(crate) fn weighted_channels(&self) -> &WeightedChannels {
        &self.weighted
    }

    /// The per-type energy scale and shift.
    pub(crate) fn scale_shift(&self) -> &ScaleShift {
        &self.scale_shift
    }

    /// Per-atom energies `[N]` (float64), docs/model.md §2–7.
    pub fn atomic_energies<B: Backend>(
        &self,
        params: &Parameters<B>,
        inputs: &ModelInputs<B>,
    ) -> Tensor<B> {
        let n = inputs.n_atoms;
        let s = self.config.num_scalar_features;
        let EdgeFront { r, x, y, radial } = self.edge_front(params, inputs);
        let h = self.scalar_mlp.forward(params, &radial);
        let tensors = self.tensor_embed.forward(params, &y, &h);
        let projection = self.first_projection.forward(params, &h);
        let env_norm = self
            .env_norm_per_atom(inputs, self.dtype)
            .map(|a| a.reshape(&[n, 1, 1]));
        let mut state = EdgeState {
            tensors,
            scalars: vec![projection.narrow(1, 0, s)],
            env_weights: projection.narrow(1, s, self.weighted.weight_numel()),
        };
        for layer in &self.layers {
            state = layer.forward(params, state, &y, &self.weighted, env_norm.as_ref(), inputs);
        }
        let parts: Vec<&Tensor<B>> = state.scalars.iter().collect();
        let edge_energy = self.readout.forward(params, &Tensor::concat(&parts, 1));
        let mut atom = edge_energy.index_add(0, &inputs.edge_center, n);
        if let Some(a) = &env_norm {
            atom = atom.mul(&a.reshape(&[n, 1]));
        }
        let atom = atom
            .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)
            .cast(DType::F64)
            .reshape(&[n]);
        let mut atom = self.scale_shift.forward(params, &atom, &inputs.atom_types);
        if let Some(zbl) = &self.zbl {
            atom = atom.add(&zbl.atomic_energies_fused(&r, &x, inputs, &self.rmax_recip));
        }
        atom
    }
}

/// What [`AllegroModel::edge_front`] returns.
pub(crate) struct EdgeFront<B: Backend> {
    /// Edge lengths `[E]`, float64.
    pub r: Tensor<B>,
    /// Normalised lengths `r/r_c` `[E]`, float64.
    pub x: Tensor<B>,
    /// Spherical harmonics `[E, dY]`, model dtype.
    pub y: Tensor<B>,
    /// Radial-chemical embedding `[E, D]`, model dtype.
    pub radial: Tensor<B>,
}

/// The radial-chemical embedding `c` names; a custom one comes from `parts`
/// ([`ModelParts::radial_embedding`]).
fn radial_embed(c: &AllegroConfig, parts: &ModelParts) -> Result<RadialChemicalEmbed> {
    let (t, d) = (c.type_names.len(), c.embed_dim());
    Ok(match &c.radial_chemical_embed {
        RadialChemicalEmbedConfig::Bessel {
            num_bessels,
            bessel_trainable,
            polynomial_cutoff_p,
        } => RadialChemicalEmbed::Bessel(BesselEmbedding::new(
            t,
            *num_bessels,
            *bessel_trainable,
            *polynomial_cutoff_p,
            d,
        )),
        RadialChemicalEmbedConfig::Spline {
            num_splines,
            spline_span,
        } => RadialChemicalEmbed::Spline(SplineEmbedding::new(t, *num_splines, *spline_span, d)),
        RadialChemicalEmbedConfig::Custom { name, settings } => {
            RadialChemicalEmbed::Custom(parts.radial_embedding(name, settings)?)
        }
    })
}

/// `1/√avg_num_neighbors` per type, the environment sum's normalization (none without
/// `avg_num_neighbors`).
fn env_norm_of(c: &AllegroConfig) -> Result<Option<Vec<f64>>> {
    Ok(match &c.avg_num_neighbors {
        None => None,
        Some(v) => {
            let per_type = v.per_type(&c.type_names, "avg_num_neighbors")?;
            if let Some(bad) = per_type.iter().find(|a| a.is_nan() || **a <= 0.0) {
                return Err(config_error(
                    "avg_num_neighbors",
                    format!("{bad} is not positive"),
                ));
            }
            Some(per_type.iter().map(|a| 1.0 / a.sqrt()).collect())
        }
    })
}

/// The per-type energy scales and shifts.
fn scale_shift_of(c: &AllegroConfig) -> Result<ScaleShift> {
    let values = |v: &Option<crate::config::PerTypeValue>,
                  key: &str,
                  trainable: bool|
     -> Result<Option<(Vec<f64>, bool)>> {
        match v {
            None => Ok(None),
            Some(p) if p.is_single() && !trainable => {
                Ok(Some((p.per_type(&c.type_names, key)?[..1].to_vec(), false)))
            }
            Some(p) => Ok(Some((p.per_type(&c.type_names, key)?, trainable))),
        }
    };
    Ok(ScaleShift::new(
        values(
            &c.per_type_energy_scales,
            "per_type_energy_scales",
            c.per_type_energy_scales_trainable,
        )?,
        values(
            &c.per_type_energy_shifts,
            "per_type_energy_shifts",
            c.per_type_energy_shifts_trainable,
        )?,
    ))
}

/// The ZBL pair potential of `c`, if it has one.
fn zbl_of(c: &AllegroConfig) -> Result<Option<Zbl>> {
    let t = c.type_names.len();
    Ok(match &c.pair_potential {
        None => None,
        Some(PairPotentialConfig::Zbl {
            units,
            chemical_species,
            polynomial_cutoff_p,
        }) => {
            let ke = match units.as_str() {
                "metal" => crate::pair::KE_METAL,
                "real" => crate::pair::KE_REAL,
                other => {
                    return Err(config_error(
                        "pair_potential.units",
                        format!("`{other}` (metal or real)"),
                    ));
                }
            };
            if chemical_species.len() != t {
                return Err(config_error(
                    "pair_potential.chemical_species",
                    format!("{} species for {t} types", chemical_species.len()),
                ));
            }
            let z = chemical_species
                .iter()
                .map(|sym| {
                    allegro_data::atomic_number(sym)
                        .map(|z| z as f64)
                        .ok_or_else(|| {
                            config_error(
                                "pair_potential.chemical_species",
                                format!("`{sym}` is not an element"),
                            )
                        })
                })
                .collect::<Result<Vec<f64>>>()?;
            Some(Zbl::new(z, ke, *polynomial_cutoff_p))
        }
    })
}
