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

pub mod torch;
pub mod torch_archive;
pub mod writer;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

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

/// The byte reader of one pickle.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| format!("truncated pickle: {n} bytes wanted at offset {}", self.pos))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn len(&mut self, n: u64) -> Result<usize, String> {
        usize::try_from(n).map_err(|_| format!("length {n} does not fit in memory"))
    }

    fn line(&mut self) -> Result<String, String> {
        let rest = &self.data[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("truncated pickle: a line without its newline")?;
        let s = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.pos += end + 1;
        Ok(s)
    }
}

fn text(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a pickled str is not UTF-8".to_string())
}

/// Little-endian two's-complement integer of `bytes` (pickle's LONG1 / LONG4).
fn long(bytes: &[u8]) -> Result<i128, String> {
    if bytes.len() > 16 {
        return Err(format!(
            "an integer of {} bytes is out of range",
            bytes.len()
        ));
    }
    let mut v: i128 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        v |= (b as i128) << (8 * i);
    }
    if let Some(&last) = bytes.last()
        && last & 0x80 != 0
        && bytes.len() < 16
    {
        v -= 1i128 << (8 * bytes.len());
    }
    Ok(v)
}

/// A value under construction. Pickle objects are references: a container put in the
/// memo is later filled by `APPENDS`/`SETITEMS`/`BUILD`, and every memo reference must see
/// that, so the machine works on shared nodes and copies them out into [`Value`]s at the
/// end.
type Slot = Rc<RefCell<Node>>;

/// [`Value`] with children as shared slots.
enum Node {
    Leaf(Value),
    Tuple(Vec<Slot>),
    List(Vec<Slot>),
    Dict(Vec<(Slot, Slot)>),
    Reduce {
        callable: Slot,
        args: Slot,
        state: Option<Slot>,
    },
    Persistent(Slot),
}

fn slot(node: Node) -> Slot {
    Rc::new(RefCell::new(node))
}

fn leaf(v: Value) -> Slot {
    slot(Node::Leaf(v))
}

/// Nesting deeper than this is refused: it only arises from self-referencing objects,
/// which no data file nequip writes contains.
const MAX_DEPTH: usize = 256;

/// The value a slot holds, copied out (shared parts become copies).
fn freeze(s: &Slot, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "pickle: objects nested deeper than {MAX_DEPTH} (a self-referencing object?)"
        ));
    }
    let all = |items: &[Slot]| -> Result<Vec<Value>, String> {
        items.iter().map(|i| freeze(i, depth + 1)).collect()
    };
    Ok(match &*s.borrow() {
        Node::Leaf(v) => v.clone(),
        Node::Tuple(items) => Value::Tuple(all(items)?),
        Node::List(items) => Value::List(all(items)?),
        Node::Dict(items) => Value::Dict(
            items
                .iter()
                .map(|(k, v)| Ok((freeze(k, depth + 1)?, freeze(v, depth + 1)?)))
                .collect::<Result<_, String>>()?,
        ),
        Node::Reduce {
            callable,
            args,
            state,
        } => Value::Reduce {
            callable: Box::new(freeze(callable, depth + 1)?),
            args: Box::new(freeze(args, depth + 1)?),
            state: match state {
                Some(st) => Some(Box::new(freeze(st, depth + 1)?)),
                None => None,
            },
        },
        Node::Persistent(pid) => Value::Persistent(Box::new(freeze(pid, depth + 1)?)),
    })
}

/// The memo. Objects that reference themselves form `Rc` cycles, and any such cycle
/// passes through a memoized object (the only way to refer to one twice), so emptying
/// the memoized nodes when reading ends frees everything.
struct Memo(HashMap<u32, Slot>);

impl Drop for Memo {
    fn drop(&mut self) {
        for s in self.0.values() {
            if let Ok(mut node) = s.try_borrow_mut() {
                *node = Node::Leaf(Value::None);
            }
        }
    }
}

/// Reads one pickle from the start of `data`; returns its value and the bytes it took.
pub fn load(data: &[u8]) -> Result<(Value, usize), String> {
    let mut r = Reader { data, pos: 0 };
    let mut stack: Vec<Slot> = Vec::new();
    let mut marks: Vec<usize> = Vec::new();
    let mut memo = Memo(HashMap::new());
    let pop = |stack: &mut Vec<Slot>| {
        stack
            .pop()
            .ok_or_else(|| "pickle stack underflow".to_string())
    };
    let pop_mark = |stack: &mut Vec<Slot>, marks: &mut Vec<usize>| -> Result<Vec<Slot>, String> {
        let m = marks.pop().ok_or("pickle: no MARK")?;
        if m > stack.len() {
            return Err("pickle: MARK beyond the stack".into());
        }
        Ok(stack.split_off(m))
    };
    let top = |stack: &Vec<Slot>, what: &str| -> Result<Slot, String> {
        stack
            .last()
            .cloned()
            .ok_or_else(|| format!("pickle: {what} on an empty stack"))
    };
    loop {
        let op = r.u8()?;
        match op {
            0x80 => {
                // PROTO
                let p = r.u8()?;
                if p > 5 {
                    return Err(format!("pickle protocol {p} is newer than 5"));
                }
            }
            0x95 => {
                // FRAME: a length prefix only.
                r.u64()?;
            }
            b'.' => {
                let v = pop(&mut stack)?;
                return Ok((freeze(&v, 0)?, r.pos));
            }
            b'(' => marks.push(stack.len()),
            b'}' => stack.push(slot(Node::Dict(Vec::new()))),
            b']' | 0x8f => stack.push(slot(Node::List(Vec::new()))),
            b')' => stack.push(slot(Node::Tuple(Vec::new()))),
            b'N' => stack.push(leaf(Value::None)),
            0x88 => stack.push(leaf(Value::Bool(true))),
            0x89 => stack.push(leaf(Value::Bool(false))),
            b'K' => stack.push(leaf(Value::Int(r.u8()? as i128))),
            b'M' => stack.push(leaf(Value::Int(r.u16()? as i128))),
            b'J' => stack.push(leaf(Value::Int(r.u32()? as i32 as i128))),
            0x8a => {
                let n = r.u8()? as usize;
                stack.push(leaf(Value::Int(long(r.take(n)?)?)));
            }
            0x8b => {
                let n = r.u32()? as u64;
                let n = r.len(n)?;
                stack.push(leaf(Value::Int(long(r.take(n)?)?)));
            }
            b'G' => {
                let b: [u8; 8] = r.take(8)?.try_into().expect("8 bytes");
                stack.push(leaf(Value::Float(f64::from_be_bytes(b))));
            }
            0x8c => {
                let n = r.u8()? as usize;
                stack.push(leaf(Value::Str(text(r.take(n)?)?)));
            }
            b'X' => {
                let n = r.u32()? as u64;
                let n = r.len(n)?;
                stack.push(leaf(Value::Str(text(r.take(n)?)?)));
            }
            0x8d => {
                let n = r.u64()?;
                let n = r.len(n)?;
                stack.push(leaf(Value::Str(text(r.take(n)?)?)));
            }
            b'C' | b'U' => {
                let n = r.u8()? as usize;
                stack.push(leaf(Value::Bytes(r.take(n)?.to_vec())));
            }
            b'B' | b'T' => {
                let n = r.u32()? as u64;
                let n = r.len(n)?;
                stack.push(leaf(Value::Bytes(r.take(n)?.to_vec())));
            }
            0x8e | 0x96 => {
                let n = r.u64()?;
                let n = r.len(n)?;
                stack.push(leaf(Value::Bytes(r.take(n)?.to_vec())));
            }
            0x94 => {
                // MEMOIZE
                let v = top(&stack, "MEMOIZE")?;
                memo.0.insert(memo.0.len() as u32, v);
            }
            b'q' => {
                let k = r.u8()? as u32;
                memo.0.insert(k, top(&stack, "BINPUT")?);
            }
            b'r' => {
                let k = r.u32()?;
                memo.0.insert(k, top(&stack, "LONG_BINPUT")?);
            }
            b'h' | b'j' => {
                let k = if op == b'h' { r.u8()? as u32 } else { r.u32()? };
                let v = memo
                    .0
                    .get(&k)
                    .ok_or_else(|| format!("pickle: memo entry {k} missing"))?
                    .clone();
                stack.push(v);
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err("pickle stack underflow".into());
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(slot(Node::Tuple(items)));
            }
            b't' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(slot(Node::Tuple(items)));
            }
            b'l' | 0x91 => {
                // LIST, FROZENSET: sets are read as lists.
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(slot(Node::List(items)));
            }
            b'd' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(slot(Node::Dict(pairs(items)?)));
            }
            b'a' => {
                let v = pop(&mut stack)?;
                match &mut *top(&stack, "APPEND")?.borrow_mut() {
                    Node::List(l) => l.push(v),
                    _ => return Err("pickle: APPEND to a non-list".into()),
                }
            }
            b'e' | 0x90 => {
                // APPENDS, ADDITEMS (to a set, read as a list)
                let items = pop_mark(&mut stack, &mut marks)?;
                match &mut *top(&stack, "APPENDS")?.borrow_mut() {
                    Node::List(l) => l.extend(items),
                    _ => return Err("pickle: APPENDS to a non-list".into()),
                }
            }
            b's' => {
                let v = pop(&mut stack)?;
                let k = pop(&mut stack)?;
                set_items(&top(&stack, "SETITEM")?, vec![(k, v)])?;
            }
            b'u' => {
                let items = pairs(pop_mark(&mut stack, &mut marks)?)?;
                set_items(&top(&stack, "SETITEMS")?, items)?;
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                stack.push(leaf(Value::Global { module, name }));
            }
            0x93 => {
                let name = pop(&mut stack)?;
                let module = pop(&mut stack)?;
                let (module, name) = (freeze(&module, 0)?, freeze(&name, 0)?);
                match (module, name) {
                    (Value::Str(module), Value::Str(name)) => {
                        stack.push(leaf(Value::Global { module, name }))
                    }
                    _ => return Err("pickle: STACK_GLOBAL of non-strings".into()),
                }
            }
            b'R' | 0x81 => {
                let args = pop(&mut stack)?;
                let callable = pop(&mut stack)?;
                stack.push(slot(Node::Reduce {
                    callable,
                    args,
                    state: None,
                }));
            }
            0x92 => {
                // NEWOBJ_EX: cls, args, kwargs
                let _kwargs = pop(&mut stack)?;
                let args = pop(&mut stack)?;
                let callable = pop(&mut stack)?;
                stack.push(slot(Node::Reduce {
                    callable,
                    args,
                    state: None,
                }));
            }
            b'b' => {
                let s = pop(&mut stack)?;
                if let Node::Reduce { state, .. } = &mut *top(&stack, "BUILD")?.borrow_mut() {
                    *state = Some(s);
                }
                // BUILD on other values (e.g. a dict's __setstate__) keeps the value.
            }
            b'Q' => {
                let pid = pop(&mut stack)?;
                stack.push(slot(Node::Persistent(pid)));
            }
            b'P' => {
                let pid = r.line()?;
                stack.push(slot(Node::Persistent(leaf(Value::Str(pid)))));
            }
            other => {
                return Err(format!(
                    "pickle opcode 0x{other:02x} at offset {} is not supported",
                    r.pos - 1
                ));
            }
        }
    }
}

/// Dict classes whose reduction `cls()` followed by `SETITEMS` is read as a plain dict
/// (`collections.OrderedDict` holds every `state_dict`).
const DICT_CLASSES: [(&str, &str); 3] = [
    ("collections", "OrderedDict"),
    ("builtins", "dict"),
    ("__builtin__", "dict"),
];

/// `SETITEM(S)`: into a dict, or into a dict class's fresh instance, which becomes one.
fn set_items(target: &Slot, items: Vec<(Slot, Slot)>) -> Result<(), String> {
    let mut node = target.borrow_mut();
    if let Node::Reduce {
        callable,
        args,
        state: None,
    } = &*node
    {
        let empty_args = matches!(&*args.borrow(), Node::Tuple(a) if a.is_empty());
        let dict_class = matches!(&*callable.borrow(),
            Node::Leaf(Value::Global { module, name })
                if DICT_CLASSES.iter().any(|(m, n)| m == module && n == name));
        if empty_args && dict_class {
            *node = Node::Dict(Vec::new());
        }
    }
    match &mut *node {
        Node::Dict(d) => {
            d.extend(items);
            Ok(())
        }
        Node::Reduce { callable, .. } => Err(format!(
            "pickle: dict items set on an instance of {:?}, which is not read as a dict",
            freeze(callable, 0)?
        )),
        _ => Err("pickle: SETITEMS on a non-dict".into()),
    }
}

/// `[k0, v0, k1, v1, …]` as pairs.
fn pairs<T>(items: Vec<T>) -> Result<Vec<(T, T)>, String> {
    if !items.len().is_multiple_of(2) {
        return Err("pickle: an odd number of dict items".into());
    }
    let mut it = items.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
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
        // Items set on another class's instance are refused, naming the class.
        let other = b"\x80\x02cfoo\nBar\nq\x00)Rq\x01X\x01\x00\x00\x00aq\x02K\x01s.";
        let e = load(other).unwrap_err();
        assert!(e.contains("Bar"), "{e}");
    }

    /// `a = []; a.append(a); pickle.dumps(a, protocol=4)`: refused, not a stack overflow.
    #[test]
    fn self_reference_is_an_error() {
        let data = b"\x80\x04\x95\x06\x00\x00\x00\x00\x00\x00\x00]\x94h\x00a.";
        let e = load(data).unwrap_err();
        assert!(e.contains("self-referencing"), "{e}");
    }

    #[test]
    fn negative_longs() {
        assert_eq!(long(&[0xff]).unwrap(), -1);
        assert_eq!(long(&[0x00, 0x80]).unwrap(), -32768);
        assert_eq!(
            long(&[0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]).unwrap(),
            0x1950a86a20f9469cfc6c
        );
    }
}
