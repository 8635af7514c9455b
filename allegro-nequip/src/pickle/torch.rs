//! Torch tensors inside pickles, as `pickle.dumps(tensor)` writes them:
//! `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`
//! whose storage is `torch.storage._load_from_bytes(b)`, `b` being torch's legacy (non-zip)
//! serialization: five pickles (magic number, protocol version, system info, the storage
//! as a persistent id, the list of storage keys) followed by each storage's element count
//! (8 bytes, little-endian) and raw little-endian data.

use super::{Value, load};

/// torch's legacy-format magic number.
const MAGIC: i128 = 0x1950a86a20f9469cfc6c;
/// The legacy-format protocol version torch writes and reads.
const PROTOCOL: i128 = 1001;
/// Elements a tensor may hold beyond those stored (a broadcast view, strides of 0).
const BROADCAST_LIMIT: usize = 1 << 20;

/// Element type of a storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// `torch.float32`
    F32,
    /// `torch.float64`
    F64,
    /// `torch.int64`
    I64,
    /// `torch.int32`
    I32,
    /// `torch.uint8`
    U8,
    /// `torch.bool`
    Bool,
}

impl Dtype {
    fn from_storage_name(name: &str) -> Result<Self, String> {
        Ok(match name {
            "FloatStorage" => Dtype::F32,
            "DoubleStorage" => Dtype::F64,
            "LongStorage" => Dtype::I64,
            "IntStorage" => Dtype::I32,
            "ByteStorage" => Dtype::U8,
            "BoolStorage" => Dtype::Bool,
            other => return Err(format!("torch storage type {other} is not supported")),
        })
    }

    /// Whether values of this type are floating point.
    pub fn is_float(self) -> bool {
        matches!(self, Dtype::F32 | Dtype::F64)
    }

    fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::U8 | Dtype::Bool => 1,
        }
    }

    fn element(self, b: &[u8]) -> f64 {
        match self {
            Dtype::F32 => f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64,
            Dtype::F64 => f64::from_le_bytes(b.try_into().expect("8 bytes")),
            Dtype::I64 => i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64,
            Dtype::I32 => i32::from_le_bytes(b.try_into().expect("4 bytes")) as f64,
            Dtype::U8 | Dtype::Bool => b[0] as f64,
        }
    }
}

/// A tensor read from a pickle: its dtype, shape and values in row-major order (as
/// `f64`, which holds every value of these dtypes exactly except int64 beyond 2⁵³).
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Element type.
    pub dtype: Dtype,
    /// Shape.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f64>,
}

impl Tensor {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A storage's dtype and raw bytes.
struct Storage {
    dtype: Dtype,
    bytes: Vec<u8>,
}

/// The dtype and key of a persistent storage id
/// `('storage', torch.XStorage, key, location, numel)`.
fn storage_reference(pid: &Value) -> Result<(Dtype, String), String> {
    let fields = pid
        .as_seq()
        .ok_or("torch storage: malformed persistent id")?;
    match fields {
        // torch.save writes the key as a string, torch.package as an integer.
        [Value::Str(tag), Value::Global { name, .. }, key, ..] if tag == "storage" => {
            let key = match key {
                Value::Str(k) => k.clone(),
                Value::Int(k) => k.to_string(),
                other => return Err(format!("torch storage: bad key {}", brief(other))),
            };
            Ok((Dtype::from_storage_name(name)?, key))
        }
        _ => Err(format!(
            "torch storage: unexpected persistent id {}",
            brief(pid)
        )),
    }
}

/// A short description of a value for error messages (tensors can hold megabytes).
fn brief(v: &Value) -> String {
    let s = format!("{v:?}");
    match s.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s,
    }
}

/// Parses `torch.storage._load_from_bytes`'s argument.
fn legacy_storage(b: &[u8]) -> Result<Storage, String> {
    let mut pos = 0;
    let mut next = |what: &str| -> Result<Value, String> {
        let (v, used) = load(&b[pos..]).map_err(|e| format!("torch storage ({what}): {e}"))?;
        pos += used;
        Ok(v)
    };
    if next("magic number")?.as_int() != Some(MAGIC) {
        return Err("torch storage: not torch's legacy format (wrong magic number)".into());
    }
    if next("protocol")?.as_int() != Some(PROTOCOL) {
        return Err("torch storage: unknown legacy protocol version".into());
    }
    let sys = next("system info")?;
    if sys.get("little_endian") == Some(&Value::Bool(false)) {
        return Err("torch storage: big-endian data is not supported".into());
    }
    // ('storage', torch.XStorage, key, location, numel, view_metadata)
    let pid = match next("storage")? {
        Value::Persistent(pid) => *pid,
        other => {
            return Err(format!(
                "torch storage: expected a storage, found {other:?}"
            ));
        }
    };
    let (dtype, key) = storage_reference(&pid)?;
    let keys = next("storage keys")?;
    let keys = keys.as_seq().ok_or("torch storage: malformed key list")?;
    if keys.len() != 1 || keys[0].as_str() != Some(key.as_str()) {
        return Err("torch storage: expected exactly its own storage in the key list".into());
    }
    let count = b
        .get(pos..pos + 8)
        .ok_or("torch storage: truncated before the element count")?;
    let count = u64::from_le_bytes(count.try_into().expect("8 bytes"));
    // Checked against the bytes present before anything is allocated: a damaged count
    // cannot ask for terabytes.
    let data = &b[pos + 8..];
    let bytes = usize::try_from(count)
        .ok()
        .and_then(|c| c.checked_mul(dtype.size()))
        .and_then(|n| data.get(..n))
        .ok_or_else(|| {
            format!(
                "torch storage: {count} elements of {} bytes announced, {} bytes present",
                dtype.size(),
                data.len()
            )
        })?;
    Ok(Storage {
        dtype,
        bytes: bytes.to_vec(),
    })
}

fn usizes(v: &Value, what: &str) -> Result<Vec<usize>, String> {
    v.as_seq()
        .ok_or_else(|| format!("torch tensor: {what} is not a tuple"))?
        .iter()
        .map(|x| {
            x.as_int()
                .and_then(|i| usize::try_from(i).ok())
                .ok_or_else(|| format!("torch tensor: bad {what} entry {x:?}"))
        })
        .collect()
}

/// The tensor a pickled value stands for (`_rebuild_tensor_v2` over a legacy storage, as
/// `pickle.dumps(tensor)` writes it).
pub fn tensor(v: &Value) -> Result<Tensor, String> {
    tensor_with(v, &|_| {
        Err("torch tensor: a storage by reference outside an archive".to_string())
    })
}

/// The tensor a pickled value stands for, its storage either inline (legacy) or a
/// persistent reference `('storage', torch.XStorage, key, location, numel)` whose bytes
/// `storage_bytes(key)` reads (`torch.save`'s zip archives). `torch._utils._rebuild_parameter`
/// (an `nn.Parameter`) is read as its tensor.
pub fn tensor_with(
    v: &Value,
    storage_bytes: &dyn Fn(&str) -> Result<Vec<u8>, String>,
) -> Result<Tensor, String> {
    let Value::Reduce { callable, args, .. } = v else {
        return Err(format!("not a pickled tensor: {}", brief(v)));
    };
    if callable.is_global("torch._utils", "_rebuild_parameter") {
        return match args.as_seq() {
            Some([inner, ..]) => tensor_with(inner, storage_bytes),
            _ => Err("torch parameter: malformed arguments".into()),
        };
    }
    if !callable.is_global("torch._utils", "_rebuild_tensor_v2") {
        return Err(format!(
            "not a pickled tensor: built by {}",
            brief(callable)
        ));
    }
    let args = args.as_seq().ok_or("torch tensor: malformed arguments")?;
    let [storage, offset, size, stride, ..] = args else {
        return Err("torch tensor: too few arguments".into());
    };
    let storage = match storage {
        Value::Reduce { callable, args, .. }
            if callable.is_global("torch.storage", "_load_from_bytes") =>
        {
            match args.as_seq() {
                Some([Value::Bytes(b)]) => legacy_storage(b)?,
                _ => return Err("torch tensor: malformed _load_from_bytes".into()),
            }
        }
        Value::Persistent(pid) => {
            let (dtype, key) = storage_reference(pid)?;
            Storage {
                dtype,
                bytes: storage_bytes(&key)?,
            }
        }
        other => {
            return Err(format!(
                "torch tensor: unsupported storage {}",
                brief(other)
            ));
        }
    };
    let offset = offset
        .as_int()
        .and_then(|i| usize::try_from(i).ok())
        .ok_or("torch tensor: bad storage offset")?;
    let shape = usizes(size, "size")?;
    let stride = usizes(stride, "stride")?;
    if shape.len() != stride.len() {
        return Err("torch tensor: size and stride differ in rank".into());
    }
    let elem = storage.dtype.size();
    let available = storage.bytes.len() / elem;
    let numel = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("torch tensor: size {shape:?} overflows"))?;
    // The last element's index bounds every other (strides are not negative), so one
    // check before anything is allocated keeps reads inside the storage; a stride of 0
    // (a broadcast view) repeats elements, up to a bound.
    if numel > 0 {
        let last = shape.iter().zip(&stride).try_fold(offset, |at, (&d, &s)| {
            at.checked_add((d - 1).checked_mul(s)?)
        });
        match last {
            Some(last) if last < available => {}
            _ => {
                return Err(format!(
                    "torch tensor: size {shape:?}, stride {stride:?} and offset {offset} \
                     reach beyond its storage of {available} elements"
                ));
            }
        }
    }
    if numel > available.max(BROADCAST_LIMIT) {
        return Err(format!(
            "torch tensor: size {shape:?} repeats its {available} stored elements into \
             {numel}: refused"
        ));
    }
    let mut values = Vec::with_capacity(numel);
    let mut index = vec![0usize; shape.len()];
    for _ in 0..numel {
        let at = offset + index.iter().zip(&stride).map(|(i, s)| i * s).sum::<usize>();
        values.push(
            storage
                .dtype
                .element(&storage.bytes[at * elem..(at + 1) * elem]),
        );
        for d in (0..shape.len()).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok(Tensor {
        dtype: storage.dtype,
        shape,
        values,
    })
}
