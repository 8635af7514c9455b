//! [`Value`]: a pickle read as data.

/// A pickled value, as data.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer (pickle's longs up to 16 bytes; torch's magic number needs 10).
    Int(i128),
    /// A float.
    Float(f64),
    /// A `str`.
    Str(String),
    /// `bytes` (or a protocol-2 byte string).
    Bytes(Vec<u8>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A list.
    List(Vec<Value>),
    /// A dict, in insertion order.
    Dict(Vec<(Value, Value)>),
    /// A global name (`module.name`), never resolved.
    Global {
        /// The module.
        module: String,
        /// The name in it.
        name: String,
    },
    /// `callable(*args)`, recorded, not called; `state` is what `BUILD` set on it.
    Reduce {
        /// What would be called.
        callable: Box<Value>,
        /// Its argument tuple.
        args: Box<Value>,
        /// State from a following `BUILD`, if any.
        state: Option<Box<Value>>,
    },
    /// What a persistent id refers to (`persistent_load(pid)`), recorded.
    Persistent(Box<Value>),
}

impl Value {
    /// The integer, if this is one (bools count, as in Python).
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i128),
            _ => None,
        }
    }

    /// The items of a tuple or list.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(v) | Value::List(v) => Some(v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Looks a string key up in a dict.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(items) => items
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value as JSON, for plain data (configs, hyper-parameters): `None` → null,
    /// tuples → arrays, dicts with string keys → objects. Anything else (a tensor, an
    /// object) is an error naming where it sits below `path`.
    pub fn to_json(&self, path: &str) -> Result<serde_json::Value, String> {
        use serde_json::Value as J;
        Ok(match self {
            Value::None => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => match i64::try_from(*i) {
                Ok(i) => J::from(i),
                Err(_) => return Err(format!("`{path}`: integer {i} is out of range")),
            },
            Value::Float(x) => serde_json::Number::from_f64(*x)
                .map(J::Number)
                .ok_or_else(|| format!("`{path}`: {x} is not a finite number"))?,
            Value::Str(s) => J::String(s.clone()),
            Value::Tuple(items) | Value::List(items) => J::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v.to_json(&format!("{path}.{i}")))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Dict(items) => {
                let mut map = serde_json::Map::new();
                for (k, v) in items {
                    let key = match k {
                        Value::Str(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        other => {
                            return Err(format!("`{path}`: a dict key {other:?} is not a string"));
                        }
                    };
                    let value = v.to_json(&format!("{path}.{key}"))?;
                    map.insert(key, value);
                }
                J::Object(map)
            }
            Value::Bytes(_) => return Err(format!("`{path}` holds bytes, not plain data")),
            Value::Global { module, name } => {
                return Err(format!("`{path}` holds the Python object {module}.{name}"));
            }
            Value::Reduce { callable, .. } => {
                let what = match &**callable {
                    Value::Global { module, name } => format!("{module}.{name}"),
                    _ => "an object".to_string(),
                };
                return Err(format!("`{path}` holds {what}, not plain data"));
            }
            Value::Persistent(_) => return Err(format!("`{path}` holds a storage reference")),
        })
    }

    /// Whether this is the global `module.name`.
    pub fn is_global(&self, module: &str, name: &str) -> bool {
        matches!(self, Value::Global { module: m, name: n } if m == module && n == name)
    }
}
