//! Scatter tables built on the device, for index buffers the device computed (the
//! neighbor index of a device-built edge list): the destination offsets and the sources
//! of each destination in increasing order — exactly the tables the host's counting
//! sort makes (`GpuIndices::tables_from_host`), so sums are bit for bit the same, with no
//! read back and no upload.
//!
//! Counting sort in four launches and a scan: clear the counters, count each
//! destination's sources (integer atomics: the counts do not depend on the order the
//! threads run in), scan the counts into offsets, place each source at its
//! destination's offset plus an atomic cursor (an arbitrary order within the run), then
//! one thread per destination sorts its run (insertion sort: runs are as long as a
//! destination's fan-in, a neighbor count, so short). The sort makes the tables
//! deterministic.

use cubecl::prelude::*;
use cubecl::server::Handle;

use super::launch::{alloc, arg, grid, u32_of};
use super::neighbors::launch_scan;
use super::{GpuDevice, GpuRuntime};

/// Largest mean number of sources per destination the device tables take: a run is
/// sorted by one thread, so a destination with a huge fan-in (a per-frame sum) would
/// serialise; such scatters keep the host's tables.
pub(super) const MAX_MEAN_FAN_IN: usize = 1024;

/// Indices from which a buffer with a host copy also gets its tables here rather than
/// from the host's sort and an upload (4 bytes per index; the host sort of 2 M edges
/// takes milliseconds). Smaller buffers — a training batch's — keep the host's tables,
/// one upload against five launches.
pub(super) const HOST_COPY_MIN_LEN: usize = 1 << 16;

/// `counts[d] = 0` and `cursor[d] = 0` for `d < n`. Plain stores: `Atomic::store`
/// left the counters as they were on lavapipe (cubecl 0.10), and nothing else touches
/// them in this launch.
#[cube(launch_unchecked)]
fn clear_kernel(counts: &mut Array<u32>, cursor: &mut Array<u32>, n: u32) {
    let d = ABSOLUTE_POS;
    if d < n as usize {
        counts[d] = 0u32;
        cursor[d] = 0u32;
    }
}

/// `counts[idx[m]] += 1` for every source `m`.
#[cube(launch_unchecked)]
fn count_kernel(idx: &Array<u32>, counts: &mut Array<Atomic<u32>>, len: u32) {
    let m = ABSOLUTE_POS;
    if m < len as usize {
        counts[idx[m] as usize].fetch_add(1u32);
    }
}

/// `order[offsets[d] + k] = m` for the `k`-th source of `d` to arrive.
#[cube(launch_unchecked)]
fn place_kernel(
    idx: &Array<u32>,
    offsets: &Array<u32>,
    cursor: &mut Array<Atomic<u32>>,
    order: &mut Array<u32>,
    len: u32,
) {
    let m = ABSOLUTE_POS;
    if m < len as usize {
        let d = idx[m] as usize;
        let k = cursor[d].fetch_add(1u32);
        let at = (offsets[d] + k) as usize;
        order[at] = m as u32;
    }
}

/// Sorts `order[offsets[d]..offsets[d + 1]]` ascending, one thread per destination.
#[cube(launch_unchecked)]
fn sort_runs_kernel(offsets: &Array<u32>, order: &mut Array<u32>, n: u32) {
    let d = ABSOLUTE_POS;
    if d < n as usize {
        let a = offsets[d] as usize;
        let b = offsets[d + 1] as usize;
        for i in a + 1..b {
            let v = order[i];
            let mut j = i;
            loop {
                if j == a {
                    break;
                }
                let before = order[j - 1];
                if before <= v {
                    break;
                }
                order[j] = before;
                j -= 1;
            }
            order[j] = v;
        }
    }
}

/// The offsets (`n + 1`) and the order (`len`) of the indices in `idx` (`len` of them,
/// each below `n`), built on `device` without a transfer.
pub(super) fn tables_on_device<R: GpuRuntime>(
    device: &GpuDevice<R>,
    idx: &Handle,
    len: usize,
    n: usize,
) -> (Handle, Handle) {
    let client = &device.client;
    let counts = alloc(client, n.max(1), 4);
    let cursor = alloc(client, n.max(1), 4);
    let offsets = alloc(client, n + 1, 4);
    let order = alloc(client, len.max(1), 4);
    let meta = alloc(client, 3, 4);
    let launch = |threads: usize| grid(client, threads.max(1));
    // SAFETY (all launches): `counts` and `cursor` hold `n` words, `offsets` `n + 1`,
    // `order` and `idx` `len`; every index in `idx` is below `n` (the caller's
    // contract), and each kernel guards its position.
    unsafe {
        let (count, dim) = launch(n);
        device.counters.launch();
        clear_kernel::launch_unchecked::<R>(
            client,
            count,
            dim,
            arg(&counts, n.max(1)),
            arg(&cursor, n.max(1)),
            u32_of(n),
        );
        let (count, dim) = launch(len);
        device.counters.launch();
        count_kernel::launch_unchecked::<R>(
            client,
            count,
            dim,
            arg(idx, len),
            arg(&counts, n.max(1)),
            u32_of(len),
        );
    }
    launch_scan(device, &counts, &offsets, &meta, n);
    unsafe {
        let (count, dim) = launch(len);
        device.counters.launch();
        place_kernel::launch_unchecked::<R>(
            client,
            count,
            dim,
            arg(idx, len),
            arg(&offsets, n + 1),
            arg(&cursor, n.max(1)),
            arg(&order, len.max(1)),
            u32_of(len),
        );
    }
    sort_runs(device, &offsets, &order, n, len);
    (offsets, order)
}

/// Launches [`sort_runs_kernel`]: each run `order[offsets[d]..offsets[d + 1]]` sorted.
fn sort_runs<R: GpuRuntime>(
    device: &GpuDevice<R>,
    offsets: &Handle,
    order: &Handle,
    n: usize,
    len: usize,
) {
    let (count, dim) = grid(&device.client, n.max(1));
    device.counters.launch();
    // SAFETY: `offsets` holds `n + 1` nondecreasing words ending at most at `len`, the
    // length of `order`; the kernel guards its position.
    unsafe {
        sort_runs_kernel::launch_unchecked::<R>(
            &device.client,
            count,
            dim,
            arg(offsets, n + 1),
            arg(order, len.max(1)),
            u32_of(n),
        )
    }
}

#[cfg(all(test, feature = "vulkan"))]
mod tests {
    use super::super::launch::upload_u32;
    use super::super::transfer::download;
    use super::super::{Gpu, GpuIndices, WgpuRuntime};
    use super::tables_on_device;
    use crate::backend::{IndexOps, StorageOps};
    use crate::rng::SplitMix64;

    /// The CPU backend's counting sort (the oracle): offsets and the sources of each
    /// destination, increasing.
    fn host_tables(idx: &[u32], n: usize) -> (Vec<u32>, Vec<u32>) {
        let (start, order) = crate::backend::cpu::group_by_destination(idx, n);
        (start.into_iter().map(|s| s as u32).collect(), order)
    }

    /// Random destinations (some empty, some with long runs), as a neighbor index is.
    fn indices(len: usize, n: usize, rng: &mut SplitMix64) -> Vec<u32> {
        (0..len)
            .map(|_| {
                let r = rng.next_u64();
                // A quarter of the sources go to the first eighth of the destinations.
                let d = if r.is_multiple_of(4) {
                    (r >> 8) % (n as u64 / 8).max(1)
                } else {
                    (r >> 8) % n as u64
                };
                d as u32
            })
            .collect()
    }

    /// Lavapipe runs the placing threads in order, so the runs arrive sorted there; the
    /// sort itself is checked on shuffled runs (a GPU places in any order).
    #[test]
    fn runs_are_sorted() {
        let Some(device) = crate::testing::gpu_test_device::<WgpuRuntime>() else {
            return;
        };
        let mut rng = SplitMix64::new(3);
        let offsets: Vec<u32> = vec![0, 0, 5, 6, 40, 40, 300];
        let mut order: Vec<u32> = (0..300).collect();
        for w in offsets.windows(2) {
            rng.shuffle(&mut order[w[0] as usize..w[1] as usize]);
        }
        let (o, h) = (upload_u32(&device, &offsets), upload_u32(&device, &order));
        super::sort_runs(&device, &o, &h, offsets.len() - 1, order.len());
        let sorted: Vec<u32> = download::<WgpuRuntime, u32>(&device, h, order.len());
        assert_eq!(sorted, (0..300).collect::<Vec<u32>>());
    }

    #[test]
    fn device_tables_are_the_host_tables() {
        let Some(device) = crate::testing::gpu_test_device::<WgpuRuntime>() else {
            return;
        };
        let mut rng = SplitMix64::new(11);
        for (len, n) in [(1, 1), (7, 3), (1000, 40), (20_000, 700), (5000, 9000)] {
            let idx = indices(len, n, &mut rng);
            let handle = upload_u32(&device, &idx);
            let before = device.device_counts();
            let (offsets, order) = tables_on_device(&device, &handle, len, n);
            let moved = device.device_counts() - before;
            assert_eq!(
                (moved.uploads, moved.downloads),
                (0, 0),
                "{len} into {n}: transfers"
            );
            let want = host_tables(&idx, n);
            assert_eq!(
                download::<WgpuRuntime, u32>(&device, offsets, n + 1),
                want.0,
                "offsets"
            );
            assert_eq!(
                download::<WgpuRuntime, u32>(&device, order, len),
                want.1,
                "order"
            );
        }
    }

    /// A scatter by indices the device computed sums in the host tables' order, bit for
    /// bit, without reading the indices back.
    #[test]
    fn scatter_by_device_indices_needs_no_read_back() {
        let Some(device) = crate::testing::gpu_test_device::<WgpuRuntime>() else {
            return;
        };
        let mut rng = SplitMix64::new(5);
        let (len, n, inner) = (30_000, 600, 3);
        let idx = indices(len, n, &mut rng);
        let src: Vec<f32> = (0..len * inner)
            .map(|_| rng.next_f64() as f32 - 0.5)
            .collect();
        let src_d = Gpu::<WgpuRuntime>::from_host(&device, crate::HostData::F32(src.clone()));
        let on_device = GpuIndices::on_device(upload_u32(&device, &idx), len, &device);
        let with_host = Gpu::<WgpuRuntime>::indices_from_host(&device, &idx);
        let before = device.device_counts();
        let got = Gpu::<WgpuRuntime>::index_add(&src_d, 1, &on_device, len, inner, n);
        let moved = device.device_counts() - before;
        let want = Gpu::<WgpuRuntime>::index_add(&src_d, 1, &with_host, len, inner, n);
        assert_eq!(moved.downloads, 0, "the indices were read back");
        let (got, want) = (
            Gpu::<WgpuRuntime>::to_host(&got),
            Gpu::<WgpuRuntime>::to_host(&want),
        );
        assert_eq!(got, want, "sums differ from the host tables'");
    }

    /// A large scatter by host indices (a caller's neighbor list) gets its tables on the
    /// device too: nothing uploaded, the sums of each destination's sources in order.
    #[test]
    fn large_host_indices_need_no_upload() {
        let Some(device) = crate::testing::gpu_test_device::<WgpuRuntime>() else {
            return;
        };
        let mut rng = SplitMix64::new(8);
        let (len, n) = (super::HOST_COPY_MIN_LEN + 4321, 2000);
        let idx = indices(len, n, &mut rng);
        let src: Vec<f32> = (0..len).map(|_| rng.next_f64() as f32 - 0.5).collect();
        let src_d = Gpu::<WgpuRuntime>::from_host(&device, crate::HostData::F32(src.clone()));
        let host_idx = Gpu::<WgpuRuntime>::indices_from_host(&device, &idx);
        let before = device.device_counts();
        let got = Gpu::<WgpuRuntime>::index_add(&src_d, 1, &host_idx, len, 1, n);
        let moved = device.device_counts() - before;
        assert_eq!(moved.uploads, 0, "tables were uploaded");
        let mut want = vec![0f32; n];
        for (m, &d) in idx.iter().enumerate() {
            want[d as usize] += src[m];
        }
        let crate::HostData::F32(got) = Gpu::<WgpuRuntime>::to_host(&got) else {
            panic!("float32 in, float32 out")
        };
        for (d, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                "destination {d}: {g} vs {w}"
            );
        }
    }
}
