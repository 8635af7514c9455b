//! The pickle virtual machine: opcodes run over a stack of shared nodes, which become
//! [`Value`]s when the pickle stops. Nothing is imported or called: a global is a name,
//! a reduction a record of its callable and arguments.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::{Options, Value};

/// Runs the pickle machine over `data`; on failure, the byte offset of the opcode that
/// failed and why.
pub(super) fn run(data: &[u8], options: &Options) -> Result<(Value, usize), (usize, String)> {
    let mut machine = Machine {
        r: Reader { data, pos: 0 },
        op_start: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: Memo::new(),
        options: *options,
    };
    let result = machine.run();
    let offset = machine.op_start;
    // The machine's nodes are freed before the error is built (the memo's drop unlinks
    // them iteratively: a deep pickle must not overflow the stack).
    drop(machine);
    result.map_err(|message| (offset, message))
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
            .ok_or_else(|| {
                format!(
                    "truncated: {n} bytes wanted at byte {}, {} left",
                    self.pos,
                    self.data.len() - self.pos
                )
            })?;
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
            .ok_or("truncated: a line without its newline")?;
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

impl Node {
    /// Moves the children out, leaving the node without any (a reduction's callable and
    /// arguments, which it must have, become `None` leaves).
    fn take_children(&mut self, out: &mut Vec<Slot>) {
        match self {
            Node::Leaf(_) => {}
            Node::Tuple(items) | Node::List(items) => out.append(items),
            Node::Dict(items) => {
                for (k, v) in items.drain(..) {
                    out.extend([k, v]);
                }
            }
            Node::Reduce {
                callable,
                args,
                state,
            } => {
                out.push(std::mem::replace(callable, none_leaf()));
                out.push(std::mem::replace(args, none_leaf()));
                out.extend(state.take());
            }
            Node::Persistent(pid) => out.push(std::mem::replace(pid, none_leaf())),
        }
    }
}

/// A `None` leaf, shared by every placeholder (it has no children to free).
fn none_leaf() -> Slot {
    thread_local!(static NONE: Slot = leaf(Value::None));
    NONE.with(Rc::clone)
}

impl Drop for Node {
    /// Frees nested nodes with a loop, not recursion: a pickle of a million nested lists
    /// (a few megabytes) would otherwise overflow the stack when it is dropped.
    fn drop(&mut self) {
        let mut pending = Vec::new();
        self.take_children(&mut pending);
        while let Some(s) = pending.pop() {
            if let Ok(cell) = Rc::try_unwrap(s) {
                cell.into_inner().take_children(&mut pending);
            }
        }
    }
}

fn slot(node: Node) -> Slot {
    let s = Rc::new(RefCell::new(node));
    #[cfg(test)]
    tests::CREATED.with(|c| c.borrow_mut().push(Rc::downgrade(&s)));
    s
}

fn leaf(v: Value) -> Slot {
    slot(Node::Leaf(v))
}

/// Copies slots out into [`Value`]s within the depth and size [`Limits`](super::Limits).
struct Freezer {
    max_depth: usize,
    /// Bytes the value may still take.
    budget: usize,
}

impl Freezer {
    fn spend(&mut self, bytes: usize) -> Result<(), String> {
        self.budget = self.budget.checked_sub(bytes).ok_or_else(|| {
            "the value would be far larger than the pickle (an object referred to over and \
             over?): refused"
                .to_string()
        })?;
        Ok(())
    }

    /// The value a slot holds, copied out (shared parts become copies).
    fn freeze(&mut self, s: &Slot, depth: usize) -> Result<Value, String> {
        if depth > self.max_depth {
            return Err(format!(
                "objects nested deeper than {} (a self-referencing object?)",
                self.max_depth
            ));
        }
        self.spend(std::mem::size_of::<Value>())?;
        let node = s.borrow();
        let mut all = |items: &[Slot]| -> Result<Vec<Value>, String> {
            items.iter().map(|i| self.freeze(i, depth + 1)).collect()
        };
        Ok(match &*node {
            Node::Leaf(v) => {
                match v {
                    Value::Str(s) => self.spend(s.len())?,
                    Value::Bytes(b) => self.spend(b.len())?,
                    Value::Global { module, name } => self.spend(module.len() + name.len())?,
                    _ => {}
                }
                v.clone()
            }
            Node::Tuple(items) => Value::Tuple(all(items)?),
            Node::List(items) => Value::List(all(items)?),
            Node::Dict(items) => Value::Dict(
                items
                    .iter()
                    .map(|(k, v)| Ok((self.freeze(k, depth + 1)?, self.freeze(v, depth + 1)?)))
                    .collect::<Result<_, String>>()?,
            ),
            Node::Reduce {
                callable,
                args,
                state,
            } => Value::Reduce {
                callable: Box::new(self.freeze(callable, depth + 1)?),
                args: Box::new(self.freeze(args, depth + 1)?),
                state: match state {
                    Some(st) => Some(Box::new(self.freeze(st, depth + 1)?)),
                    None => None,
                },
            },
            Node::Persistent(pid) => Value::Persistent(Box::new(self.freeze(pid, depth + 1)?)),
        })
    }
}

/// The memo. Objects that reference themselves form `Rc` cycles, and any such cycle
/// passes through a memoized object (the memo is the only way to refer to one twice), so
/// emptying every node that was ever memoized — those still in the memo and those a
/// later `PUT` to the same key replaced (`retired`) — when reading ends frees everything.
struct Memo {
    entries: HashMap<u32, Slot>,
    retired: Vec<Slot>,
}

impl Memo {
    fn new() -> Self {
        Memo {
            entries: HashMap::new(),
            retired: Vec::new(),
        }
    }

    fn insert(&mut self, key: u32, value: Slot) {
        if let Some(old) = self.entries.insert(key, value) {
            self.retired.push(old);
        }
    }
}

impl Drop for Memo {
    fn drop(&mut self) {
        for s in self.entries.values().chain(&self.retired) {
            if let Ok(mut node) = s.try_borrow_mut() {
                *node = Node::Leaf(Value::None);
            }
        }
    }
}

/// The pickle virtual machine's state.
pub(super) struct Machine<'a> {
    r: Reader<'a>,
    /// Where the opcode being run starts: errors name it.
    op_start: usize,
    stack: Vec<Slot>,
    marks: Vec<usize>,
    memo: Memo,
    options: Options,
}

impl Machine<'_> {
    fn pop(&mut self) -> Result<Slot, String> {
        self.stack
            .pop()
            .ok_or_else(|| "stack underflow".to_string())
    }

    fn pop_mark(&mut self) -> Result<Vec<Slot>, String> {
        let m = self.marks.pop().ok_or("no MARK")?;
        if m > self.stack.len() {
            return Err("MARK beyond the stack".into());
        }
        Ok(self.stack.split_off(m))
    }

    fn top(&self, what: &str) -> Result<Slot, String> {
        self.stack
            .last()
            .cloned()
            .ok_or_else(|| format!("{what} on an empty stack"))
    }

    fn freezer(&self) -> Freezer {
        let limits = self.options.limits;
        Freezer {
            max_depth: limits.max_depth,
            budget: self
                .r
                .data
                .len()
                .saturating_mul(limits.output_per_input_byte)
                .saturating_add(1 << 20),
        }
    }

    fn memoize(&mut self, key: u32, value: Slot) -> Result<(), String> {
        let limit = self.options.limits.max_memo;
        if self.memo.entries.len() >= limit && !self.memo.entries.contains_key(&key) {
            return Err(format!("more than {limit} memo entries: refused"));
        }
        self.memo.insert(key, value);
        Ok(())
    }

    fn global(&mut self, module: String, name: String) -> Result<(), String> {
        let globals = self.options.globals;
        if !globals.allows(&module, &name) {
            return Err(globals.refusal(&module, &name));
        }
        self.stack.push(leaf(Value::Global { module, name }));
        Ok(())
    }

    fn run(&mut self) -> Result<(Value, usize), String> {
        loop {
            self.op_start = self.r.pos;
            let op = self.r.u8()?;
            match op {
                0x80 => {
                    // PROTO
                    let p = self.r.u8()?;
                    if p > 5 {
                        return Err(format!("pickle protocol {p} is newer than 5"));
                    }
                }
                0x95 => {
                    // FRAME: a length prefix only.
                    self.r.u64()?;
                }
                b'.' => {
                    let v = self.pop()?;
                    let value = self.freezer().freeze(&v, 0)?;
                    return Ok((value, self.r.pos));
                }
                _ => match self.literal(op)? {
                    Some(v) => self.stack.push(leaf(v)),
                    None => self.structural(op)?,
                },
            }
        }
    }

    /// The value of a literal opcode (None, booleans, integers, floats, strings, bytes),
    /// or `None` when `op` is not one.
    fn literal(&mut self, op: u8) -> Result<Option<Value>, String> {
        let r = &mut self.r;
        let v = match op {
            b'N' => Value::None,
            0x88 => Value::Bool(true),
            0x89 => Value::Bool(false),
            b'K' => Value::Int(r.u8()? as i128),
            b'M' => Value::Int(r.u16()? as i128),
            b'J' => Value::Int(r.u32()? as i32 as i128),
            0x8a => {
                let n = r.u8()? as usize;
                Value::Int(long(r.take(n)?)?)
            }
            0x8b => {
                let n = r.u32()? as u64;
                let n = r.len(n)?;
                Value::Int(long(r.take(n)?)?)
            }
            b'G' => {
                let b: [u8; 8] = r.take(8)?.try_into().expect("8 bytes");
                Value::Float(f64::from_be_bytes(b))
            }
            0x8c => {
                let n = r.u8()? as usize;
                Value::Str(text(r.take(n)?)?)
            }
            b'X' => {
                let n = r.u32()? as u64;
                let n = r.len(n)?;
                Value::Str(text(r.take(n)?)?)
            }
            0x8d => {
                let n = r.u64()?;
                let n = r.len(n)?;
                Value::Str(text(r.take(n)?)?)
            }
            b'C' | b'U' => {
                let n = r.u8()? as usize;
                Value::Bytes(r.take(n)?.to_vec())
            }
            b'B' | b'T' => {
                let n = r.u32()? as u64;
                let n = r.len(n)?;
                Value::Bytes(r.take(n)?.to_vec())
            }
            0x8e | 0x96 => {
                let n = r.u64()?;
                let n = r.len(n)?;
                Value::Bytes(r.take(n)?.to_vec())
            }
            _ => return Ok(None),
        };
        Ok(Some(v))
    }

    /// Runs an opcode that builds structure: marks, containers, the memo, globals,
    /// reductions and persistent ids.
    fn structural(&mut self, op: u8) -> Result<(), String> {
        let r = &mut self.r;
        match op {
            b'(' => self.marks.push(self.stack.len()),
            b'}' => self.stack.push(slot(Node::Dict(Vec::new()))),
            b']' | 0x8f => self.stack.push(slot(Node::List(Vec::new()))),
            b')' => self.stack.push(slot(Node::Tuple(Vec::new()))),
            0x94 => {
                // MEMOIZE
                let v = self.top("MEMOIZE")?;
                let key = u32::try_from(self.memo.entries.len()).map_err(|_| "memo overflow")?;
                self.memoize(key, v)?;
            }
            b'q' => {
                let k = r.u8()? as u32;
                let v = self.top("BINPUT")?;
                self.memoize(k, v)?;
            }
            b'r' => {
                let k = r.u32()?;
                let v = self.top("LONG_BINPUT")?;
                self.memoize(k, v)?;
            }
            b'h' | b'j' => {
                let k = if op == b'h' { r.u8()? as u32 } else { r.u32()? };
                let v = self
                    .memo
                    .entries
                    .get(&k)
                    .ok_or_else(|| format!("memo entry {k} missing"))?
                    .clone();
                self.stack.push(v);
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if self.stack.len() < n {
                    return Err("stack underflow".into());
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.stack.push(slot(Node::Tuple(items)));
            }
            b't' => {
                let items = self.pop_mark()?;
                self.stack.push(slot(Node::Tuple(items)));
            }
            b'l' | 0x91 => {
                // LIST, FROZENSET: sets are read as lists.
                let items = self.pop_mark()?;
                self.stack.push(slot(Node::List(items)));
            }
            b'd' => {
                let items = self.pop_mark()?;
                self.stack.push(slot(Node::Dict(pairs(items)?)));
            }
            b'a' => {
                let v = self.pop()?;
                match &mut *self.top("APPEND")?.borrow_mut() {
                    Node::List(l) => l.push(v),
                    _ => return Err("APPEND to a non-list".into()),
                }
            }
            b'e' | 0x90 => {
                // APPENDS, ADDITEMS (to a set, read as a list)
                let items = self.pop_mark()?;
                match &mut *self.top("APPENDS")?.borrow_mut() {
                    Node::List(l) => l.extend(items),
                    _ => return Err("APPENDS to a non-list".into()),
                }
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                set_items(&self.top("SETITEM")?, vec![(k, v)])?;
            }
            b'u' => {
                let items = pairs(self.pop_mark()?)?;
                set_items(&self.top("SETITEMS")?, items)?;
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                self.global(module, name)?;
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                let (module, name) = match (&*module.borrow(), &*name.borrow()) {
                    (Node::Leaf(Value::Str(m)), Node::Leaf(Value::Str(n))) => {
                        (m.clone(), n.clone())
                    }
                    _ => return Err("STACK_GLOBAL of non-strings".into()),
                };
                self.global(module, name)?;
            }
            b'R' | 0x81 => {
                let args = self.pop()?;
                let callable = self.pop()?;
                self.stack.push(slot(Node::Reduce {
                    callable,
                    args,
                    state: None,
                }));
            }
            0x92 => {
                // NEWOBJ_EX: cls, args, kwargs
                let _kwargs = self.pop()?;
                let args = self.pop()?;
                let callable = self.pop()?;
                self.stack.push(slot(Node::Reduce {
                    callable,
                    args,
                    state: None,
                }));
            }
            b'b' => {
                let s = self.pop()?;
                if let Node::Reduce { state, .. } = &mut *self.top("BUILD")?.borrow_mut() {
                    *state = Some(s);
                }
                // BUILD on other values (e.g. a dict's __setstate__) keeps the value.
            }
            b'Q' => {
                let pid = self.pop()?;
                self.stack.push(slot(Node::Persistent(pid)));
            }
            b'P' => {
                let pid = r.line()?;
                self.stack
                    .push(slot(Node::Persistent(leaf(Value::Str(pid)))));
            }
            _ => return Err("not a supported opcode".into()),
        }
        Ok(())
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
        Node::Reduce { callable, .. } => {
            let class = match &*callable.borrow() {
                Node::Leaf(Value::Global { module, name }) => format!("`{module}.{name}`"),
                _ => "an object".to_string(),
            };
            Err(format!(
                "dict items set on an instance of {class}, which is not read as a dict"
            ))
        }
        _ => Err("SETITEMS on a non-dict".into()),
    }
}

/// `[k0, v0, k1, v1, …]` as pairs.
fn pairs<T>(items: Vec<T>) -> Result<Vec<(T, T)>, String> {
    if !items.len().is_multiple_of(2) {
        return Err("an odd number of dict items".into());
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
    use std::cell::RefCell;

    use super::super::{Value, load};
    use super::{Node, long, none_leaf};

    thread_local! {
        /// Every node this thread's machine created (`slot`), to find leaks.
        pub(super) static CREATED: RefCell<Vec<std::rc::Weak<RefCell<Node>>>> =
            const { RefCell::new(Vec::new()) };
    }

    /// How many nodes `f` creates that are still alive after it returns.
    fn leaked(f: impl FnOnce()) -> usize {
        let _ = none_leaf();
        CREATED.with(|c| c.borrow_mut().clear());
        f();
        CREATED.with(|c| c.borrow().iter().filter(|w| w.upgrade().is_some()).count())
    }

    /// Self-referencing objects are freed, also when the memo entry that held one is
    /// overwritten (fuzz target `lmdb_entry`: a leak) and when reading fails midway.
    #[test]
    fn cycles_are_freed() {
        // `l = []; l.append(l)` with memo 0 then overwritten by None; returns None.
        let overwritten = b"\x80\x04]q\x00h\x00aNq\x00.";
        assert_eq!(
            leaked(|| assert_eq!(load(overwritten).unwrap().0, Value::None)),
            0
        );
        // The same cycle, then an error.
        assert_eq!(
            leaked(|| assert!(load(b"\x80\x04]q\x00h\x00aNq\x00\xff").is_err())),
            0
        );
        // A dict holding itself, built by SETITEM through the memo.
        let dict = b"\x80\x04}q\x00\x8c\x01kh\x00sNq\x00.";
        assert_eq!(leaked(|| assert!(load(dict).is_ok())), 0);
        // An object whose BUILD state holds it.
        let built = b"\x80\x04ctorch\nSize\n)Rq\x00h\x00bNq\x00.";
        assert_eq!(leaked(|| assert!(load(built).is_ok())), 0);
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
