//! A writer for the subset of Python's pickle format that nequip's datasets use, the
//! mirror of the reader in [`super`]: containers, strings, bytes, numbers, globals,
//! reductions and persistent ids, emitted the way CPython's `pickle.dumps` (its C
//! pickler) emits them, so that a file written here can equal one written by Python byte
//! for byte. On top of it, the reductions of torch tensors (as `pickle.dumps(tensor)`
//! writes them, storage in torch's legacy serialization) and of numpy arrays (as nequip's
//! `__metadata__` holds them).
//!
//! What "the way CPython emits them" means here, each point tied to CPython 3.11's
//! `Modules/_pickle.c` / `Lib/pickle.py`:
//! - protocol ≥ 4 output is cut into frames (`FRAME` + length) at the first object
//!   boundary after 64 KiB; a string or bytes of 64 KiB or more is written outside any
//!   frame;
//! - every str, bytes, tuple (but the empty one), list, dict, global and reduction is
//!   put in the memo (`MEMOIZE`, or `BINPUT` below protocol 4); ints, floats, bools and
//!   `None` are not;
//! - lists and dicts are filled in batches of 1000 (`APPENDS` / `SETITEMS`), a single
//!   item with `APPEND` / `SETITEM`;
//! - Python memoizes by object identity. An [`Object`] tree has no identities, so two
//!   rules stand in for it: equal globals are one object (a function or class is a
//!   singleton), and equal strings are one object (the strings in these files are
//!   identifiers and module names, which Python interns). Both match what nequip's files
//!   contain.

use std::collections::HashMap;

use super::Value;

mod arrays;

pub use arrays::{Elements, numpy_array, numpy_object_array, torch_legacy_storage, torch_tensor};

/// A Python object to pickle: the reader's [`Value`] plus `bytearray`, which numpy's
/// protocol-5 reduction produces and the reader folds into bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A float.
    Float(f64),
    /// A `str`.
    Str(String),
    /// `bytes` (protocol 3 and later).
    Bytes(Vec<u8>),
    /// `bytearray` (protocol 5).
    ByteArray(Vec<u8>),
    /// A tuple.
    Tuple(Vec<Object>),
    /// A list.
    List(Vec<Object>),
    /// A dict, in insertion order.
    Dict(Vec<(Object, Object)>),
    /// The global `module.name` (a function or class).
    Global {
        /// The module.
        module: String,
        /// The name in it.
        name: String,
    },
    /// `callable(*args)`, then `__setstate__(state)` when `state` is set.
    Reduce {
        /// What is called, usually a [`Object::Global`].
        callable: Box<Object>,
        /// Its arguments; must be a [`Object::Tuple`].
        args: Box<Object>,
        /// State applied by `BUILD`, if any.
        state: Option<Box<Object>>,
    },
    /// An object the loader gets from `persistent_load(pid)`; this is the pid.
    Persistent(Box<Object>),
}

impl Object {
    /// A string.
    pub fn str(s: impl Into<String>) -> Self {
        Object::Str(s.into())
    }

    /// The global `module.name`.
    pub fn global(module: &str, name: &str) -> Self {
        Object::Global {
            module: module.into(),
            name: name.into(),
        }
    }

    /// `module.name(*args)`.
    pub fn call(module: &str, name: &str, args: Vec<Object>) -> Self {
        Object::Reduce {
            callable: Box::new(Object::global(module, name)),
            args: Box::new(Object::Tuple(args)),
            state: None,
        }
    }
}

impl From<&Value> for Object {
    /// The same object; bytes stay bytes (the reader does not tell `bytearray` apart).
    fn from(v: &Value) -> Self {
        let all = |items: &[Value]| items.iter().map(Object::from).collect();
        match v {
            Value::None => Object::None,
            Value::Bool(b) => Object::Bool(*b),
            Value::Int(i) => Object::Int(*i),
            Value::Float(x) => Object::Float(*x),
            Value::Str(s) => Object::Str(s.clone()),
            Value::Bytes(b) => Object::Bytes(b.clone()),
            Value::Tuple(items) => Object::Tuple(all(items)),
            Value::List(items) => Object::List(all(items)),
            Value::Dict(items) => Object::Dict(
                items
                    .iter()
                    .map(|(k, v)| (Object::from(k), Object::from(v)))
                    .collect(),
            ),
            Value::Global { module, name } => Object::global(module, name),
            Value::Reduce {
                callable,
                args,
                state,
            } => Object::Reduce {
                callable: Box::new(Object::from(&**callable)),
                args: Box::new(Object::from(&**args)),
                state: state.as_ref().map(|s| Box::new(Object::from(&**s))),
            },
            Value::Persistent(pid) => Object::Persistent(Box::new(Object::from(&**pid))),
        }
    }
}

/// Frames are closed at the first object boundary past this size (CPython's
/// `FRAME_SIZE_TARGET`); strings and bytes this long bypass frames altogether.
const FRAME_SIZE_TARGET: usize = 64 * 1024;
/// A frame shorter than this gets no `FRAME` header (CPython's `FRAME_SIZE_MIN`).
const FRAME_SIZE_MIN: usize = 4;
/// `FRAME` opcode plus its 8-byte length.
const FRAME_HEADER: usize = 9;
/// Items per `APPENDS` / `SETITEMS` (CPython's `BATCHSIZE`).
const BATCH: usize = 1000;

/// The state of one `dumps`.
struct Pickler {
    protocol: u8,
    out: Vec<u8>,
    /// Where the open frame's header placeholder starts in `out`, if a frame is open.
    frame_start: Option<usize>,
    /// Memo entries so far (the next index).
    memo_len: u32,
    /// Memo index of each global already written (globals are singletons in Python).
    globals: HashMap<(String, String), u32>,
    /// Memo index of each string already written (interned in Python).
    strings: HashMap<String, u32>,
}

impl Pickler {
    fn framing(&self) -> bool {
        self.protocol >= 4
    }

    /// Appends to the output, opening a frame first when framing and none is open (as
    /// CPython's `_Pickler_Write` reserves a header lazily).
    fn write(&mut self, data: &[u8]) {
        if self.framing() && self.frame_start.is_none() {
            self.frame_start = Some(self.out.len());
            self.out.extend_from_slice(&[0; FRAME_HEADER]);
        }
        self.out.extend_from_slice(data);
    }

    /// Closes the open frame: fills its header, or drops the header of a frame too short
    /// to deserve one.
    fn commit_frame(&mut self) {
        if let Some(start) = self.frame_start.take() {
            let len = self.out.len() - start - FRAME_HEADER;
            if len >= FRAME_SIZE_MIN {
                self.out[start] = 0x95;
                self.out[start + 1..start + FRAME_HEADER]
                    .copy_from_slice(&(len as u64).to_le_bytes());
            } else {
                self.out.drain(start..start + FRAME_HEADER);
            }
        }
    }

    /// A large string or bytes object: the open frame is closed and the header and data
    /// go out unframed, so a loader can read them straight into place.
    fn write_large(&mut self, header: &[u8], payload: &[u8]) {
        self.commit_frame();
        self.out.extend_from_slice(header);
        self.out.extend_from_slice(payload);
    }

    fn memoize(&mut self) -> u32 {
        let index = self.memo_len;
        if self.protocol >= 4 {
            self.write(&[0x94]);
        } else if index < 256 {
            self.write(&[b'q', index as u8]);
        } else {
            let mut op = vec![b'r'];
            op.extend_from_slice(&index.to_le_bytes());
            self.write(&op);
        }
        self.memo_len += 1;
        index
    }

    fn get(&mut self, index: u32) {
        if index < 256 {
            self.write(&[b'h', index as u8]);
        } else {
            let mut op = vec![b'j'];
            op.extend_from_slice(&index.to_le_bytes());
            self.write(&op);
        }
    }

    fn save(&mut self, obj: &Object) -> Result<(), String> {
        // CPython's pure-Python pickler closes a full frame at the start of every save;
        // its C pickler produces the same frames.
        if let Some(start) = self.frame_start
            && self.out.len() - start - FRAME_HEADER >= FRAME_SIZE_TARGET
        {
            self.commit_frame();
        }
        match obj {
            Object::None => self.write(b"N"),
            Object::Bool(b) => self.write(&[if *b { 0x88 } else { 0x89 }]),
            Object::Int(i) => self.save_int(*i),
            Object::Float(x) => {
                let mut op = vec![b'G'];
                op.extend_from_slice(&x.to_be_bytes());
                self.write(&op);
            }
            Object::Str(s) => {
                if let Some(&index) = self.strings.get(s) {
                    self.get(index);
                } else {
                    self.save_str(s)?;
                    let index = self.memoize();
                    self.strings.insert(s.clone(), index);
                }
            }
            Object::Bytes(b) => {
                if self.protocol < 3 {
                    return Err("pickle: bytes need protocol 3 or later".into());
                }
                self.save_sized(0x43, b'B', 0x8e, b)?;
                self.memoize();
            }
            Object::ByteArray(b) => {
                if self.protocol < 5 {
                    return Err("pickle: bytearray needs protocol 5".into());
                }
                let mut header = vec![0x96];
                header.extend_from_slice(&(b.len() as u64).to_le_bytes());
                if b.len() >= FRAME_SIZE_TARGET {
                    self.write_large(&header, b);
                } else {
                    header.extend_from_slice(b);
                    self.write(&header);
                }
                self.memoize();
            }
            Object::Tuple(items) => self.save_tuple(items)?,
            Object::List(items) => self.save_list(items)?,
            Object::Dict(items) => self.save_dict(items)?,
            Object::Global { module, name } => self.save_global(module, name)?,
            Object::Reduce {
                callable,
                args,
                state,
            } => {
                if !matches!(**args, Object::Tuple(_)) {
                    return Err("pickle: the arguments of a reduction must be a tuple".into());
                }
                self.save(callable)?;
                self.save(args)?;
                self.write(b"R");
                self.memoize();
                if let Some(state) = state {
                    self.save(state)?;
                    self.write(b"b");
                }
            }
            Object::Persistent(pid) => {
                // The object itself is not memoized: the loader asks for it by its pid.
                self.save(pid)?;
                self.write(b"Q");
            }
        }
        Ok(())
    }

    /// A tuple: `EMPTY_TUPLE`, `TUPLE1..3` for up to three items, else `MARK … TUPLE`.
    fn save_tuple(&mut self, items: &[Object]) -> Result<(), String> {
        if items.is_empty() {
            // The empty tuple is a singleton that is never memoized.
            self.write(b")");
        } else if items.len() <= 3 {
            for item in items {
                self.save(item)?;
            }
            self.write(&[0x84 + items.len() as u8]);
            self.memoize();
        } else {
            self.write(b"(");
            for item in items {
                self.save(item)?;
            }
            self.write(b"t");
            self.memoize();
        }
        Ok(())
    }

    /// A list, filled as CPython's `batch_list_exact` does.
    fn save_list(&mut self, items: &[Object]) -> Result<(), String> {
        self.write(b"]");
        self.memoize();
        // CPython's batch_list_exact: one item alone, else batches of 1000, each
        // MARK … APPENDS.
        if let [item] = items {
            self.save(item)?;
            self.write(b"a");
        } else if !items.is_empty() {
            for batch in items.chunks(BATCH) {
                self.write(b"(");
                for item in batch {
                    self.save(item)?;
                }
                self.write(b"e");
            }
        }
        Ok(())
    }

    /// A dict, filled as CPython's `batch_dict_exact` does.
    fn save_dict(&mut self, items: &[(Object, Object)]) -> Result<(), String> {
        self.write(b"}");
        self.memoize();
        // CPython's batch_dict_exact: one item alone, else batches of 1000; a
        // full batch is always followed by another, so a dict of exactly 1000k
        // items ends with an empty MARK SETITEMS.
        if let [(k, v)] = items {
            self.save(k)?;
            self.save(v)?;
            self.write(b"s");
        } else if !items.is_empty() {
            let mut rest = items.iter();
            loop {
                self.write(b"(");
                let mut n = 0;
                for (k, v) in rest.by_ref().take(BATCH) {
                    self.save(k)?;
                    self.save(v)?;
                    n += 1;
                }
                self.write(b"u");
                if n < BATCH {
                    break;
                }
            }
        }
        Ok(())
    }

    /// A global by name (`STACK_GLOBAL` from protocol 4, `GLOBAL` before), memoized.
    fn save_global(&mut self, module: &str, name: &str) -> Result<(), String> {
        let key = (module.to_string(), name.to_string());
        if let Some(&index) = self.globals.get(&key) {
            self.get(index);
        } else {
            if self.protocol >= 4 {
                self.save(&Object::Str(module.to_string()))?;
                self.save(&Object::Str(name.to_string()))?;
                self.write(&[0x93]);
            } else {
                if module.contains('\n') || name.contains('\n') {
                    return Err(format!(
                        "pickle: a global name with a newline: {module}.{name}"
                    ));
                }
                self.write(format!("c{module}\n{name}\n").as_bytes());
            }
            let index = self.memoize();
            self.globals.insert(key, index);
        }
        Ok(())
    }

    /// An int in the shortest of BININT1 / BININT2 / BININT / LONG1, as Python chooses.
    fn save_int(&mut self, i: i128) {
        let mut op = Vec::with_capacity(18);
        if (0..=0xff).contains(&i) {
            op.extend_from_slice(&[b'K', i as u8]);
        } else if (0..=0xffff).contains(&i) {
            op.push(b'M');
            op.extend_from_slice(&(i as u16).to_le_bytes());
        } else if (i32::MIN as i128..=i32::MAX as i128).contains(&i) {
            op.push(b'J');
            op.extend_from_slice(&(i as i32).to_le_bytes());
        } else {
            let bytes = encode_long(i);
            op.extend_from_slice(&[0x8a, bytes.len() as u8]);
            op.extend_from_slice(&bytes);
        }
        self.write(&op);
    }

    /// A str: SHORT_BINUNICODE / BINUNICODE / BINUNICODE8 by length and protocol.
    fn save_str(&mut self, s: &str) -> Result<(), String> {
        let b = s.as_bytes();
        if self.protocol >= 4 {
            self.save_sized(0x8c, b'X', 0x8d, b)
        } else {
            let n =
                u32::try_from(b.len()).map_err(|_| "pickle: a str over 4 GiB needs protocol 4")?;
            let mut header = vec![b'X'];
            header.extend_from_slice(&n.to_le_bytes());
            self.write_maybe_large(&header, b);
            Ok(())
        }
    }

    /// The sized string/bytes opcodes: 1-byte length up to 255, 4-byte length up to
    /// 4 GiB, 8-byte length beyond (protocol 4); a 1-byte length is only used for str
    /// from protocol 4 and for bytes always, which the callers decide.
    fn save_sized(&mut self, short: u8, long: u8, huge: u8, b: &[u8]) -> Result<(), String> {
        if b.len() <= 0xff {
            let mut op = vec![short, b.len() as u8];
            op.extend_from_slice(b);
            self.write(&op);
        } else if let Ok(n) = u32::try_from(b.len()) {
            let mut header = vec![long];
            header.extend_from_slice(&n.to_le_bytes());
            self.write_maybe_large(&header, b);
        } else if self.protocol >= 4 {
            let mut header = vec![huge];
            header.extend_from_slice(&(b.len() as u64).to_le_bytes());
            self.write_large(&header, b);
        } else {
            return Err("pickle: an object over 4 GiB needs protocol 4".into());
        }
        Ok(())
    }

    fn write_maybe_large(&mut self, header: &[u8], payload: &[u8]) {
        if payload.len() >= FRAME_SIZE_TARGET {
            self.write_large(header, payload);
        } else {
            let mut op = header.to_vec();
            op.extend_from_slice(payload);
            self.write(&op);
        }
    }
}

/// Python's `pickle.encode_long`: the shortest little-endian two's complement bytes.
fn encode_long(x: i128) -> Vec<u8> {
    if x == 0 {
        return Vec::new();
    }
    let bit_length = 128 - x.unsigned_abs().leading_zeros() as usize;
    let n = (bit_length >> 3) + 1;
    // 17 bytes: i128::MIN needs one past 16 before the trimming below.
    let mut full = [if x < 0 { 0xff } else { 0 }; 17];
    full[..16].copy_from_slice(&x.to_le_bytes());
    let mut bytes = full[..n].to_vec();
    if x < 0 && n > 1 && bytes[n - 1] == 0xff && bytes[n - 2] & 0x80 != 0 {
        bytes.pop();
    }
    bytes
}

/// `pickle.dumps(obj, protocol)` for protocols 2 to 5. Errors name what the protocol
/// cannot hold (bytes below 3, bytearray below 5) or a reduction without a tuple of
/// arguments.
pub fn dumps(obj: &Object, protocol: u8) -> Result<Vec<u8>, String> {
    if !(2..=5).contains(&protocol) {
        return Err(format!(
            "pickle protocol {protocol} is not supported (2 to 5 are)"
        ));
    }
    let mut p = Pickler {
        protocol,
        out: Vec::new(),
        frame_start: None,
        memo_len: 0,
        globals: HashMap::new(),
        strings: HashMap::new(),
    };
    // PROTO precedes the first frame; STOP ends the last one.
    p.out.extend_from_slice(&[0x80, protocol]);
    p.save(obj)?;
    p.write(b".");
    p.commit_frame();
    Ok(p.out)
}

#[cfg(test)]
mod tests {
    use super::super::load;
    use super::*;

    fn s(x: &str) -> Object {
        Object::str(x)
    }

    /// `pickle.dumps({'a': [1, -2, 3.5, 'x', b'yz', None, True, (2**70,)]}, protocol=4)`
    /// by Python 3.11: the reader's sample, written back identically.
    #[test]
    fn writes_what_python_writes() {
        const SAMPLE: &[u8] = b"\x80\x04\x954\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94]\x94(K\x01J\xfe\xff\xff\xffG@\x0c\x00\x00\x00\x00\x00\x00\x8c\x01x\x94C\x02yz\x94N\x88\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@\x85\x94es.";
        let (v, _) = load(SAMPLE).unwrap();
        assert_eq!(dumps(&Object::from(&v), 4).unwrap(), SAMPLE);
    }

    /// Every integer size and sign, protocols 2 and 5, against Python 3.11's
    /// `pickle.dumps(ints, protocol=p)`.
    #[test]
    fn integers_take_python_s_opcodes() {
        let ints: Vec<i128> = vec![
            0,
            255,
            256,
            65535,
            65536,
            -1,
            -(1 << 31),
            (1 << 31) - 1,
            1 << 31,
            -(1 << 31) - 1,
            1 << 63,
            -(1 << 63),
            1 << 70,
            -(1 << 70),
            i128::MAX,
            i128::MIN,
            -128,
            -129,
            127,
            128,
        ];
        let body: &[u8] = b"K\x00K\xffM\x00\x01M\xff\xffJ\x00\x00\x01\x00J\xff\xff\xff\xffJ\x00\x00\x00\x80J\xff\xff\xff\x7f\x8a\x05\x00\x00\x00\x80\x00\x8a\x05\xff\xff\xff\x7f\xff\x8a\t\x00\x00\x00\x00\x00\x00\x00\x80\x00\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00@\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00\xc0\x8a\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f\x8a\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80J\x80\xff\xff\xffJ\x7f\xff\xff\xffK\x7fK\x80e.";
        let list = Object::List(ints.iter().map(|&i| Object::Int(i)).collect());
        let mut want2 = b"\x80\x02]q\x00(".to_vec();
        want2.extend_from_slice(body);
        assert_eq!(dumps(&list, 2).unwrap(), want2);
        let mut want5 = b"\x80\x05\x95\x8e\x00\x00\x00\x00\x00\x00\x00]\x94(".to_vec();
        want5.extend_from_slice(body);
        assert_eq!(dumps(&list, 5).unwrap(), want5);
        let (back, _) = load(&want5).unwrap();
        assert_eq!(Object::from(&back), list);
    }

    /// Equal strings are one memo entry (Python interns identifiers); one-item
    /// containers use APPEND / SETITEM; empty containers and the empty tuple; protocol 2
    /// memoizes with BINPUT and writes str as BINUNICODE.
    #[test]
    fn memo_and_small_containers() {
        // pickle.dumps(['numpy', 'numpy', ('numpy', 1.5, b'')], protocol=5)
        let obj = Object::List(vec![
            s("numpy"),
            s("numpy"),
            Object::Tuple(vec![s("numpy"), Object::Float(1.5), Object::Bytes(vec![])]),
        ]);
        assert_eq!(
            dumps(&obj, 5).unwrap(),
            b"\x80\x05\x95\x1f\x00\x00\x00\x00\x00\x00\x00]\x94(\x8c\x05numpy\x94h\x01h\x01G?\xf8\x00\x00\x00\x00\x00\x00C\x00\x94\x87\x94e."
        );
        // pickle.dumps({"k": [7]}, protocol=5)
        let obj = Object::Dict(vec![(s("k"), Object::List(vec![Object::Int(7)]))]);
        assert_eq!(
            dumps(&obj, 5).unwrap(),
            b"\x80\x05\x95\r\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01k\x94]\x94K\x07as."
        );
        // pickle.dumps({'k': {}, 'l': [], 't': (), 'u': (1, 2, 3, 4)}, protocol=2)
        let obj = Object::Dict(vec![
            (s("k"), Object::Dict(vec![])),
            (s("l"), Object::List(vec![])),
            (s("t"), Object::Tuple(vec![])),
            (s("u"), Object::Tuple((1..=4).map(Object::Int).collect())),
        ]);
        assert_eq!(
            dumps(&obj, 2).unwrap(),
            b"\x80\x02}q\x00(X\x01\x00\x00\x00kq\x01}q\x02X\x01\x00\x00\x00lq\x03]q\x04X\x01\x00\x00\x00tq\x05)X\x01\x00\x00\x00uq\x06(K\x01K\x02K\x03K\x04tq\x07u."
        );
        // A frame under 4 bytes gets no header: pickle.dumps(None, protocol=5).
        assert_eq!(dumps(&Object::None, 5).unwrap(), b"\x80\x05N.");
    }

    /// FNV-1a, to compare long outputs with Python's without storing them.
    fn fnv(b: &[u8]) -> u64 {
        b.iter().fold(0xcbf29ce484222325, |h, &x| {
            (h ^ x as u64).wrapping_mul(0x100000001b3)
        })
    }

    /// Frames split past 64 KiB, large bytes / str / bytearray outside frames, batches of
    /// 1000 (with the empty trailing SETITEMS of a 1000-item dict), memo indices past 255
    /// (BINGET → LONG_BINGET, BINPUT → LONG_BINPUT): length and FNV-1a of Python 3.11's
    /// output for the same objects.
    #[test]
    fn large_objects_frame_like_python() {
        let ints = |n: i128| -> Vec<Object> { (0..n).map(Object::Int).collect() };
        // [bytes(70000), 'y'*70000, list(range(1001)), {str(i): i for i in range(1000)},
        //  bytearray(b'\x01'*66000), [bytearray(b'ab')], 'z'*300, b'w'*300]
        let big = Object::List(vec![
            Object::Bytes(vec![0; 70000]),
            s(&"y".repeat(70000)),
            Object::List(ints(1001)),
            Object::Dict(
                (0..1000)
                    .map(|i| (s(&i.to_string()), Object::Int(i)))
                    .collect(),
            ),
            Object::ByteArray(vec![1; 66000]),
            Object::List(vec![Object::ByteArray(b"ab".to_vec())]),
            s(&"z".repeat(300)),
            Object::Bytes(vec![b'w'; 300]),
        ]);
        let b = dumps(&big, 5).unwrap();
        assert_eq!((b.len(), fnv(&b)), (218067, 0xea346add3b9ad5ff));
        // [[str(i)*20 for i in range(5000)], {'a': (1,)*2000}]
        let big2 = Object::List(vec![
            Object::List((0..5000).map(|i| s(&i.to_string().repeat(20))).collect()),
            Object::Dict(vec![(s("a"), Object::Tuple(vec![Object::Int(1); 2000]))]),
        ]);
        let b = dumps(&big2, 5).unwrap();
        assert_eq!((b.len(), fnv(&b)), (396892, 0x96a83f49e2fee93b));
        let b = dumps(&big2, 2).unwrap();
        assert_eq!((b.len(), fnv(&b)), (431084, 0xddcfcb23bced728));
        // The reader takes them back.
        let (back, used) = load(&b).unwrap();
        assert_eq!(used, b.len());
        assert_eq!(Object::from(&back), big2);
    }

    #[test]
    fn what_a_protocol_cannot_hold_is_an_error() {
        let e = dumps(&Object::Bytes(vec![1]), 2).unwrap_err();
        assert!(e.contains("protocol 3"), "{e}");
        let e = dumps(&Object::ByteArray(vec![1]), 4).unwrap_err();
        assert!(e.contains("protocol 5"), "{e}");
        let e = dumps(&Object::None, 6).unwrap_err();
        assert!(e.contains("protocol 6"), "{e}");
        let bad = Object::Reduce {
            callable: Box::new(Object::global("m", "f")),
            args: Box::new(Object::Int(1)),
            state: None,
        };
        assert!(dumps(&bad, 5).unwrap_err().contains("tuple"));
    }
}
