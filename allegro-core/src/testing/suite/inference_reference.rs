//! The backend's [`InferenceOps::fused_linear`](crate::backend::InferenceOps::fused_linear)
//! and `uninit` against the references built from primitive ops
//! ([`crate::backend::ops::inference_reference`]), which are their defaults: column
//! blocks of several buffers in, one or two output blocks stored or added, every
//! activation with its derivative, the mask, in f64 and f32. The segment contraction's
//! are in [`super::segment_reference`].

use super::fused_reference::{buffer, tol};
use super::inference::{assert_close, download};
use crate::backend::ops::inference_reference::{fused_linear_reference, uninit_reference};
use crate::backend::{Activation, Backend, ColumnBlock, LinearSpec, MatmulPrecision, OutputBlock};
use crate::dtype::DType;
use crate::rng::SplitMix64;

/// Every variant of [`Activation`]: a variant added to the enum must be added here (the
/// `match` in [`all_activations_listed`] fails to compile otherwise).
const ACTIVATIONS: [Activation; 7] = [
    Activation::Silu,
    Activation::Mish,
    Activation::Gelu,
    Activation::ShiftedSoftplus,
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::Softplus,
];

/// Compile-time reminder that [`ACTIVATIONS`] is complete.
fn all_activations_listed(f: Activation) -> usize {
    match f {
        Activation::Silu
        | Activation::Mish
        | Activation::Gelu
        | Activation::ShiftedSoftplus
        | Activation::Tanh
        | Activation::Sigmoid
        | Activation::Softplus => ACTIVATIONS.len(),
    }
}

/// One `fused_linear` call of the backend and of the reference on copies of the same
/// buffers; the outputs and the derivative must agree.
struct LinearCase<'a> {
    name: &'a str,
    rows: usize,
    /// `(stride, offset, width)` of each input block.
    inputs: &'a [(usize, usize, usize)],
    /// `(stride, offset, width, accumulate)` of each output block.
    outputs: &'a [(usize, usize, usize, bool)],
    activation: Option<Activation>,
    masked: bool,
    precision: MatmulPrecision,
}

impl LinearCase<'_> {
    fn spec(&self) -> LinearSpec {
        LinearSpec {
            rows: self.rows,
            inputs: self
                .inputs
                .iter()
                .map(|&(s, o, w)| ColumnBlock::of(s, o, w))
                .collect(),
            outputs: self
                .outputs
                .iter()
                .map(|&(s, o, w, accumulate)| OutputBlock {
                    block: ColumnBlock::of(s, o, w),
                    accumulate,
                })
                .collect(),
            activation: self.activation,
            masked: self.masked,
            precision: self.precision,
        }
    }

    fn run<B: Backend>(&self, dtype: DType, rng: &mut SplitMix64, device: &B::Device) {
        let spec = self.spec();
        let (rows, k, n) = (spec.rows, spec.k(), spec.n());
        let mut buf = |shape: &[usize]| buffer::<B>(shape, dtype, rng, device);
        let inputs: Vec<B::Storage> = spec.inputs.iter().map(|b| buf(&[rows, b.stride])).collect();
        let input_refs: Vec<&B::Storage> = inputs.iter().collect();
        let weight = buf(&[k, n]);
        let mask = buf(&[rows, n]);
        let derivative = buf(&[rows, n]);
        let outputs: Vec<B::Storage> = spec
            .outputs
            .iter()
            .map(|o| buf(&[rows, o.block.stride]))
            .collect();
        let before: Vec<Vec<f64>> = outputs.iter().map(download::<B>).collect();
        // The same starting buffers for both: stored blocks must leave the other columns
        // alone, added blocks add to what was there.
        let mut results = Vec::new();
        for fused in [true, false] {
            let mut d = derivative.clone();
            let mut outs = outputs.clone();
            let mut out_refs: Vec<&mut B::Storage> = outs.iter_mut().collect();
            let d_arg = spec.activation.map(|_| &mut d);
            let m_arg = spec.masked.then_some(&mask);
            if fused {
                B::fused_linear(&spec, &input_refs, &weight, m_arg, d_arg, &mut out_refs);
            } else {
                fused_linear_reference::<B>(
                    &spec,
                    &input_refs,
                    &weight,
                    m_arg,
                    d_arg,
                    &mut out_refs,
                );
            }
            let outs: Vec<Vec<f64>> = outs.iter().map(download::<B>).collect();
            results.push((download::<B>(&d), outs));
        }
        let after: Vec<Vec<f64>> = outputs.iter().map(download::<B>).collect();
        assert_eq!(
            before, after,
            "{}: a caller's shared output buffer changed",
            self.name
        );
        let tol = match self.precision {
            MatmulPrecision::Exact => tol(dtype) * 10.0,
            // The reference is exact; the kernel may round its operands to TF32.
            MatmulPrecision::Tf32 => 1e-2,
        };
        let [(d_fused, o_fused), (d_plain, o_plain)] = <[_; 2]>::try_from(results).expect("two");
        let label = format!("{} ({dtype})", self.name);
        if spec.activation.is_some() {
            assert_close(&format!("{label}: derivative"), &d_fused, &d_plain, tol);
        }
        for (j, (got, want)) in o_fused.iter().zip(&o_plain).enumerate() {
            assert_close(&format!("{label}: output {j}"), got, want, tol);
        }
    }
}

/// `fused_linear` of the backend equals its reference on every shape of the model's
/// calls and every epilogue; `uninit` gives a buffer of the asked length and dtype.
pub fn fused_linear_matches_reference<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(8201);
    let case = |name, rows, inputs, outputs, activation, masked| LinearCase {
        name,
        rows,
        inputs,
        outputs,
        activation,
        masked,
        precision: MatmulPrecision::Exact,
    };
    let blocks_in: &[(usize, usize, usize)] = &[(50, 7, 37), (9, 0, 9), (4, 1, 3)];
    let split_out: &[(usize, usize, usize, bool)] = &[(80, 3, 61, false), (20, 5, 9, true)];
    let added_out: &[(usize, usize, usize, bool)] = &[(70, 0, 70, true)];
    let whole: &[(usize, usize, usize)] = &[(40, 0, 40)];
    let one_out: &[(usize, usize, usize, bool)] = &[(33, 0, 33, false)];
    for dtype in [DType::F64, DType::F32] {
        for len in [0, 1, 1000] {
            let u = B::uninit(device, len, dtype);
            let r = uninit_reference::<B>(device, len, dtype);
            for s in [&u, &r] {
                assert_eq!(
                    (B::storage_len(s), B::storage_dtype(s)),
                    (len, dtype),
                    "uninit"
                );
            }
        }
        let mut cases = vec![
            case(
                "three blocks in, split out",
                301,
                blocks_in,
                split_out,
                None,
                false,
            ),
            case(
                "three blocks in, added out",
                130,
                blocks_in,
                added_out,
                None,
                false,
            ),
            case("K = 1", 77, &[(3, 2, 1)], &[(40, 0, 40, true)], None, false),
            case("mask", 93, whole, split_out, None, true),
            case("one row", 1, whole, one_out, None, false),
        ];
        for f in ACTIVATIONS {
            assert_eq!(all_activations_listed(f), ACTIVATIONS.len());
            cases.push(case(
                "activation, split out",
                93,
                blocks_in,
                split_out,
                Some(f),
                false,
            ));
            cases.push(case(
                "activation and mask",
                45,
                whole,
                added_out,
                Some(f),
                true,
            ));
        }
        cases.push(LinearCase {
            precision: MatmulPrecision::Tf32,
            ..case(
                "TF32 allowed",
                200,
                blocks_in,
                one_out,
                Some(Activation::Silu),
                false,
            )
        });
        for c in &cases {
            let name = match c.activation {
                Some(f) => format!("{} {f:?}", c.name),
                None => c.name.to_string(),
            };
            LinearCase { name: &name, ..*c }.run::<B>(dtype, &mut rng, device);
        }
    }
}
