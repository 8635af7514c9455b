//! LMDB files read through a checked path: every page is read with `pread` into a buffer
//! and checked before anything in it is followed, so a truncated or damaged file is an
//! error, never a signal.
//!
//! Why not LMDB itself: LMDB maps the whole file and follows page numbers and node
//! offsets inside the map without checking them against the file. Pages past the end of a
//! truncated file fault (SIGBUS), a node offset or data size read from a damaged page
//! points anywhere (SIGSEGV), and some inconsistencies trip LMDB's assertions (SIGABRT).
//! A dataset copied incompletely would take a many-rank run down without a word. Reading
//! is the small part of LMDB nequip's files need: one database (the main one), no
//! duplicate keys, keys compared as bytes; writing still goes through LMDB
//! ([`crate::lmdb_write`]).
//!
//! The on-disk layout (LMDB 0.9, `mdb.c`, 64-bit builds, little-endian), as read here:
//! - Page header, 16 bytes: page number `u64`, pad `u16`, flags `u16`, then either
//!   lower/upper free-space bounds (`u16`, `u16`) or, on an overflow page, the number of
//!   pages in its run (`u32`). Slot offsets (`u16`) of the nodes follow the header.
//! - Pages 0 and 1 are meta pages: after the header, magic `0xBEEFC0DE` (`u32`),
//!   version 1 (`u32`), address and map size (`u64` each), two database records of 48
//!   bytes (free-page list, main: pad/page size `u32`, flags `u16`, depth `u16`,
//!   branch/leaf/overflow page counts, entries and root page, `u64` each), the last page
//!   in use `u64` and the transaction id `u64`. The meta with the larger transaction id
//!   is current; the free database's pad is the page size.
//! - Branch and leaf pages hold nodes: data size low/high `u16`s (on a branch: the child
//!   page number, with the flags field as its top 16 bits), flags `u16`, key size `u16`,
//!   the key, then (on a leaf) the data — or, with flag `F_BIGDATA`, the 8-byte page
//!   number of an overflow run whose first page's header is followed by the data.
//!
//! Checks: both meta pages (flag, magic, version, page size) as LMDB checks them; the
//! file size against the size the current meta's last page needs; on every page read,
//! that its header names the page it was read from and has the expected kind, that the
//! node offsets, key and data sizes stay inside the page, that child and overflow page
//! numbers stay inside the pages in use, and that the tree is no deeper than its record
//! says (so a loop of pages ends).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use allegro_data::error::{Error, Result};

/// Size of a page header.
const PAGE_HEADER: usize = 16;
/// Size of a node header (before its key).
const NODE_HEADER: usize = 8;
/// Bytes of a meta page that the reader needs: header, then the meta record (136 bytes).
const META_BYTES: usize = PAGE_HEADER + 136;
/// LMDB's magic number.
const MAGIC: u32 = 0xBEEF_C0DE;
/// The data format version LMDB 0.9 writes and reads.
const VERSION: u32 = 1;
/// The page number of an empty tree's root.
const NO_PAGE: u64 = u64::MAX;
/// LMDB's limit on tree depth (its cursor stack).
const MAX_DEPTH: u16 = 32;

const P_BRANCH: u16 = 0x01;
const P_LEAF: u16 = 0x02;
const P_OVERFLOW: u16 = 0x04;
const P_META: u16 = 0x08;
/// Page flags a page in the file may carry besides its kind (dirty/loose/keep marks are
/// in-memory states, but LMDB writes pages as they are in memory).
const P_TRANSIENT: u16 = 0x10 | 0x4000 | 0x8000;

const F_BIGDATA: u16 = 0x01;
const F_SUBDATA: u16 = 0x02;
const F_DUPDATA: u16 = 0x04;

/// Database flags under which keys are not compared as plain bytes, or a key holds
/// several values: `MDB_REVERSEKEY`, `MDB_DUPSORT`, `MDB_INTEGERKEY`, `MDB_DUPFIXED`,
/// `MDB_INTEGERDUP`, `MDB_REVERSEDUP`.
const UNSUPPORTED_DB_FLAGS: u16 = 0x02 | 0x04 | 0x08 | 0x10 | 0x20 | 0x40;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The main database's record in the current meta page.
#[derive(Clone, Copy, Debug)]
struct Tree {
    flags: u16,
    depth: u16,
    entries: u64,
    root: u64,
}

/// One meta page, decoded.
#[derive(Clone, Copy, Debug)]
struct Meta {
    page_size: u32,
    main: Tree,
    last_page: u64,
    txn: u64,
}

/// An LMDB file opened for checked reads of its main database.
#[derive(Debug)]
pub(crate) struct LmdbFile {
    /// The file as the user named it (a directory for LMDB's folder layout).
    path: PathBuf,
    file: File,
    page_size: usize,
    /// The bytes the current meta page's last page needs.
    needed: u64,
    last_page: u64,
    main: Tree,
}

/// A short description of a key for messages: text when it is printable.
pub(crate) fn key_name(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => format!("`{s}`"),
        _ => format!("{key:02x?}"),
    }
}

impl LmdbFile {
    /// Opens `path` (an LMDB file, or a directory holding `data.mdb`) and checks its
    /// meta pages and its size against what the current meta page says the file holds.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let data = if path.is_dir() {
            path.join("data.mdb")
        } else {
            path.to_path_buf()
        };
        let fail = |m: String| Error::Lmdb {
            path: path.to_path_buf(),
            message: m,
        };
        let file = File::open(&data).map_err(|e| fail(format!("cannot open: {e}")))?;
        let size = file
            .metadata()
            .map_err(|e| fail(format!("cannot stat: {e}")))?
            .len();
        let read_meta = |index: u64, offset: u64| -> Result<Meta> {
            let mut b = [0u8; META_BYTES];
            if size < offset + META_BYTES as u64 {
                return Err(fail(format!(
                    "not an LMDB file, or truncated: the file is {size} bytes, but LMDB's \
                     meta page {index} needs bytes {offset}..{} (a file cut short?)",
                    offset + META_BYTES as u64
                )));
            }
            file.read_exact_at(&mut b, offset)
                .map_err(|e| fail(format!("reading meta page {index}: {e}")))?;
            decode_meta(&b, index).map_err(|m| fail(format!("meta page {index}: {m}")))
        };
        let first = read_meta(0, 0)?;
        let second = read_meta(1, u64::from(first.page_size))?;
        if second.page_size != first.page_size {
            return Err(fail(format!(
                "the meta pages disagree on the page size ({} and {}): the file is damaged",
                first.page_size, second.page_size
            )));
        }
        // As LMDB: the meta with the larger transaction id is current (the first on a tie).
        let (current, meta) = if second.txn > first.txn {
            (1, second)
        } else {
            (0, first)
        };
        let page_size = meta.page_size as usize;
        let needed = meta
            .last_page
            .checked_add(1)
            .and_then(|n| n.checked_mul(u64::from(meta.page_size)))
            .ok_or_else(|| {
                fail(format!(
                    "meta page {current}: last page {} is out of range: the file is damaged",
                    meta.last_page
                ))
            })?;
        if size < needed {
            return Err(fail(format!(
                "the file is {size} bytes, but its header (meta page {current}, transaction \
                 {}) says its last page is page {} of {page_size} bytes: {needed} bytes \
                 needed. The file is truncated (an incomplete copy or download?)",
                meta.txn, meta.last_page
            )));
        }
        let main = meta.main;
        if main.flags & UNSUPPORTED_DB_FLAGS != 0 {
            return Err(fail(format!(
                "the main database has flags {:#x} (sorted duplicates, integer or reversed \
                 keys): not a nequip dataset",
                main.flags
            )));
        }
        if main.root != NO_PAGE && (main.root < 2 || main.root > meta.last_page || main.depth == 0)
            || main.depth > MAX_DEPTH
        {
            return Err(fail(format!(
                "meta page {current}: main database root page {} at depth {} does not lie \
                 in pages 2..={} : the file is damaged",
                main.root, main.depth, meta.last_page
            )));
        }
        Ok(LmdbFile {
            path: path.to_path_buf(),
            file,
            page_size,
            needed,
            last_page: meta.last_page,
            main,
        })
    }

    fn error(&self, message: String) -> Error {
        Error::Lmdb {
            path: self.path.clone(),
            message,
        }
    }

    /// Reads `len` bytes at `offset`, naming `what` and the file's size now if it ends
    /// first (a file truncated after it was opened).
    fn read_at(&self, offset: u64, len: usize, what: &str) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.file.read_exact_at(&mut buf, offset).map_err(|e| {
            let now = self.file.metadata().map(|m| m.len()).unwrap_or(0);
            if now < self.needed {
                self.error(format!(
                    "{what}: the file is now {now} bytes, but {} bytes are needed: it was \
                     truncated after it was opened",
                    self.needed
                ))
            } else {
                self.error(format!("{what}: {e}"))
            }
        })?;
        Ok(buf)
    }

    /// Page `pgno`, whose header must name it and carry `kind`.
    fn page(&self, pgno: u64, kind: u16, what: &str) -> Result<Vec<u8>> {
        if pgno < 2 || pgno > self.last_page {
            return Err(self.error(format!(
                "{what}: page {pgno} is outside the pages in use (2..={}): the file is damaged",
                self.last_page
            )));
        }
        let page = self.read_at(pgno * self.page_size as u64, self.page_size, what)?;
        let (number, flags) = (u64_at(&page, 0), u16_at(&page, 10));
        if number != pgno || flags & !P_TRANSIENT != kind {
            return Err(self.error(format!(
                "{what}: page {pgno} (bytes {}..{}) is damaged: its header says page \
                 {number} with flags {flags:#06x}, expected page {pgno} with flags {kind:#06x}",
                pgno * self.page_size as u64,
                (pgno + 1) * self.page_size as u64
            )));
        }
        Ok(page)
    }

    /// The number of entries of the main database.
    pub(crate) fn entries(&self) -> u64 {
        self.main.entries
    }

    /// The value stored under `key` in the main database, `None` if there is none.
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if self.main.root == NO_PAGE {
            return Ok(None);
        }
        let what = format!("entry {}", key_name(key));
        let mut pgno = self.main.root;
        for level in 1..=self.main.depth {
            let leaf = level == self.main.depth;
            let kind = if leaf { P_LEAF } else { P_BRANCH };
            let page = self.page(pgno, kind, &what)?;
            let nodes = Nodes::of(&page).map_err(|m| self.damaged(&what, pgno, &m))?;
            if !leaf {
                // The first node's key is below every key; the child is the last node
                // whose key is at most `key`.
                let mut child = None;
                for i in 0..nodes.len() {
                    let node = nodes.node(i).map_err(|m| self.damaged(&what, pgno, &m))?;
                    if i > 0 && node.key > key {
                        break;
                    }
                    child = Some(node.child());
                }
                pgno = child
                    .ok_or_else(|| self.damaged(&what, pgno, "a branch page without nodes"))?;
                continue;
            }
            let found = nodes.find(key).map_err(|m| self.damaged(&what, pgno, &m))?;
            let Some(node) = found else {
                return Ok(None);
            };
            if node.flags & (F_SUBDATA | F_DUPDATA) != 0 {
                return Err(self.damaged(
                    &what,
                    pgno,
                    &format!(
                        "node flags {:#x} (a sub-database or duplicates)",
                        node.flags
                    ),
                ));
            }
            if node.flags & F_BIGDATA == 0 {
                let data = node
                    .inline_data()
                    .map_err(|m| self.damaged(&what, pgno, &m))?;
                return Ok(Some(data.to_vec()));
            }
            let first = node
                .overflow_page()
                .map_err(|m| self.damaged(&what, pgno, &m))?;
            return self.overflow(first, node.data_size, &what).map(Some);
        }
        Err(self.error(format!(
            "{what}: the tree's depth ({}) is 0: the file is damaged",
            self.main.depth
        )))
    }

    /// `size` bytes of the overflow run starting at page `first`.
    fn overflow(&self, first: u64, size: usize, what: &str) -> Result<Vec<u8>> {
        let head = self.page(first, P_OVERFLOW, what)?;
        let pages = u64::from(u32_at(&head, 12));
        let capacity = pages
            .checked_mul(self.page_size as u64)
            .map(|c| c.saturating_sub(PAGE_HEADER as u64));
        let end = first.checked_add(pages).map(|e| e.saturating_sub(1));
        match (capacity, end) {
            (Some(c), Some(end)) if pages >= 1 && end <= self.last_page && size as u64 <= c => {}
            _ => {
                return Err(self.error(format!(
                    "{what}: overflow page {first} is damaged: a run of {pages} pages \
                     (to page {}) cannot hold {size} bytes inside the {} pages in use",
                    first.saturating_add(pages).saturating_sub(1),
                    self.last_page + 1
                )));
            }
        }
        let mut data = head[PAGE_HEADER..].to_vec();
        if size <= data.len() {
            data.truncate(size);
            return Ok(data);
        }
        let rest = self.read_at((first + 1) * self.page_size as u64, size - data.len(), what)?;
        data.extend_from_slice(&rest);
        Ok(data)
    }

    fn damaged(&self, what: &str, pgno: u64, message: &str) -> Error {
        self.error(format!(
            "{what}: page {pgno} (bytes {}..{}) is damaged: {message}",
            pgno * self.page_size as u64,
            (pgno + 1) * self.page_size as u64
        ))
    }
}

/// Decodes and checks the meta record of meta page `index` (its first [`META_BYTES`]).
fn decode_meta(b: &[u8], index: u64) -> std::result::Result<Meta, String> {
    let (pgno, flags) = (u64_at(b, 0), u16_at(b, 10));
    let (magic, version) = (u32_at(b, 16), u32_at(b, 20));
    if magic != MAGIC {
        return Err(format!(
            "not an LMDB file: magic number {magic:#010x}, not {MAGIC:#010x}"
        ));
    }
    if flags & P_META == 0 || pgno != index {
        return Err(format!(
            "damaged: the header says page {pgno} with flags {flags:#06x}, not meta page {index}"
        ));
    }
    if version != VERSION {
        return Err(format!(
            "LMDB data format version {version}, not {VERSION}: written by an incompatible LMDB"
        ));
    }
    let page_size = u32_at(b, 40);
    if !page_size.is_power_of_two() || !(512..=65536).contains(&page_size) {
        return Err(format!(
            "page size {page_size} is not a power of two between 512 and 65536: damaged"
        ));
    }
    let db = |at: usize| Tree {
        flags: u16_at(b, at + 4),
        depth: u16_at(b, at + 6),
        entries: u64_at(b, at + 32),
        root: u64_at(b, at + 40),
    };
    Ok(Meta {
        page_size,
        main: db(88),
        last_page: u64_at(b, 136),
        txn: u64_at(b, 144),
    })
}

/// The nodes of a branch or leaf page, their offsets checked.
struct Nodes<'a> {
    page: &'a [u8],
    count: usize,
}

/// One node of a page: its flags, key, and data size (or child page bits).
struct Node<'a> {
    lo: u16,
    hi: u16,
    flags: u16,
    data_size: usize,
    key: &'a [u8],
    /// The bytes after the key, to the end of the page.
    after_key: &'a [u8],
}

impl<'a> Nodes<'a> {
    fn of(page: &'a [u8]) -> std::result::Result<Self, String> {
        let (lower, upper) = (u16_at(page, 12) as usize, u16_at(page, 14) as usize);
        if lower < PAGE_HEADER
            || lower > upper
            || upper > page.len()
            || !(lower - PAGE_HEADER).is_multiple_of(2)
        {
            return Err(format!(
                "free-space bounds {lower}..{upper} do not fit a page of {} bytes",
                page.len()
            ));
        }
        Ok(Nodes {
            page,
            count: (lower - PAGE_HEADER) / 2,
        })
    }

    fn len(&self) -> usize {
        self.count
    }

    /// Node `i`, its header and key inside the page.
    fn node(&self, i: usize) -> std::result::Result<Node<'a>, String> {
        let offset = u16_at(self.page, PAGE_HEADER + 2 * i) as usize;
        let lower = PAGE_HEADER + 2 * self.count;
        if offset < lower || offset + NODE_HEADER > self.page.len() {
            return Err(format!(
                "node {i} at offset {offset} lies outside the page's node area"
            ));
        }
        let b = &self.page[offset..];
        let (lo, hi, flags, ksize) = (u16_at(b, 0), u16_at(b, 2), u16_at(b, 4), u16_at(b, 6));
        let key_end = NODE_HEADER + ksize as usize;
        if key_end > b.len() {
            return Err(format!(
                "node {i} at offset {offset}: a key of {ksize} bytes runs past the page"
            ));
        }
        Ok(Node {
            lo,
            hi,
            flags,
            data_size: lo as usize | (hi as usize) << 16,
            key: &b[NODE_HEADER..key_end],
            after_key: &b[key_end..],
        })
    }

    /// The node whose key is `key`, by binary search (keys are sorted as bytes, shorter
    /// first on a common prefix — LMDB's default order, which `<` on slices is).
    fn find(&self, key: &[u8]) -> std::result::Result<Option<Node<'a>>, String> {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let node = self.node(mid)?;
            match node.key.cmp(key) {
                std::cmp::Ordering::Equal => return Ok(Some(node)),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Ok(None)
    }
}

impl Node<'_> {
    /// A branch node's child page.
    fn child(&self) -> u64 {
        u64::from(self.lo) | u64::from(self.hi) << 16 | u64::from(self.flags) << 32
    }

    /// A leaf node's data, stored in the page.
    fn inline_data(&self) -> std::result::Result<&[u8], String> {
        self.after_key.get(..self.data_size).ok_or_else(|| {
            format!(
                "a value of {} bytes runs past the page ({} bytes left)",
                self.data_size,
                self.after_key.len()
            )
        })
    }

    /// A big leaf node's first overflow page.
    fn overflow_page(&self) -> std::result::Result<u64, String> {
        self.after_key
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or_else(|| "an overflow page number runs past the page".to_string())
    }
}
