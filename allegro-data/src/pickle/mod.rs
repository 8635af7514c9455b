//! A reader for the subset of Python's pickle format that nequip's datasets use:
//! protocols 2–5, containers, strings and bytes, numbers, globals, `REDUCE`/`BUILD` kept as
//! plain data (nothing is ever imported or called), and persistent ids. It turns a
//! pickle into a [`Value`] tree that [`torch`] then interprets.
//!
//! Reading a pickle this way cannot run code: a global is only a name, a reduction only
//! a record of the callable's name and its arguments.

pub mod torch;

use std::collections::HashMap;

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

/// Reads one pickle from the start of `data`; returns its value and the bytes it took.
pub fn load(data: &[u8]) -> Result<(Value, usize), String> {
    let mut r = Reader { data, pos: 0 };
    let mut stack: Vec<Value> = Vec::new();
    let mut marks: Vec<usize> = Vec::new();
    let mut memo: HashMap<u32, Value> = HashMap::new();
    let pop = |stack: &mut Vec<Value>| {
        stack
            .pop()
            .ok_or_else(|| "pickle stack underflow".to_string())
    };
    let pop_mark = |stack: &mut Vec<Value>, marks: &mut Vec<usize>| -> Result<Vec<Value>, String> {
        let m = marks.pop().ok_or("pickle: no MARK")?;
        if m > stack.len() {
            return Err("pickle: MARK beyond the stack".into());
        }
        Ok(stack.split_off(m))
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
                return Ok((v, r.pos));
            }
            b'(' => marks.push(stack.len()),
            b'}' => stack.push(Value::Dict(Vec::new())),
            b']' => stack.push(Value::List(Vec::new())),
            b')' => stack.push(Value::Tuple(Vec::new())),
            b'N' => stack.push(Value::None),
            0x88 => stack.push(Value::Bool(true)),
            0x89 => stack.push(Value::Bool(false)),
            b'K' => stack.push(Value::Int(r.u8()? as i128)),
            b'M' => stack.push(Value::Int(r.u16()? as i128)),
            b'J' => stack.push(Value::Int(r.u32()? as i32 as i128)),
            0x8a => {
                let n = r.u8()? as usize;
                stack.push(Value::Int(long(r.take(n)?)?));
            }
            0x8b => {
                let n = r.u32()? as u64;
                let n = r.len(n)?;
                stack.push(Value::Int(long(r.take(n)?)?));
            }
            b'G' => {
                let b: [u8; 8] = r.take(8)?.try_into().expect("8 bytes");
                stack.push(Value::Float(f64::from_be_bytes(b)));
            }
            0x8c => {
                let n = r.u8()? as usize;
                stack.push(Value::Str(text(r.take(n)?)?));
            }
            b'X' => {
                let n = r.u32()? as u64;
                let n = r.len(n)?;
                stack.push(Value::Str(text(r.take(n)?)?));
            }
            0x8d => {
                let n = r.u64()?;
                let n = r.len(n)?;
                stack.push(Value::Str(text(r.take(n)?)?));
            }
            b'C' | b'U' => {
                let n = r.u8()? as usize;
                stack.push(Value::Bytes(r.take(n)?.to_vec()));
            }
            b'B' | b'T' => {
                let n = r.u32()? as u64;
                let n = r.len(n)?;
                stack.push(Value::Bytes(r.take(n)?.to_vec()));
            }
            0x8e | 0x96 => {
                let n = r.u64()?;
                let n = r.len(n)?;
                stack.push(Value::Bytes(r.take(n)?.to_vec()));
            }
            0x94 => {
                // MEMOIZE
                let v = stack
                    .last()
                    .ok_or("pickle: MEMOIZE on an empty stack")?
                    .clone();
                memo.insert(memo.len() as u32, v);
            }
            b'q' => {
                let k = r.u8()? as u32;
                let v = stack
                    .last()
                    .ok_or("pickle: BINPUT on an empty stack")?
                    .clone();
                memo.insert(k, v);
            }
            b'r' => {
                let k = r.u32()?;
                let v = stack
                    .last()
                    .ok_or("pickle: LONG_BINPUT on an empty stack")?
                    .clone();
                memo.insert(k, v);
            }
            b'h' | b'j' => {
                let k = if op == b'h' { r.u8()? as u32 } else { r.u32()? };
                let v = memo
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
                stack.push(Value::Tuple(items));
            }
            b't' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::Tuple(items));
            }
            b'l' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::List(items));
            }
            b'd' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::Dict(pairs(items)?));
            }
            b'a' => {
                let v = pop(&mut stack)?;
                match stack.last_mut() {
                    Some(Value::List(l)) => l.push(v),
                    _ => return Err("pickle: APPEND to a non-list".into()),
                }
            }
            b'e' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                match stack.last_mut() {
                    Some(Value::List(l)) => l.extend(items),
                    _ => return Err("pickle: APPENDS to a non-list".into()),
                }
            }
            b's' => {
                let v = pop(&mut stack)?;
                let k = pop(&mut stack)?;
                match stack.last_mut() {
                    Some(Value::Dict(d)) => d.push((k, v)),
                    _ => return Err("pickle: SETITEM on a non-dict".into()),
                }
            }
            b'u' => {
                let items = pairs(pop_mark(&mut stack, &mut marks)?)?;
                match stack.last_mut() {
                    Some(Value::Dict(d)) => d.extend(items),
                    _ => return Err("pickle: SETITEMS on a non-dict".into()),
                }
            }
            0x8f => stack.push(Value::List(Vec::new())),
            0x90 => {
                let items = pop_mark(&mut stack, &mut marks)?;
                match stack.last_mut() {
                    Some(Value::List(l)) => l.extend(items),
                    _ => return Err("pickle: ADDITEMS to a non-set".into()),
                }
            }
            0x91 => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::List(items));
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                stack.push(Value::Global { module, name });
            }
            0x93 => {
                let name = pop(&mut stack)?;
                let module = pop(&mut stack)?;
                match (module, name) {
                    (Value::Str(module), Value::Str(name)) => {
                        stack.push(Value::Global { module, name })
                    }
                    _ => return Err("pickle: STACK_GLOBAL of non-strings".into()),
                }
            }
            b'R' | 0x81 => {
                let args = pop(&mut stack)?;
                let callable = pop(&mut stack)?;
                stack.push(Value::Reduce {
                    callable: Box::new(callable),
                    args: Box::new(args),
                    state: None,
                });
            }
            0x92 => {
                // NEWOBJ_EX: cls, args, kwargs
                let _kwargs = pop(&mut stack)?;
                let args = pop(&mut stack)?;
                let callable = pop(&mut stack)?;
                stack.push(Value::Reduce {
                    callable: Box::new(callable),
                    args: Box::new(args),
                    state: None,
                });
            }
            b'b' => {
                let s = pop(&mut stack)?;
                match stack.last_mut() {
                    Some(Value::Reduce { state, .. }) => *state = Some(Box::new(s)),
                    // BUILD on other values (e.g. a dict's __setstate__) keeps the value.
                    Some(_) => {}
                    None => return Err("pickle: BUILD on an empty stack".into()),
                }
            }
            b'Q' => {
                let pid = pop(&mut stack)?;
                stack.push(Value::Persistent(Box::new(pid)));
            }
            b'P' => {
                let pid = r.line()?;
                stack.push(Value::Persistent(Box::new(Value::Str(pid))));
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

/// `[k0, v0, k1, v1, …]` as pairs.
fn pairs(items: Vec<Value>) -> Result<Vec<(Value, Value)>, String> {
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
