//! Column blocks read and written with primitive ops, for the reference kernels
//! ([`super::inference_reference`], [`super::segment_reference`]).
//!
//! The fused kernels read and write columns `offset..offset + width` of row-major
//! buffers in place. Storages are opaque to generic code, so the references do the same
//! with [`ShapeOps::narrow`] and [`ShapeOps::concat`]: a write builds the whole new buffer
//! and replaces the caller's storage with it. Other handles to the old buffer keep the
//! old values, which is what the fused kernels promise too (they copy a shared buffer
//! before writing it).

use super::elementwise::{BinaryOp, ElementwiseOps};
use super::inference::ColumnBlock;
use super::shape::ShapeOps;
use super::storage::StorageOps;

/// `op(a, b)` of two buffers of one length (no broadcasting).
pub(crate) fn same_shape<B: ElementwiseOps + StorageOps>(
    op: BinaryOp,
    a: &B::Storage,
    b: &B::Storage,
) -> B::Storage {
    let shape = [B::storage_len(a)];
    B::binary(op, a, &shape, b, &shape, &shape)
}

/// The first `len` elements of `x` (the whole buffer, shared, when it holds exactly
/// `len`). Callers may pass buffers longer than the op reads: the kernels ignore the
/// tail, so the references must too.
pub fn leading<B: StorageOps + ShapeOps>(x: &B::Storage, len: usize) -> B::Storage {
    let total = B::storage_len(x);
    assert!(
        len <= total,
        "reference kernel: reads {len} elements of a buffer of {total}"
    );
    if len == total {
        x.clone()
    } else {
        B::narrow(x, 1, total, 1, 0, len)
    }
}

/// Block `block` of the first `rows` rows of `x`, as a contiguous `[rows, width]` buffer.
pub fn read_columns<B: StorageOps + ShapeOps>(
    x: &B::Storage,
    rows: usize,
    block: ColumnBlock,
) -> B::Storage {
    let body = leading::<B>(x, rows * block.stride);
    if block.offset == 0 && block.width == block.stride {
        body
    } else {
        B::narrow(&body, rows, block.stride, 1, block.offset, block.width)
    }
}

/// Replaces the first `rows · width` elements of `*dst` by `src` (`[rows, width]`), or
/// adds `src` to them when `accumulate`; every other element keeps its value.
pub fn write_columns<B: StorageOps + ElementwiseOps + ShapeOps>(
    dst: &mut B::Storage,
    rows: usize,
    block: ColumnBlock,
    src: &B::Storage,
    accumulate: bool,
) {
    let (stride, offset, width) = (block.stride, block.offset, block.width);
    if rows == 0 || width == 0 {
        return;
    }
    let total = B::storage_len(dst);
    let body_len = rows * stride;
    let body = leading::<B>(dst, body_len);
    let new = if accumulate {
        let old = B::narrow(&body, rows, stride, 1, offset, width);
        same_shape::<B>(BinaryOp::Add, &old, src)
    } else {
        src.clone()
    };
    let rest = stride - offset - width;
    let body = if offset == 0 && rest == 0 {
        new
    } else {
        let before = B::narrow(&body, rows, stride, 1, 0, offset);
        let after = B::narrow(&body, rows, stride, 1, offset + width, rest);
        // Zero-width parts are left out: a backend need not accept empty concat parts.
        let parts: Vec<(&B::Storage, usize)> = [(&before, offset), (&new, width), (&after, rest)]
            .into_iter()
            .filter(|&(_, n)| n > 0)
            .collect();
        B::concat(&parts, rows, 1)
    };
    *dst = if total > body_len {
        let tail = B::narrow(dst, 1, total, 1, body_len, total - body_len);
        B::concat(&[(&body, body_len), (&tail, total - body_len)], 1, 1)
    } else {
        body
    };
}

/// Replaces the first `len(src)` elements of `*dst` by `src`, keeping the rest.
pub fn write_leading<B: StorageOps + ElementwiseOps + ShapeOps>(
    dst: &mut B::Storage,
    src: &B::Storage,
) {
    let len = B::storage_len(src);
    write_columns::<B>(dst, 1, ColumnBlock::whole(len), src, false);
}
