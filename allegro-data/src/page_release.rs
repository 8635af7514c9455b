//! Keeps a read-only memory map's resident size bounded while a file much larger than
//! memory is read through it once per epoch.
//!
//! A shard reader hands out records as slices of its map of the whole file. Every page a read
//! touches — and the neighbours the kernel maps with it (fault-around) — stays mapped
//! into this process and counts toward its resident size until the kernel is short of
//! memory, so streaming a 4 GB dataset would show a 4 GB resident size although nothing
//! keeps that data. After reads that may have mapped [`RELEASE_EVERY`] bytes we tell the
//! kernel (`madvise(MADV_DONTNEED)`) that the span of the map read so far is not needed:
//! for a shared read-only file mapping this only drops the page-table entries, and a
//! later read of the same bytes maps them again from the page cache (or the file), with
//! the same contents. Readers in other threads are unaffected beyond that re-mapping.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes a read may leave mapped between two releases: what it read plus what the
/// kernel maps around the faulting page (`fault_around_bytes`, 64 KiB by default) —
/// counted per read, since reads in a shuffled order each fault in a fresh
/// neighbourhood once the file is in the page cache.
pub const RELEASE_EVERY: usize = 32 << 20;

/// The kernel's default fault-around window, counted against [`RELEASE_EVERY`] for each
/// read.
const FAULT_AROUND: usize = 64 << 10;

/// The span of a map that reads have touched, and how much was read since the last
/// release.
#[derive(Debug)]
pub struct PageRelease {
    lo: AtomicUsize,
    hi: AtomicUsize,
    since: AtomicUsize,
}

impl Default for PageRelease {
    fn default() -> Self {
        PageRelease {
            lo: AtomicUsize::new(usize::MAX),
            hi: AtomicUsize::new(0),
            since: AtomicUsize::new(0),
        }
    }
}

impl PageRelease {
    /// Records a read of `bytes`, a slice of the one map this tracker belongs to, and
    /// releases the span read so far once reads may have mapped [`RELEASE_EVERY`] bytes.
    pub fn note_read(&self, bytes: &[u8]) {
        let start = bytes.as_ptr() as usize;
        self.lo.fetch_min(start, Ordering::Relaxed);
        self.hi.fetch_max(start + bytes.len(), Ordering::Relaxed);
        let cost = bytes.len() + FAULT_AROUND;
        let since = self.since.fetch_add(cost, Ordering::Relaxed) + cost;
        if since >= RELEASE_EVERY && self.since.swap(0, Ordering::Relaxed) >= RELEASE_EVERY {
            self.release();
        }
    }

    /// Drops the page-table entries of the span read so far.
    fn release(&self) {
        let lo = self.lo.load(Ordering::Relaxed);
        let hi = self.hi.load(Ordering::Relaxed);
        if lo >= hi {
            return;
        }
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .ok()
            .filter(|&p| p > 0)
            .unwrap_or(4096);
        // Whole pages inside [lo, hi): both ends were inside the one mapping (every
        // slice noted came from it), so every page between them is too.
        let start = lo.next_multiple_of(page);
        let end = hi - hi % page;
        if start >= end {
            return;
        }
        // SAFETY: [start, end) lies inside a shared, read-only, file-backed mapping that
        // outlives this call (the environment owns it and this tracker lives inside it).
        // MADV_DONTNEED on such a mapping discards no data: later accesses fault the
        // file's pages in again. The result is advisory; a failure changes nothing.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resident kB of the mapping that contains `addr`, from /proc/self/smaps.
    fn resident_kb(addr: usize) -> usize {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((a, b)) = range.split_once('-')
                && let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                inside = (a..b).contains(&addr);
            } else if inside && let Some(kb) = line.strip_prefix("Rss:") {
                return kb.trim().trim_end_matches("kB").trim().parse().unwrap();
            }
        }
        panic!("no mapping holds {addr:#x}")
    }

    /// Reading a 96 MiB file-backed map once, 64 KiB at a time, leaves at most one
    /// release interval (plus fault-around) resident; without the tracker it would all be.
    #[test]
    fn streaming_reads_keep_the_map_resident_size_bounded() {
        let path = std::env::temp_dir().join(format!("page-release-{}", std::process::id()));
        let len = 96usize << 20;
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: the file is ours and not modified while mapped.
        let map = unsafe { memmap2::Mmap::map(&file).unwrap() };
        let tracker = PageRelease::default();
        let mut sum = 0u64;
        for chunk in map.chunks(64 << 10) {
            sum += chunk.iter().map(|&b| b as u64).sum::<u64>();
            tracker.note_read(chunk);
        }
        let expected: u64 = data.iter().map(|&b| b as u64).sum();
        assert_eq!(sum, expected, "the bytes read are the file's");
        let resident = resident_kb(map.as_ptr() as usize);
        assert!(
            resident <= (RELEASE_EVERY >> 10) + 1024,
            "{resident} kB of a 96 MiB map resident after one pass"
        );
        // A second pass reads the same bytes again (the released pages map again).
        let again: u64 = map.iter().map(|&b| b as u64).sum();
        assert_eq!(again, expected);
        drop(map);
        std::fs::remove_file(&path).unwrap();
    }
}
