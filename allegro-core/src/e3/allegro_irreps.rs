//! The irreps of Allegro's tensor track, layer by layer (nequip-allegro 0.8.3,
//! `AllegroEnergyModel` and `Allegro_Module.__init__`).

use super::tensor_product::{IrrepNormalization, StridedContraction};
use super::{E3Error, Irrep, Irreps, Parity};

/// The tensor-track irreps of an Allegro model.
///
/// Construction (reproducing the reference exactly, order included):
/// 1. `sh` = spherical-harmonic irreps `0e + 1o + 2e + … ` up to `l_max`; the
///    environment (input 2 of every tensor product) is `sh`.
/// 2. `allowed`: with `parity`, `le + lo` for `l = 0..=l_max` in that order
///    (`0e+0o+1e+1o+…`); without, `sh`.
/// 3. Forward: the input of layer 0 is `sh`; the output of layer `k` is
///    `allowed` (for the last layer just `0e`) filtered to the irreps that
///    some `(input irrep) ⊗ (sh irrep)` reaches; it is the input of layer
///    `k+1`.
/// 4. Backward pruning, from the last layer down to layer 0: keep an input
///    irrep of layer `k` only if its product with some `sh` irrep reaches an
///    irrep of layer `k`'s (already pruned) output.
///
/// Order is never sorted. Example: `l_max = 2`, parity, 2 layers:
/// layer 0 `0e+1o+2e ⊗ 0e+1o+2e → 0e+1o+2e` (11 paths), layer 1 `→ 0e` (3).
#[derive(Debug, Clone, PartialEq)]
pub struct AllegroTensorTrack {
    /// Spherical-harmonic irreps (also the environment irreps).
    pub sh: Irreps,
    /// `tensor_track_allowed_irreps`.
    pub allowed: Irreps,
    /// Input irreps (argument 1) of each layer's tensor product.
    pub layer_in: Vec<Irreps>,
    /// Output irreps of each layer's tensor product (the last is `0e`).
    pub layer_out: Vec<Irreps>,
}

impl AllegroTensorTrack {
    /// The tensor track of `AllegroEnergyModel(l_max, parity, num_layers)`.
    ///
    /// # Errors
    /// If `l_max == 0` is combined with an impossible configuration (no path)
    /// or `num_layers == 0`.
    pub fn new(
        l_max: usize,
        parity: bool,
        num_layers: usize,
    ) -> Result<AllegroTensorTrack, E3Error> {
        let sh = Irreps::spherical_harmonics(l_max, Parity::Odd);
        let allowed = if parity {
            Irreps::from_irreps(
                (0..=l_max).flat_map(|l| [Irrep::new(l, Parity::Even), Irrep::new(l, Parity::Odd)]),
            )
        } else {
            sh.clone()
        };
        Self::from_irreps(&sh, &allowed, num_layers)
    }

    /// The tensor track for explicit spherical-harmonic (environment) irreps
    /// and allowed irreps (`FullAllegroEnergyModel`'s `irreps_edge_sh` and
    /// `tensor_track_allowed_irreps`). Multiplicities are taken as 1.
    ///
    /// # Errors
    /// If `num_layers == 0`, `sh` does not start with `0e`, or some layer
    /// has no output irrep.
    pub fn from_irreps(
        sh: &Irreps,
        allowed: &Irreps,
        num_layers: usize,
    ) -> Result<AllegroTensorTrack, E3Error> {
        if num_layers == 0 {
            return Err(E3Error::InvalidArgument(
                "Allegro needs num_layers >= 1".into(),
            ));
        }
        let env = sh.with_unit_mul();
        if env.entries().first().map(|m| m.ir) != Some(Irrep::SCALAR) {
            return Err(E3Error::InvalidArgument(format!(
                "environment irreps {env} must start with 0e"
            )));
        }
        let reaches = |arg: &Irreps, target: Irrep| {
            arg.iter()
                .any(|a| env.iter().any(|e| a.ir.couples_to(e.ir, target)))
        };

        // forward: reachable outputs
        let mut track = vec![env.clone()];
        for layer in 0..num_layers {
            let candidates = if layer == num_layers - 1 {
                Irreps::from_irreps([Irrep::SCALAR])
            } else {
                allowed.with_unit_mul()
            };
            let arg = track.last().expect("non-empty");
            let out = candidates.filter(|m| reaches(arg, m.ir));
            track.push(out);
        }

        // backward: prune inputs that cannot reach the (pruned) outputs
        let mut pruned = vec![track[num_layers].clone()];
        for arg in track[..num_layers].iter().rev() {
            let out = pruned.last().expect("non-empty");
            let kept = arg.filter(|a| {
                env.iter()
                    .any(|e| out.iter().any(|o| a.ir.couples_to(e.ir, o.ir)))
            });
            pruned.push(kept);
        }
        pruned.reverse();

        let layer_in = pruned[..num_layers].to_vec();
        let layer_out = pruned[1..].to_vec();
        for (k, (i, o)) in layer_in.iter().zip(&layer_out).enumerate() {
            if i.is_empty() || o.is_empty() {
                return Err(E3Error::InvalidArgument(format!(
                    "Allegro layer {k} has no irreps ({i} -> {o})"
                )));
            }
        }
        Ok(AllegroTensorTrack {
            sh: env,
            allowed: allowed.with_unit_mul(),
            layer_in,
            layer_out,
        })
    }

    /// Number of layers.
    pub fn num_layers(&self) -> usize {
        self.layer_in.len()
    }

    /// The strided contraction of layer `k`: `layer_in[k] ⊗ sh → layer_out[k]`
    /// with component normalisation (allegro's `tps.{k}`).
    ///
    /// # Errors
    /// If the layer has no path (cannot happen for a track built by
    /// [`AllegroTensorTrack::new`]), or `k` is out of range.
    pub fn contraction(&self, k: usize) -> Result<StridedContraction, E3Error> {
        let (i, o) = self
            .layer_in
            .get(k)
            .zip(self.layer_out.get(k))
            .ok_or_else(|| {
                E3Error::InvalidArgument(format!(
                    "layer {k} out of range ({} layers)",
                    self.num_layers()
                ))
            })?;
        StridedContraction::new(i, &self.sh, o, IrrepNormalization::Component)
    }

    /// All layers' contractions, in layer order.
    ///
    /// # Errors
    /// As [`AllegroTensorTrack::contraction`].
    pub fn contractions(&self) -> Result<Vec<StridedContraction>, E3Error> {
        (0..self.num_layers())
            .map(|k| self.contraction(k))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[Irreps]) -> Vec<String> {
        v.iter().map(|i| i.to_string()).collect()
    }

    #[test]
    fn seed_lmax2_parity_two_layers() {
        let t = AllegroTensorTrack::new(2, true, 2).unwrap();
        assert_eq!(t.allowed.to_string(), "1x0e+1x0o+1x1e+1x1o+1x2e+1x2o");
        assert_eq!(strs(&t.layer_in), ["1x0e+1x1o+1x2e", "1x0e+1x1o+1x2e"]);
        assert_eq!(strs(&t.layer_out), ["1x0e+1x1o+1x2e", "1x0e"]);
        let c = t.contractions().unwrap();
        assert_eq!((c[0].num_paths(), c[1].num_paths()), (11, 3));
    }

    #[test]
    fn lmax1_parity_two_layers_prunes_1e() {
        let t = AllegroTensorTrack::new(1, true, 2).unwrap();
        // forward layer-0 output is 0e+1e+1o; 1e cannot reach 0e with 0e/1o
        assert_eq!(strs(&t.layer_out), ["1x0e+1x1o", "1x0e"]);
        assert_eq!(strs(&t.layer_in), ["1x0e+1x1o", "1x0e+1x1o"]);
    }

    #[test]
    fn lmax3_parity_three_layers() {
        let t = AllegroTensorTrack::new(3, true, 3).unwrap();
        // 0o is unreachable from SH ⊗ SH (equal l ⇒ even parity) in layer 0;
        // layer 1 could make 0o (1e ⊗ 1o) but it cannot reach the final 0e:
        // pruned backwards to the SH irreps.
        assert_eq!(
            t.layer_out[0].to_string(),
            "1x0e+1x1e+1x1o+1x2e+1x2o+1x3e+1x3o"
        );
        assert_eq!(t.layer_out[1].to_string(), "1x0e+1x1o+1x2e+1x3o");
        assert_eq!(t.layer_out[2].to_string(), "1x0e");
        assert_eq!(t.layer_in[0], t.sh);
    }

    #[test]
    fn zero_layers_is_an_error() {
        assert!(AllegroTensorTrack::new(2, true, 0).is_err());
    }
}
