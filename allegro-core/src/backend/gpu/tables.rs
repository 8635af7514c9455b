//! Small read-only `u32` tables (shapes, strides, launch geometry) on the device, cached
//! by content: MD repeats the same few every step, so each is uploaded once.
//!
//! The cached tables live packed in a few arena buffers, not one allocation each:
//! cubecl's pools find room by scanning every slice of their pages, so thousands of
//! small allocations that stay alive between the transient ones slowed every later
//! allocation (a training step makes thousands; this made GPU training 3–4× slower
//! from 2026-11-29 on, `docs/perf.md` "Training on the GPU").

use std::collections::HashMap;

use cubecl::prelude::*;
use cubecl::server::Handle;

use super::launch::{alloc, arg, grid, u32_of, upload_u32};
use super::{GpuDevice, GpuRuntime};

/// Entries kept before the cache starts afresh (bounds its memory).
const ENTRIES: usize = 4096;
/// `u32`s per arena buffer (256 KiB).
const ARENA_WORDS: usize = 1 << 16;
/// Tables start at multiples of 64 `u32`s (256 bytes): the strictest storage-buffer
/// offset alignment among the runtimes.
const ALIGN_WORDS: usize = 64;

/// The cache of one device (shared by its clones, behind a mutex).
#[derive(Default)]
pub(crate) struct TableCache {
    by_content: HashMap<Vec<u32>, Handle>,
    /// The arena new tables go into, and how many of its words are taken.
    arena: Option<(Handle, usize)>,
}

#[cube(launch_unchecked)]
fn place_kernel(src: &Array<u32>, arena: &mut Array<u32>, at: u32, len: u32) {
    if ABSOLUTE_POS < len as usize {
        arena[at as usize + ABSOLUTE_POS] = src[ABSOLUTE_POS];
    }
}

impl TableCache {
    /// The device copy of `values` (uploaded the first time). The handle must never be
    /// written.
    pub(crate) fn get<R: GpuRuntime>(&mut self, device: &GpuDevice<R>, values: &[u32]) -> Handle {
        if let Some(h) = self.by_content.get(values) {
            return h.clone();
        }
        if self.by_content.len() >= ENTRIES {
            self.by_content.clear();
            self.arena = None;
        }
        let words = values.len().max(1).next_multiple_of(ALIGN_WORDS);
        let handle = if words > ARENA_WORDS / 4 {
            // Large tables are rare: one allocation each.
            upload_u32(device, values)
        } else {
            self.place(device, values, words)
        };
        self.by_content.insert(values.to_vec(), handle.clone());
        handle
    }

    /// Uploads `values` and copies them into the arena (a new one when full); the
    /// upload is freed at once, so only the arenas stay allocated.
    fn place<R: GpuRuntime>(
        &mut self,
        device: &GpuDevice<R>,
        values: &[u32],
        words: usize,
    ) -> Handle {
        let client = &device.client;
        let (arena, used) = match self.arena.take() {
            Some((arena, used)) if used + words <= ARENA_WORDS => (arena, used),
            _ => (alloc(client, ARENA_WORDS, 4), 0),
        };
        let len = values.len();
        if len > 0 {
            let source = upload_u32(device, values);
            let (count, dim) = grid(client, len);
            // SAFETY: `source` holds `len` values; the arena has ARENA_WORDS ≥ used + len
            // words; the kernel guards `ABSOLUTE_POS < len`.
            device.counters.launch();
            unsafe {
                place_kernel::launch_unchecked::<R>(
                    client,
                    count,
                    dim,
                    arg(&source, len),
                    arg(&arena, ARENA_WORDS),
                    u32_of(used),
                    u32_of(len),
                )
            }
        }
        let handle = arena.clone().offset_start((used * 4) as u64);
        self.arena = Some((arena, used + words));
        handle
    }
}
