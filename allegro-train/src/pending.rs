//! Reading back, in one transfer, what many batches left on the device: their
//! predictions (for the metrics) and any scalars beside them (each step's finiteness
//! check). A GPU step then never waits for the device; the host reads once per
//! logging interval instead of once or twice per step.

use allegro_core::{Backend, DType, Tensor, no_grad};

use crate::error::Result;
use crate::manager::PreparedBatch;

/// Fills `pred_host` of every field of `batches` and returns the values of `scalars`
/// (one-element tensors of any dtype, read as float64), all in one download.
pub(crate) fn read_predictions<B: Backend>(
    batches: &mut [PreparedBatch<B>],
    scalars: &[Tensor<B>],
) -> Result<Vec<f64>> {
    let host = no_grad(|| {
        // Flattened predictions of every field of every batch, then the scalars: the
        // fields' shapes differ ([frames], [atoms, 3], ...) and so may the dtypes.
        let mut parts: Vec<Tensor<B>> = Vec::new();
        for b in batches.iter() {
            for v in b.fields.values() {
                parts.push(v.pred.detach().reshape(&[v.pred.numel()]));
            }
        }
        for s in scalars {
            parts.push(s.detach().reshape(&[s.numel()]).cast(DType::F64));
        }
        let refs: Vec<&Tensor<B>> = parts.iter().collect();
        match refs.len() {
            0 => Vec::new(),
            _ => Tensor::concat(&refs, 0).to_vec_f64(),
        }
    });
    // The same order as above: a map iterates alike while it is not changed.
    let mut at = 0;
    for b in batches.iter_mut() {
        for v in b.fields.values_mut() {
            let n = v.pred.numel();
            v.pred_host = host[at..at + n].to_vec();
            at += n;
        }
    }
    Ok(host[at..].to_vec())
}
