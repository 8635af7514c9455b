//! Shape arithmetic: element counts, broadcasting, and the `[outer, n, inner]` view of an
//! axis that every axis-wise op uses.

/// Number of elements of a shape (1 for a scalar of shape `[]`).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// The shape two shapes broadcast to (NumPy rules: align trailing axes; sizes must be
/// equal or one of them 1). `None` when they do not broadcast.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// `shape` left-padded with ones to `rank` axes.
pub fn pad_to_rank(shape: &[usize], rank: usize) -> Vec<usize> {
    let mut out = vec![1; rank - shape.len()];
    out.extend_from_slice(shape);
    out
}

/// Splits `shape` around `axis` into `(outer, n, inner)`: the product of the axes before,
/// the size of the axis, the product of the axes after. An axis-wise op then works on a
/// row-major `[outer, n, inner]` block.
pub fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = numel(&shape[..axis]);
    let inner = numel(&shape[axis + 1..]);
    (outer, shape[axis], inner)
}

/// Row-major strides of a contiguous tensor of `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes(&[3, 1, 5], &[4, 5]), Some(vec![3, 4, 5]));
        assert_eq!(broadcast_shapes(&[], &[2, 2]), Some(vec![2, 2]));
        assert_eq!(broadcast_shapes(&[3], &[4]), None);
    }

    #[test]
    fn axis_split_and_strides() {
        assert_eq!(split_at_axis(&[2, 3, 4, 5], 2), (6, 4, 5));
        assert_eq!(contiguous_strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(numel(&[]), 1);
    }
}
