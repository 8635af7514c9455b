//! A reader for the subset of Python's pickle format that nequip's datasets use:
//! protocols 2–5, containers, strings and bytes, numbers, globals, `REDUCE`/`BUILD` kept as
//! plain data (nothing is ever imported or called), and persistent ids. It turns a
//! pickle into a [`Value`] tree that [`torch`] then interprets.
//!
//! Reading a pickle this way cannot run code: a global is only a name, a reduction only
//! a record of the callable's name and its arguments.
//!
//! [`writer`] is the mirror: it writes this subset (and torch's tensor reduction) the way
//! CPython does.

pub mod globals;
mod machine;
pub mod torch;
pub mod torch_archive;
mod value;
pub mod writer;

pub use globals::Globals;
pub use value::Value;

/// Bounds on what reading one pickle may build, so that a damaged or hostile file cannot
/// exhaust the stack or memory. The defaults are far above what nequip's files need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Nesting of the value read: containers inside containers. Deeper nesting only
    /// arises from self-referencing objects, which no file nequip writes contains.
    pub max_depth: usize,
    /// Entries of the memo (objects a pickle refers to again).
    pub max_memo: usize,
    /// Bytes of the value read, per byte of input (plus 1 MiB): one object referred to
    /// many times is copied each time, so a small pickle could otherwise describe an
    /// exponentially large value ("billion laughs").
    pub output_per_input_byte: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 256,
            max_memo: 1 << 22,
            output_per_input_byte: 64,
        }
    }
}

/// How to read a pickle: which globals it may name, and its [`Limits`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// The allow-list of globals.
    pub globals: Globals,
    /// Size and nesting bounds.
    pub limits: Limits,
}

/// Reads one pickle from the start of `data`, naming only [`Globals::TorchData`] within
/// the default [`Limits`]; returns its value and the bytes it took. Errors give the byte
/// offset of the opcode where reading failed.
pub fn load(data: &[u8]) -> Result<(Value, usize), String> {
    load_with(data, &Options::default()).map_err(|e| e.to_string())
}

/// Why a pickle could not be read, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// Byte offset, in the pickle, of the opcode where reading failed.
    pub offset: usize,
    /// That opcode (`None` when the data ended before one).
    pub opcode: Option<u8>,
    /// What is wrong.
    pub message: String,
}

impl LoadError {
    /// The opcode, in words: `opcode 0x63` or `end of data`.
    pub fn opcode_name(&self) -> String {
        match self.opcode {
            Some(op) => format!("opcode 0x{op:02x}"),
            None => "end of data".to_string(),
        }
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pickle byte {} ({}): {}",
            self.offset,
            self.opcode_name(),
            self.message
        )
    }
}

impl std::error::Error for LoadError {}

/// [`load`] with the given allow-list and limits.
pub fn load_with(data: &[u8], options: &Options) -> Result<(Value, usize), LoadError> {
    machine::run(data, options).map_err(|(offset, message)| LoadError {
        offset,
        opcode: data.get(offset).copied(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pickle.dumps({'a': [1, -2, 3.5, 'x', b'yz', None, True, (2**70,)]}, protocol=4)`,
    /// written out by Python 3.11.
    const SAMPLE: &[u8] = b"\x80\x04\x954\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94]\x94(K\x01J\xfe\xff\xff\xffG@\x0c\x00\x00\x00\x00\x00\x00\x8c\x01x\x94C\x02yz\x94N\x88\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@\x85\x94es.";

    #[test]
    fn reads_containers_and_scalars() {
        let (v, used) = load(SAMPLE).unwrap();
        assert_eq!(used, SAMPLE.len());
        let list = v.get("a").unwrap().as_seq().unwrap();
        assert_eq!(
            list,
            &[
                Value::Int(1),
                Value::Int(-2),
                Value::Float(3.5),
                Value::Str("x".into()),
                Value::Bytes(b"yz".to_vec()),
                Value::None,
                Value::Bool(true),
                Value::Tuple(vec![Value::Int(1i128 << 70)]),
            ]
        );
    }

    #[test]
    fn truncated_and_unknown_input_are_errors() {
        for n in [0, 5, 20, SAMPLE.len() - 1] {
            assert!(load(&SAMPLE[..n]).is_err(), "{n} bytes");
        }
        let e = load(b"\x80\x02\xff.").unwrap_err();
        assert!(e.contains("0xff"), "{e}");
        let e = load(b"\x80\x09.").unwrap_err();
        assert!(e.contains("protocol 9"), "{e}");
    }

    /// `l = [1]; d = {'k': l}; pickle.dumps([l, l, d, d], protocol=4)`: containers are
    /// memoized empty and filled afterwards, so later references must see the items.
    #[test]
    fn memo_references_see_later_items() {
        let data = b"\x80\x04\x95\x17\x00\x00\x00\x00\x00\x00\x00]\x94(]\x94K\x01ah\x01}\x94\x8c\x01k\x94h\x01sh\x02e.";
        let (v, _) = load(data).unwrap();
        let l = Value::List(vec![Value::Int(1)]);
        let d = Value::Dict(vec![(Value::Str("k".into()), l.clone())]);
        assert_eq!(v, Value::List(vec![l.clone(), l, d.clone(), d]));
    }

    /// `pickle.dumps(collections.OrderedDict(a=1), protocol=2)`: read as a dict.
    #[test]
    fn ordered_dict_is_a_dict() {
        let data = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x01\x00\x00\x00aq\x02K\x01s.";
        let (v, _) = load(data).unwrap();
        assert_eq!(
            v,
            Value::Dict(vec![(Value::Str("a".into()), Value::Int(1))])
        );
        // Items set on another (allowed) class's instance are refused, naming the class.
        let other = b"\x80\x02ctorch\nSize\nq\x00)Rq\x01X\x01\x00\x00\x00aq\x02K\x01s.";
        let e = load(other).unwrap_err();
        assert!(
            e.contains("torch.Size") && e.contains("not read as a dict"),
            "{e}"
        );
    }

    /// `a = []; a.append(a); pickle.dumps(a, protocol=4)`: refused, not a stack overflow.
    #[test]
    fn self_reference_is_an_error() {
        let data = b"\x80\x04\x95\x06\x00\x00\x00\x00\x00\x00\x00]\x94h\x00a.";
        let e = load(data).unwrap_err();
        assert!(e.contains("self-referencing"), "{e}");
    }
}
