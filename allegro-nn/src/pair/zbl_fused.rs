//! ZBL's per-edge energies as one fused op on the tape
//! ([`allegro_core::backend::InferenceOps::zbl_edge_energies`]):
//! one kernel each way on a GPU instead of about thirty-five. A force loss's parameter
//! gradient does not pass through it (the pair energy has no parameters), so training
//! takes it too.

use std::sync::Arc;

use allegro_core::autodiff::vjp_backward_by_composition;
use allegro_core::backend::ZblSpec;
use allegro_core::{Backend, DType, Indices, Tensor};

use super::Zbl;
use crate::inputs::ModelInputs;

/// The per-edge type tables the fused op and its composition read (kept by its
/// backward closures instead of the whole inputs).
#[derive(Clone)]
struct EdgeTypes<B: Backend> {
    center: Indices<B>,
    neighbor: Indices<B>,
    edge: Indices<B>,
}

impl Zbl {
    /// The fused map's description, with `1/r_max` of every edge type.
    fn spec(&self, rmax_recip: &[f64]) -> ZblSpec {
        ZblSpec {
            atomic_numbers: Arc::from(self.atomic_numbers()),
            rmax_recip: Arc::from(rmax_recip),
            half_ke: self.half_ke(),
            cutoff_p: self.cutoff_p(),
        }
    }

    /// `E_z` of every edge from `r` alone (`x = r·rmax_recip[type]` inside): one op whose
    /// backward is the fused adjoint and whose own backward differentiates the
    /// composition; the composition where the backend has no kernel.
    pub(crate) fn edge_energies_fused<B: Backend>(
        &self,
        r: &Tensor<B>,
        x: &Tensor<B>,
        inputs: &ModelInputs<B>,
        rmax_recip: &[f64],
    ) -> Tensor<B> {
        let types = EdgeTypes {
            center: inputs.center_types.clone(),
            neighbor: inputs.neighbor_types.clone(),
            edge: inputs.edge_types.clone(),
        };
        let spec = self.spec(rmax_recip);
        let (ct, nt) = (types.center.storage(), types.neighbor.storage());
        let Some(e) = B::zbl_edge_energies(&spec, r.storage(), ct, nt) else {
            return self.edge_energies(r, x, &types.center, &types.neighbor);
        };
        let shape = r.shape().to_vec();
        let this = self.clone();
        Tensor::custom_op(
            "zbl_edge_energies",
            &[r],
            |_| Tensor::from_storage(e, &shape),
            move |ins: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, _: &[bool]| {
                vec![Some(this.vjp(&ins[0], g, &types, &spec))]
            },
        )
    }

    /// `∂L/∂r` from `∂L/∂E` (`g`) by the fused adjoint, as one op whose backward
    /// differentiates the composition.
    fn vjp<B: Backend>(
        &self,
        r: &Tensor<B>,
        g: &Tensor<B>,
        types: &EdgeTypes<B>,
        spec: &ZblSpec,
    ) -> Tensor<B> {
        let (ct, nt) = (types.center.storage(), types.neighbor.storage());
        let fused = B::zbl_edge_energies_vjp(spec, r.storage(), ct, nt, g.storage())
            .expect("a backend with a fused forward has its adjoint");
        let shape = r.shape().to_vec();
        let (this, types, rmax_recip) = (self.clone(), types.clone(), spec.rmax_recip.clone());
        Tensor::custom_op(
            "zbl_edge_energies_vjp",
            &[r, g],
            |_| Tensor::from_storage(fused, &shape),
            move |ins: &[Tensor<B>], _: &Tensor<B>, h: &Tensor<B>, needs: &[bool]| {
                this.vjp_backward(&ins[0], &ins[1], h, needs, &types, &rmax_recip)
            },
        )
    }

    /// The backward of [`Zbl::vjp`] by the composition: `∂⟨h, ∂L/∂r⟩` with respect to
    /// `r` and `g`, differentiable further when the graph is being recorded.
    fn vjp_backward<B: Backend>(
        &self,
        r: &Tensor<B>,
        g: &Tensor<B>,
        h: &Tensor<B>,
        needs: &[bool],
        types: &EdgeTypes<B>,
        rmax_recip: &[f64],
    ) -> Vec<Option<Tensor<B>>> {
        let recip = Tensor::from_f64(rmax_recip, &[rmax_recip.len()], DType::F64, &r.device())
            .expect("shape")
            .index_select(0, &types.edge);
        let energies = |r: &Tensor<B>| {
            let x = r.mul(&recip);
            self.edge_energies(r, &x, &types.center, &types.neighbor)
        };
        vjp_backward_by_composition(energies, r, g, h, needs)
    }
}

#[cfg(test)]
mod tests {
    use allegro_core::backend::cpu::{Cpu, CpuDevice};
    use allegro_core::testing::suite::assert_gradients;
    use allegro_core::{DType, SplitMix64, Tensor, grad};
    use allegro_data::AtomicGraph;

    use crate::pair::{PairPotential, Zbl};
    use crate::predictor::inputs_from_graph;

    /// The fused op's energies and first and second derivatives with respect to `r`
    /// equal the composition's (float64), with lengths inside and beyond the cutoff.
    #[test]
    fn fused_zbl_equals_the_composition() {
        let zbl = Zbl::new(vec![1.0, 8.0, 26.0], super::super::KE_METAL, 6.0);
        let rmax_recip = [0.25, 0.2, 0.25, 0.2, 1.0 / 3.0, 0.2, 0.25, 0.2, 0.25];
        let e = 30;
        let mut rng = SplitMix64::new(4);
        let graph = AtomicGraph {
            positions: vec![[0.0; 3]; 3],
            atom_types: vec![0, 1, 2],
            batch: vec![0; 3],
            frame_ptr: vec![0, 3],
            cells: vec![[[0.0; 3]; 3]],
            pbc: vec![[false; 3]],
            edge_center: (0..e).map(|z| (z / 10) as u32).collect(),
            edge_neighbor: (0..e).map(|z| ((z / 10 + 1 + z % 2) % 3) as u32).collect(),
            edge_cell_shift: vec![[0, 0, 0]; e],
            ..AtomicGraph::default()
        };
        let inputs = inputs_from_graph::<Cpu>(&graph, 3, &CpuDevice).unwrap();
        let lengths: Vec<f64> = (0..e).map(|_| rng.uniform_in(0.3, 5.5)).collect();
        let r = Tensor::<Cpu>::from_f64(&lengths, &[e], DType::F64, &CpuDevice)
            .unwrap()
            .tracked();
        let recip = Tensor::<Cpu>::from_f64(&rmax_recip, &[9], DType::F64, &CpuDevice).unwrap();
        let x = r.mul(&recip.index_select(0, &inputs.edge_types));
        let h: Vec<f64> = (0..e).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
        let h = Tensor::<Cpu>::from_f64(&h, &[e], DType::F64, &CpuDevice).unwrap();
        let derivatives = |energies: Tensor<Cpu>| {
            let total = energies.sum_all();
            let gr = grad(&[&total], None, &[&r], true).remove(0);
            let hr = grad(&[&gr], Some(&[&h]), &[&r], false).remove(0);
            [energies.to_vec_f64(), gr.to_vec_f64(), hr.to_vec_f64()]
        };
        let fused = derivatives(zbl.atomic_energies_fused(&r, &x, &inputs, &rmax_recip));
        let composed = derivatives(zbl.atomic_energies(&r, &x, &inputs));
        for (k, what) in ["energies", "first derivative", "second derivative"]
            .iter()
            .enumerate()
        {
            for (a, b) in fused[k].iter().zip(&composed[k]) {
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                    "{what}: {a} vs {b}"
                );
            }
        }
        assert!(
            composed[0].iter().any(|&v| v != 0.0),
            "some edges inside the cutoff"
        );
        // First and second derivatives of the fused op against central differences.
        let f = |ins: &[Tensor<Cpu>]| {
            let x = ins[0].mul(&recip.index_select(0, &inputs.edge_types));
            zbl.atomic_energies_fused(&ins[0], &x, &inputs, &rmax_recip)
        };
        assert_gradients("fused ZBL", &f, &[r.detach()]);
    }
}
