//! The reductions of torch tensors (as `pickle.dumps(tensor)` writes them, storage in
//! torch's legacy serialization) and of numpy arrays (as nequip's `__metadata__` holds
//! them), as [`Object`] trees for the pickler.

use super::{Object, dumps};
use crate::pickle::torch::Dtype;

/// The elements of a tensor or array, in row-major order.
#[derive(Clone, Copy, Debug)]
pub enum Elements<'a> {
    /// `float32`.
    F32(&'a [f32]),
    /// `float64`.
    F64(&'a [f64]),
    /// `int64`.
    I64(&'a [i64]),
    /// `bool`.
    Bool(&'a [bool]),
}

impl Elements<'_> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Elements::F32(v) => v.len(),
            Elements::F64(v) => v.len(),
            Elements::I64(v) => v.len(),
            Elements::Bool(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The torch dtype the reader reports for them.
    pub fn dtype(&self) -> Dtype {
        match self {
            Elements::F32(_) => Dtype::F32,
            Elements::F64(_) => Dtype::F64,
            Elements::I64(_) => Dtype::I64,
            Elements::Bool(_) => Dtype::Bool,
        }
    }

    /// The raw little-endian bytes (torch and numpy both store them so on the machines
    /// these files come from, and the legacy format records `little_endian`).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            Elements::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Elements::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Elements::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Elements::Bool(v) => v.iter().map(|&b| b as u8).collect(),
        }
    }

    fn torch_storage(&self) -> &'static str {
        match self {
            Elements::F32(_) => "FloatStorage",
            Elements::F64(_) => "DoubleStorage",
            Elements::I64(_) => "LongStorage",
            Elements::Bool(_) => "BoolStorage",
        }
    }

    /// numpy's `dtype.str` without the byte order, and the byte order character
    /// (`|` for one-byte types).
    fn numpy_dtype(&self) -> (&'static str, &'static str) {
        match self {
            Elements::F32(_) => ("f4", "<"),
            Elements::F64(_) => ("f8", "<"),
            Elements::I64(_) => ("i8", "<"),
            Elements::Bool(_) => ("b1", "|"),
        }
    }
}

/// torch's legacy-format magic number (`torch.serialization.MAGIC_NUMBER`).
const TORCH_MAGIC: i128 = 0x1950a86a20f9469cfc6c;
/// The legacy-format protocol version torch writes (`PROTOCOL_VERSION`).
const TORCH_PROTOCOL: i128 = 1001;

/// What `torch.serialization._legacy_save` writes for one storage, which is what
/// `pickle.dumps` of a tensor puts inside `torch.storage._load_from_bytes(…)`: five
/// protocol-2 pickles (magic number; protocol version; system info; the storage as the
/// persistent id `('storage', torch.XStorage, key, 'cpu', numel, None)`; the list of
/// storage keys) followed by the element count (int64) and the raw bytes.
///
/// torch uses the storage's address in memory as `key`; any string works, since only
/// this one storage is looked up by it.
pub fn torch_legacy_storage(elements: Elements<'_>, key: &str) -> Vec<u8> {
    let n = elements.len();
    let sys_info = Object::Dict(vec![
        (Object::str("protocol_version"), Object::Int(TORCH_PROTOCOL)),
        (Object::str("little_endian"), Object::Bool(true)),
        (
            Object::str("type_sizes"),
            Object::Dict(vec![
                (Object::str("short"), Object::Int(2)),
                (Object::str("int"), Object::Int(4)),
                (Object::str("long"), Object::Int(4)),
            ]),
        ),
    ]);
    let pid = Object::Tuple(vec![
        Object::str("storage"),
        Object::global("torch", elements.torch_storage()),
        Object::str(key),
        Object::str("cpu"),
        Object::Int(n as i128),
        Object::None,
    ]);
    let mut out = Vec::new();
    for obj in [
        Object::Int(TORCH_MAGIC),
        Object::Int(TORCH_PROTOCOL),
        sys_info,
        Object::Persistent(Box::new(pid)),
        Object::List(vec![Object::str(key)]),
    ] {
        out.extend(dumps(&obj, 2).expect("protocol 2 holds ints, strs, dicts and globals"));
    }
    out.extend_from_slice(&(n as u64).to_le_bytes());
    out.extend(elements.to_le_bytes());
    out
}

/// Row-major strides of a contiguous tensor, as torch computes them (a dimension of
/// size 0 counts as 1).
fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1].max(1);
    }
    strides
}

fn usize_tuple(v: &[usize]) -> Object {
    Object::Tuple(v.iter().map(|&x| Object::Int(x as i128)).collect())
}

/// A contiguous CPU tensor as `pickle.dumps(tensor)` reduces it:
/// `torch._utils._rebuild_tensor_v2(torch.storage._load_from_bytes(legacy), 0, shape,
/// strides, False, collections.OrderedDict())`, `legacy` being
/// [`torch_legacy_storage`]`(elements, storage_key)`. Errors when `shape` does not hold
/// exactly the elements.
pub fn torch_tensor(
    elements: Elements<'_>,
    shape: &[usize],
    storage_key: &str,
) -> Result<Object, String> {
    let numel: usize = shape.iter().product();
    if numel != elements.len() {
        return Err(format!(
            "torch tensor: shape {shape:?} holds {numel} elements, not {}",
            elements.len()
        ));
    }
    let storage = Object::call(
        "torch.storage",
        "_load_from_bytes",
        vec![Object::Bytes(torch_legacy_storage(elements, storage_key))],
    );
    Ok(Object::call(
        "torch._utils",
        "_rebuild_tensor_v2",
        vec![
            storage,
            Object::Int(0),
            usize_tuple(shape),
            usize_tuple(&contiguous_strides(shape)),
            Object::Bool(false),
            // The tensor's backward hooks: none.
            Object::call("collections", "OrderedDict", vec![]),
        ],
    ))
}

/// `numpy.dtype(code)` with its pickled state, as numpy 2 reduces a dtype.
fn numpy_dtype(code: &str, byte_order: &str, flags: i128) -> Object {
    Object::Reduce {
        callable: Box::new(Object::global("numpy", "dtype")),
        args: Box::new(Object::Tuple(vec![
            Object::str(code),
            Object::Bool(false),
            Object::Bool(true),
        ])),
        state: Some(Box::new(Object::Tuple(vec![
            Object::Int(3),
            Object::str(byte_order),
            Object::None,
            Object::None,
            Object::None,
            Object::Int(-1),
            Object::Int(-1),
            Object::Int(flags),
        ]))),
    }
}

/// A one-dimensional numpy array of numbers as numpy 2 reduces it under protocol 5:
/// `numpy._core.numeric._frombuffer(bytearray(data), dtype, (n,), 'C')`.
pub fn numpy_array(elements: Elements<'_>) -> Object {
    let (code, order) = elements.numpy_dtype();
    Object::call(
        "numpy._core.numeric",
        "_frombuffer",
        vec![
            Object::ByteArray(elements.to_le_bytes()),
            numpy_dtype(code, order, 0),
            usize_tuple(&[elements.len()]),
            Object::str("C"),
        ],
    )
}

/// A one-dimensional numpy array of Python objects (`dtype=object`) as numpy 2 reduces
/// it: `numpy._core.multiarray._reconstruct(numpy.ndarray, (0,), b'b')` with the state
/// `(1, (n,), dtype('O'), False, [items…])`.
pub fn numpy_object_array(items: Vec<Object>) -> Object {
    // dtype('O') carries the flags NPY_ITEM_REFCOUNT | NPY_ITEM_HASOBJECT | … = 63.
    const OBJECT_FLAGS: i128 = 63;
    Object::Reduce {
        callable: Box::new(Object::global("numpy._core.multiarray", "_reconstruct")),
        args: Box::new(Object::Tuple(vec![
            Object::global("numpy", "ndarray"),
            usize_tuple(&[0]),
            Object::Bytes(b"b".to_vec()),
        ])),
        state: Some(Box::new(Object::Tuple(vec![
            Object::Int(1),
            usize_tuple(&[items.len()]),
            numpy_dtype("O8", "|", OBJECT_FLAGS),
            Object::Bool(false),
            Object::List(items),
        ]))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pickle::{load, torch};

    /// A tensor written here is read back by the reader with its dtype, shape and values.
    #[test]
    fn tensors_read_back() {
        let pos = [0.5f64, -1.25, 3.0, 1e-300, f64::MAX, -0.0];
        let t = torch_tensor(Elements::F64(&pos), &[2, 3], "0").unwrap();
        let (v, _) = load(&dumps(&t, 5).unwrap()).unwrap();
        let back = torch::tensor(&v).unwrap();
        assert_eq!(back.dtype, torch::Dtype::F64);
        assert_eq!(back.shape, vec![2, 3]);
        assert_eq!(
            back.values.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            pos.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        let z = [1i64, 6, 8, 118];
        let t = torch_tensor(Elements::I64(&z), &[4], "12345").unwrap();
        let back = torch::tensor(&load(&dumps(&t, 5).unwrap()).unwrap().0).unwrap();
        assert_eq!(
            (back.dtype, back.values),
            (torch::Dtype::I64, vec![1.0, 6.0, 8.0, 118.0])
        );
        let t = torch_tensor(Elements::Bool(&[true, false, true]), &[1, 3], "k").unwrap();
        let back = torch::tensor(&load(&dumps(&t, 5).unwrap()).unwrap().0).unwrap();
        assert_eq!(
            (back.dtype, back.shape, back.values),
            (torch::Dtype::Bool, vec![1, 3], vec![1.0, 0.0, 1.0])
        );
        // No atoms: shape [0, 3], strides (3, 1) as torch has them.
        let t = torch_tensor(Elements::F32(&[]), &[0, 3], "0").unwrap();
        let back = torch::tensor(&load(&dumps(&t, 5).unwrap()).unwrap().0).unwrap();
        assert_eq!((back.shape, back.values.len()), (vec![0, 3], 0));
        assert_eq!(contiguous_strides(&[0, 3]), vec![3, 1]);
        assert_eq!(contiguous_strides(&[1, 3, 3]), vec![9, 3, 1]);
        let e = torch_tensor(Elements::F32(&[1.0]), &[2], "0").unwrap_err();
        assert!(e.contains("[2]"), "{e}");
    }
}
