//! [`Tensor`]: an immutable, reference-counted, contiguous array on a backend.
//!
//! Each op is a method that checks shapes, calls one backend primitive and, when an
//! input is tracked, records a backward rule (see [`crate::autodiff`]). Ops on
//! shapes that do not fit are programming errors and panic with the op's name; data
//! coming from users enters through the fallible constructors.

mod activation;
mod arithmetic;
mod fused;
mod index;
mod indices;
mod linalg;
mod ops_overload;
mod reduce;
mod shape_ops;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use indices::Indices;

use crate::autodiff::{BackwardOp, Node, is_grad_enabled};
use crate::backend::Backend;
use crate::dtype::{DType, HostData};
use crate::error::{Error, Result};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// How a tensor takes part in differentiation.
enum Track<B: Backend> {
    /// A constant: no gradient flows to or through it.
    Constant,
    /// A leaf whose gradient may be requested (a parameter or an input such as positions).
    Leaf,
    /// The result of an op on tracked inputs.
    Op(Node<B>),
}

struct Inner<B: Backend> {
    id: u64,
    storage: B::Storage,
    shape: Vec<usize>,
    dtype: DType,
    track: Track<B>,
}

/// A dense row-major array of `f32` or `f64` on backend `B`.
///
/// Cloning is cheap (shares the buffer and the graph node). Tensors are immutable:
/// every op returns a new tensor.
pub struct Tensor<B: Backend>(Arc<Inner<B>>);

impl<B: Backend> Clone for Tensor<B> {
    fn clone(&self) -> Self {
        Tensor(self.0.clone())
    }
}

impl<B: Backend> std::fmt::Debug for Tensor<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let track = match &self.0.track {
            Track::Constant => "constant".to_string(),
            Track::Leaf => "leaf".to_string(),
            Track::Op(n) => format!("op {}", n.name),
        };
        write!(
            f,
            "Tensor<{}>({:?}, {}, {})",
            B::name(),
            self.0.shape,
            self.0.dtype,
            track
        )
    }
}

impl<B: Backend> Tensor<B> {
    fn build(storage: B::Storage, shape: Vec<usize>, track: Track<B>) -> Self {
        debug_assert_eq!(B::storage_len(&storage), crate::shape::numel(&shape));
        let dtype = B::storage_dtype(&storage);
        Tensor(Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            storage,
            shape,
            dtype,
            track,
        }))
    }

    /// A constant tensor over an existing backend buffer.
    ///
    /// # Panics
    /// If the buffer length is not the number of elements of `shape`.
    pub fn from_storage(storage: B::Storage, shape: &[usize]) -> Self {
        assert_eq!(
            B::storage_len(&storage),
            crate::shape::numel(shape),
            "from_storage: buffer length does not match shape {shape:?}"
        );
        Self::build(storage, shape.to_vec(), Track::Constant)
    }

    /// The result of an op: tracked (with `rule`) when recording is on and any input is
    /// tracked, otherwise a constant.
    pub(crate) fn from_op(
        storage: B::Storage,
        shape: Vec<usize>,
        name: &'static str,
        inputs: &[&Tensor<B>],
        rule: impl BackwardOp<B> + 'static,
    ) -> Self {
        let track = if is_grad_enabled() && inputs.iter().any(|t| t.is_tracked()) {
            Track::Op(Node {
                name,
                inputs: inputs.iter().map(|t| (*t).clone()).collect(),
                rule: Box::new(rule),
            })
        } else {
            Track::Constant
        };
        Self::build(storage, shape, track)
    }

    /// Registers a fused op: `forward` computes the result from `inputs` (it runs without
    /// recording, so it may use any ops or backend kernels), `rule` is its backward,
    /// written in differentiable tensor ops so that higher orders still work.
    pub fn custom_op(
        name: &'static str,
        inputs: &[&Tensor<B>],
        forward: impl FnOnce(&[&Tensor<B>]) -> Tensor<B>,
        rule: impl BackwardOp<B> + 'static,
    ) -> Self {
        let out = crate::autodiff::no_grad(|| forward(inputs));
        Self::from_op(
            out.0.storage.clone(),
            out.0.shape.clone(),
            name,
            inputs,
            rule,
        )
    }

    /// Copies `values` (given in `f64`, rounded to `dtype`) into a new tensor.
    ///
    /// Fails when `values.len()` is not the number of elements of `shape`.
    pub fn from_f64(
        values: &[f64],
        shape: &[usize],
        dtype: DType,
        device: &B::Device,
    ) -> Result<Self> {
        Self::from_host(HostData::from_f64(values, dtype), shape, device)
    }

    /// Copies host data into a new tensor of the data's dtype.
    ///
    /// Fails when the data length is not the number of elements of `shape`.
    pub fn from_host(data: HostData, shape: &[usize], device: &B::Device) -> Result<Self> {
        let n = crate::shape::numel(shape);
        if data.len() != n {
            return Err(Error::Shape(format!(
                "{} values given for a tensor of shape {shape:?} ({n} elements)",
                data.len()
            )));
        }
        Ok(Self::build(
            B::from_host(device, data),
            shape.to_vec(),
            Track::Constant,
        ))
    }

    /// A tensor of `shape` filled with `value`.
    pub fn full(shape: &[usize], value: f64, dtype: DType, device: &B::Device) -> Self {
        let n = crate::shape::numel(shape);
        Self::build(
            B::full(device, n, value, dtype),
            shape.to_vec(),
            Track::Constant,
        )
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize], dtype: DType, device: &B::Device) -> Self {
        Self::full(shape, 0.0, dtype, device)
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize], dtype: DType, device: &B::Device) -> Self {
        Self::full(shape, 1.0, dtype, device)
    }

    /// A rank-0 tensor holding `value`.
    pub fn scalar(value: f64, dtype: DType, device: &B::Device) -> Self {
        Self::full(&[], value, dtype, device)
    }

    /// Zeros of this tensor's shape, dtype and device.
    pub fn zeros_like(&self) -> Self {
        Self::zeros(self.shape(), self.dtype(), &self.device())
    }

    /// Ones of this tensor's shape, dtype and device.
    pub fn ones_like(&self) -> Self {
        Self::ones(self.shape(), self.dtype(), &self.device())
    }

    /// A tensor of this dtype and device filled with `value`.
    pub fn full_like(&self, shape: &[usize], value: f64) -> Self {
        Self::full(shape, value, self.dtype(), &self.device())
    }

    /// Unique id of this tensor value (used by the backward pass).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// Shape.
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.0.shape.len()
    }

    /// Extent of axis `axis`.
    pub fn dim(&self, axis: usize) -> usize {
        self.0.shape[axis]
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        crate::shape::numel(&self.0.shape)
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }

    /// Device the buffer lives on.
    pub fn device(&self) -> B::Device {
        B::storage_device(&self.0.storage)
    }

    /// The backend buffer.
    pub fn storage(&self) -> &B::Storage {
        &self.0.storage
    }

    /// Copies the elements to the host in their own dtype.
    pub fn to_host(&self) -> HostData {
        B::to_host(&self.0.storage)
    }

    /// A copy of this tensor's values on `device` of backend `B2` (through host
    /// memory), in the same dtype and shape, untracked.
    pub fn to_backend<B2: Backend>(&self, device: &B2::Device) -> Tensor<B2> {
        Tensor::from_storage(B2::from_host(device, self.to_host()), self.shape())
    }

    /// Copies the elements to the host as `f64`.
    pub fn to_vec_f64(&self) -> Vec<f64> {
        self.to_host().to_f64()
    }

    /// The value of a one-element tensor.
    ///
    /// # Panics
    /// If the tensor has more than one element.
    pub fn item(&self) -> f64 {
        assert_eq!(self.numel(), 1, "item: tensor has shape {:?}", self.shape());
        self.to_vec_f64()[0]
    }

    /// Whether gradients can flow to or through this tensor.
    pub fn is_tracked(&self) -> bool {
        !matches!(self.0.track, Track::Constant)
    }

    /// The recorded op, when this tensor is an op's tracked result.
    pub fn node(&self) -> Option<&Node<B>> {
        match &self.0.track {
            Track::Op(n) => Some(n),
            _ => None,
        }
    }

    /// A leaf with the same data whose gradient can be requested from [`crate::grad`].
    pub fn tracked(&self) -> Self {
        Self::build(self.0.storage.clone(), self.0.shape.clone(), Track::Leaf)
    }

    /// A constant with the same data: gradients stop here.
    pub fn detach(&self) -> Self {
        Self::build(
            self.0.storage.clone(),
            self.0.shape.clone(),
            Track::Constant,
        )
    }

    /// The same values in another dtype (differentiable).
    pub fn cast(&self, dtype: DType) -> Self {
        if dtype == self.dtype() {
            return self.clone();
        }
        let from = self.dtype();
        Self::from_op(
            B::cast(&self.0.storage, dtype),
            self.0.shape.clone(),
            "cast",
            &[self],
            move |_: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, _: &[bool]| {
                vec![Some(g.cast(from))]
            },
        )
    }
}
