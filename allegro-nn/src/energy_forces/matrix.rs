//! Row-major matrices as raw backend buffers: the no-tape path hands column blocks of
//! them to the fused ops instead of building tensors.

use allegro_core::backend::{ColumnBlock, OutputBlock};
use allegro_core::{Backend, DType, Tensor};

/// A `[rows, cols]` row-major buffer.
pub(crate) struct Matrix<B: Backend> {
    pub storage: B::Storage,
    pub rows: usize,
    pub cols: usize,
}

/// Columns of a matrix, as a fused op reads them.
pub(crate) type Block<'a, B> = (
    &'a <B as allegro_core::backend::BackendTypes>::Storage,
    ColumnBlock,
);

/// Columns of a matrix, as a fused op writes them.
pub(crate) struct Out<'a, B: Backend> {
    pub storage: &'a mut B::Storage,
    pub block: OutputBlock,
}

impl<B: Backend> Matrix<B> {
    /// A matrix whose contents the next op writes in full.
    pub fn uninit(device: &B::Device, rows: usize, cols: usize, dtype: DType) -> Self {
        Matrix {
            storage: B::uninit(device, rows * cols, dtype),
            rows,
            cols,
        }
    }

    /// A zero matrix.
    pub fn zeros(device: &B::Device, rows: usize, cols: usize, dtype: DType) -> Self {
        Matrix {
            storage: B::full(device, rows * cols, 0.0, dtype),
            rows,
            cols,
        }
    }

    /// The buffer of a contiguous `[rows, cols]` tensor (shared, not copied).
    pub fn of_tensor(t: &Tensor<B>) -> Self {
        assert_eq!(t.rank(), 2, "matrix of a {:?} tensor", t.shape());
        Matrix {
            storage: t.storage().clone(),
            rows: t.dim(0),
            cols: t.dim(1),
        }
    }

    /// The matrix as an (untracked) tensor.
    pub fn into_tensor(self) -> Tensor<B> {
        Tensor::from_storage(self.storage, &[self.rows, self.cols])
    }

    /// Columns `offset..offset + width`.
    pub fn block(&self, offset: usize, width: usize) -> Block<'_, B> {
        (&self.storage, ColumnBlock::of(self.cols, offset, width))
    }

    /// All columns.
    pub fn all(&self) -> Block<'_, B> {
        self.block(0, self.cols)
    }

    /// Columns `offset..offset + width` as a destination.
    pub fn out(&mut self, offset: usize, width: usize, accumulate: bool) -> Out<'_, B> {
        let block = ColumnBlock::of(self.cols, offset, width);
        Out {
            storage: &mut self.storage,
            block: OutputBlock { block, accumulate },
        }
    }

    /// All columns as a destination that is overwritten.
    pub fn out_all(&mut self) -> Out<'_, B> {
        self.out(0, self.cols, false)
    }
}
