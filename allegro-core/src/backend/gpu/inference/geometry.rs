//! The runtime geometry of a `fused_linear` launch, uploaded as one small `u32` table
//! (kernels read it once per thread): a kernel is compiled per combination of comptime
//! flags, not per shape.

use crate::backend::LinearSpec;

/// Flag: output block 0 is added to, not overwritten.
pub(crate) const OUT_ACC0: u32 = 1;
/// Flag: output block 1 is added to, not overwritten.
pub(crate) const OUT_ACC1: u32 = 2;

/// Most input blocks one launch reads (more are first gathered into one buffer).
pub(crate) const MAX_INPUTS: usize = 4;

/// The table's layout:
/// `[rows, K, N, (stride, offset, end column) × 4 inputs, (stride, offset, width) of
/// output 0, (stride, offset) of output 1]` (indices 0–2, 3–14, 15–17, 18–19).
pub(crate) struct LinearGeometry {
    pub rows: usize,
    pub n: usize,
    pub table: Vec<u32>,
    pub flags: u32,
}

fn u32_of(v: usize) -> u32 {
    super::super::launch::u32_of(v)
}

impl LinearGeometry {
    /// The table of `spec` (at most [`MAX_INPUTS`] inputs, one or two outputs).
    pub(crate) fn new(spec: &LinearSpec) -> Self {
        assert!(spec.inputs.len() <= MAX_INPUTS && !spec.inputs.is_empty());
        assert!(matches!(spec.outputs.len(), 1 | 2));
        let (k, n) = (spec.k(), spec.n());
        let mut table = vec![u32_of(spec.rows), u32_of(k), u32_of(n)];
        let mut end = 0;
        for b in 0..MAX_INPUTS {
            match spec.inputs.get(b) {
                Some(block) => {
                    end += block.width;
                    table.extend([u32_of(block.stride), u32_of(block.offset), u32_of(end)]);
                }
                // Unused blocks end where the last one did, so no column maps to them.
                None => table.extend([0, 0, u32_of(end)]),
            }
        }
        let o0 = spec.outputs[0];
        table.extend([
            u32_of(o0.block.stride),
            u32_of(o0.block.offset),
            u32_of(o0.block.width),
        ]);
        let mut flags = if o0.accumulate { OUT_ACC0 } else { 0 };
        match spec.outputs.get(1) {
            Some(o1) => {
                table.extend([u32_of(o1.block.stride), u32_of(o1.block.offset)]);
                if o1.accumulate {
                    flags |= OUT_ACC1;
                }
            }
            None => table.extend([0, 0]),
        }
        LinearGeometry {
            rows: spec.rows,
            n,
            table,
            flags,
        }
    }
}
