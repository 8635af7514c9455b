//! The pickle machine refuses, by name, any global outside its allow-list (as PyTorch's
//! `weights_only=True` does), and what it allocates is bounded by its input: length
//! fields claiming 10¹² bytes or elements are refused before anything that large is
//! allocated (an allocator in this test binary records the largest request), and
//! nesting, memo size and the size of the value read are bounded.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use allegro_nequip::pickle::torch::tensor;
use allegro_nequip::pickle::writer::{Elements, Object, dumps, torch_legacy_storage};
use allegro_nequip::pickle::{Globals, Limits, Options, Value, load, load_with};

/// The system allocator, recording the largest single request made by a thread inside
/// [`largest_allocation`] (other threads, the test harness's among them, are not counted).
struct Recording;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static RECORDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Records `size` if this thread is measuring.
fn record(size: usize) {
    if RECORDING.with(|r| r.get()) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator unchanged.
unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Recording = Recording;

/// Tests that measure allocations run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f`, returning its result and the largest allocation it made.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.store(0, Ordering::Relaxed);
    RECORDING.with(|r| r.set(true));
    let out = f();
    RECORDING.with(|r| r.set(false));
    (out, LARGEST.load(Ordering::Relaxed))
}

const TERA: u64 = 1_000_000_000_000;

#[test]
fn globals_outside_the_allow_list_are_refused_by_name() {
    // Protocol 2: `os.system('ls')` as GLOBAL, protocol 4: `builtins.eval('1')` as
    // STACK_GLOBAL, and a class of another package.
    let cases: [(&[u8], &str); 4] = [
        (
            b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.",
            "os.system",
        ),
        (
            b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94\x8c\x011\x94\x85\x94R\x94.",
            "builtins.eval",
        ),
        (b"\x80\x02csubprocess\nPopen\n)R.", "subprocess.Popen"),
        (
            b"\x80\x02cnequip.nn.graph_model\nGraphModel\n)R.",
            "nequip.nn.graph_model.GraphModel",
        ),
    ];
    for (data, name) in cases {
        let e = load(data).unwrap_err();
        assert!(e.contains(name) && e.contains("not allowed"), "{name}: {e}");
        assert!(
            e.contains("pickle byte 2 ") || e.contains("pickle byte"),
            "{e}"
        );
    }
    // A packaged model may name nequip's classes, still not `os.system`.
    let package = Options {
        globals: Globals::TorchPackage,
        ..Options::default()
    };
    load_with(b"\x80\x02cnequip.nn.graph_model\nGraphModel\n)R.", &package).unwrap();
    let e = load_with(cases[0].0, &package).unwrap_err().to_string();
    assert!(e.contains("os.system"), "{e}");
    // The error names the byte of the refused opcode.
    let e = load(cases[0].0).unwrap_err();
    assert!(e.starts_with("pickle byte 2 (opcode 0x63)"), "{e}");
}

#[test]
fn length_fields_cannot_ask_for_terabytes() {
    let _serial = serial();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    // BINUNICODE8, BINBYTES8, BYTEARRAY8 with a 10¹² length, BINBYTES / BINUNICODE with
    // the largest 32-bit one, LONG4 with a 4 GiB integer.
    for (name, op) in [
        ("BINUNICODE8", 0x8d),
        ("BINBYTES8", 0x8e),
        ("BYTEARRAY8", 0x96),
    ] {
        let mut p = vec![0x80, 4, op];
        p.extend(TERA.to_le_bytes());
        p.extend(b"abc.");
        cases.push((name, p));
    }
    for (name, op) in [("BINBYTES", b'B'), ("BINUNICODE", b'X'), ("LONG4", 0x8b)] {
        let mut p = vec![0x80, 4, op];
        p.extend(u32::MAX.to_le_bytes());
        p.extend(b"abc.");
        cases.push((name, p));
    }
    for (name, data) in &cases {
        let (result, largest) = largest_allocation(|| load(data));
        let e = result.unwrap_err();
        assert!(e.contains("wanted"), "{name}: {e}");
        assert!(
            largest < 1 << 20,
            "{name}: an allocation of {largest} bytes"
        );
    }
}

/// `_rebuild_tensor_v2(storage, offset, size, stride)` over a legacy storage.
fn tensor_pickle(storage: Vec<u8>, size: &[u64], stride: &[u64]) -> Vec<u8> {
    let ints = |v: &[u64]| Object::Tuple(v.iter().map(|&x| Object::Int(x as i128)).collect());
    let obj = Object::call(
        "torch._utils",
        "_rebuild_tensor_v2",
        vec![
            Object::call(
                "torch.storage",
                "_load_from_bytes",
                vec![Object::Bytes(storage)],
            ),
            Object::Int(0),
            ints(size),
            ints(stride),
            Object::Bool(false),
            Object::call("collections", "OrderedDict", vec![]),
        ],
    );
    dumps(&obj, 4).unwrap()
}

#[test]
fn tensor_lengths_cannot_ask_for_terabytes() {
    let _serial = serial();
    let values = [1.0f64, 2.0, 3.0];
    let storage = torch_legacy_storage(Elements::F64(&values), "0");
    // The storage's element count (the 8 bytes before its data) set to 10¹².
    let mut huge_count = storage.clone();
    let at = huge_count.len() - 8 * values.len() - 8;
    huge_count[at..at + 8].copy_from_slice(&TERA.to_le_bytes());
    let cases = [
        (
            "storage count",
            tensor_pickle(huge_count, &[3], &[1]),
            "announced",
        ),
        (
            "size",
            tensor_pickle(storage.clone(), &[TERA], &[1]),
            "beyond its storage",
        ),
        (
            "stride",
            tensor_pickle(storage.clone(), &[3], &[TERA]),
            "beyond its storage",
        ),
        (
            "broadcast",
            tensor_pickle(storage.clone(), &[TERA], &[0]),
            "repeats",
        ),
        (
            "overflowing size",
            tensor_pickle(storage.clone(), &[1 << 40, 1 << 40], &[0, 0]),
            "overflows",
        ),
    ];
    for (name, data, expected) in cases {
        let (result, largest) = largest_allocation(|| {
            let (v, _) = load(&data).map_err(|e| e.to_string())?;
            tensor(&v).map(|_| ())
        });
        let e = result.unwrap_err();
        assert!(e.contains(expected), "{name}: {e}");
        assert!(
            largest < 1 << 20,
            "{name}: an allocation of {largest} bytes"
        );
    }
    // The genuine tensor still reads.
    let (v, _) = load(&tensor_pickle(storage, &[3], &[1])).unwrap();
    assert_eq!(tensor(&v).unwrap().values, values);
}

#[test]
fn nesting_is_bounded_and_deep_input_does_not_overflow_the_stack() {
    // A million nested lists: `]` a million times, then APPEND a million times.
    let n = 1_000_000;
    let mut p = vec![0x80, 4];
    p.extend(std::iter::repeat_n(b']', n));
    p.extend(std::iter::repeat_n(b'a', n - 1));
    p.push(b'.');
    let e = load(&p).unwrap_err();
    assert!(e.contains("nested deeper than 256"), "{e}");
    // An error in the middle of it: the half-built nest is freed without recursion.
    let e = load(&p[..p.len() - 10]).unwrap_err();
    assert!(e.contains("truncated"), "{e}");
    // A lower bound is honoured.
    let options = Options {
        limits: Limits {
            max_depth: 3,
            ..Limits::default()
        },
        ..Options::default()
    };
    let five = b"\x80\x04]]]]]aaaa.";
    assert!(load(five).is_ok());
    let e = load_with(five, &options).unwrap_err().to_string();
    assert!(e.contains("nested deeper than 3"), "{e}");
}

#[test]
fn memo_size_is_bounded() {
    // Twenty strings, each memoized.
    let mut p = vec![0x80, 4, b'('];
    for i in 0..20u8 {
        p.extend([0x8c, 1, b'a' + i, 0x94]);
    }
    p.extend(b"l.");
    assert!(load(&p).is_ok());
    let options = Options {
        limits: Limits {
            max_memo: 10,
            ..Limits::default()
        },
        ..Options::default()
    };
    let e = load_with(&p, &options).unwrap_err().to_string();
    assert!(e.contains("more than 10 memo entries"), "{e}");
    // LONG_BINPUT at scattered indices counts entries, not the largest index.
    let p = b"\x80\x04N\x72\xff\xff\xff\xff\x72\x00\x00\x00\x80.";
    assert_eq!(load(p).unwrap().0, Value::None);
}

/// "Billion laughs": each list holds the previous one twice, 40 levels deep: 2⁴⁰ copies
/// once read out. Refused in a bounded size.
#[test]
fn shared_references_cannot_expand_without_bound() {
    let _serial = serial();
    let mut p = vec![0x80, 4, 0x8c, 4];
    p.extend(b"lol!");
    p.push(0x94); // memo 0
    for level in 0..40u32 {
        // [memo[level], memo[level]], memoized as level + 1.
        p.push(b'(');
        p.extend([b'j']);
        p.extend(level.to_le_bytes());
        p.extend([b'j']);
        p.extend(level.to_le_bytes());
        p.extend([b'l', 0x94]);
    }
    p.push(b'.');
    let (result, largest) = largest_allocation(|| load(&p));
    let e = result.unwrap_err();
    assert!(e.contains("far larger than the pickle"), "{e}");
    assert!(largest < 1 << 20, "an allocation of {largest} bytes");
}

/// A checkpoint whose zip directory claims a 4 GiB `data.pkl` (the largest size without
/// ZIP64 records) is refused, naming the entry, without allocating it.
#[test]
fn zip_entry_sizes_cannot_ask_for_gigabytes() {
    let _serial = serial();
    let path = allegro_core::testing::shared_dir().join("reference/trained/nequip-xtb-best.ckpt");
    let mut bytes = std::fs::read(path).unwrap();
    // The central directory record of `archive/data.pkl`: signature, then its sizes at
    // offsets 20 (compressed) and 24 (uncompressed), its name at 46.
    let name = b"archive/data.pkl";
    let record = bytes
        .windows(46 + name.len())
        .rposition(|w| w[..4] == *b"PK\x01\x02" && w[46..] == *name)
        .unwrap();
    for field in [20, 24] {
        bytes[record + field..record + field + 4].copy_from_slice(&0xFFFF_FFFEu32.to_le_bytes());
    }
    let dir = std::env::temp_dir().join(format!("allegro-zip-size-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let damaged = dir.join("huge-entry.ckpt");
    std::fs::write(&damaged, &bytes).unwrap();
    let (result, largest) = largest_allocation(|| {
        allegro_nequip::pickle::torch_archive::TorchArchive::open(&damaged).map(|_| ())
    });
    let e = result.unwrap_err();
    assert!(
        e.contains("huge-entry.ckpt") && e.contains("archive/data.pkl") && e.contains("4294967294"),
        "{e}"
    );
    assert!(largest < 64 << 20, "an allocation of {largest} bytes");
    std::fs::remove_dir_all(&dir).unwrap();
}
