//! The generic op suite (`allegro_core::testing::suite`) on the GPU backend, for each
//! runtime feature that is on (`vulkan`, `cuda`, `hip`).
//!
//! Without a usable device the tests print that they were skipped, unless
//! `ALLEGRO_REQUIRE_GPU=1` is set (CI sets it for lavapipe), when they fail.

#![cfg(feature = "gpu")]

/// One GPU test per suite check, for the runtime `R` in scope where it expands.
macro_rules! gpu_tests {
    ($($module:ident :: $check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                if let Some(d) = allegro_core::testing::gpu_test_device::<R>() {
                    allegro_core::testing::suite::$module::$check::<allegro_core::backend::gpu::Gpu<R>>(&d);
                }
            }
        )*
    };
}

#[cfg(feature = "vulkan")]
mod vulkan {
    type R = allegro_core::backend::gpu::WgpuRuntime;
    allegro_core::for_each_suite_check!(gpu_tests);
}

#[cfg(feature = "cuda")]
mod cuda {
    type R = allegro_core::backend::gpu::CudaRuntime;
    allegro_core::for_each_suite_check!(gpu_tests);
}

#[cfg(feature = "hip")]
mod hip {
    type R = allegro_core::backend::gpu::HipRuntime;
    allegro_core::for_each_suite_check!(gpu_tests);
}

/// `upload_f64_with` and `download_f64_with` hand out spans in order that cover the
/// buffer exactly (several 4 MiB staging spans on CUDA), and count what they move.
fn fill_and_read_spans<R: allegro_core::backend::gpu::GpuRuntime>() {
    use allegro_core::backend::gpu::GpuStorage;
    let Some(device) = allegro_core::testing::gpu_test_device::<R>() else {
        return;
    };
    for len in [1usize, 4096, (4 << 20) / 8 + 7, 3 << 20] {
        let before = device.device_counts();
        let mut next = 0;
        let storage = GpuStorage::upload_f64_with(&device, len, |first, span| {
            assert_eq!(first, next, "spans out of order");
            for (k, v) in span.iter_mut().enumerate() {
                *v = (first + k) as f64 * 0.25 - 1.0;
            }
            next += span.len();
        });
        assert_eq!(next, len, "spans do not cover the buffer");
        let mut back = Vec::with_capacity(len);
        storage.download_f64_with(|first, span| {
            assert_eq!(first, back.len(), "read spans out of order");
            back.extend_from_slice(span);
        });
        assert!(
            back.iter()
                .enumerate()
                .all(|(i, &v)| v == i as f64 * 0.25 - 1.0),
            "{len} values changed on the way"
        );
        let moved = device.device_counts() - before;
        assert_eq!(
            (
                moved.bytes_to_device,
                moved.bytes_to_host,
                moved.uploads,
                moved.downloads
            ),
            (8 * len as u64, 8 * len as u64, 1, 1),
            "counts for {len} values"
        );
    }
}

#[cfg(feature = "vulkan")]
#[test]
fn vulkan_fill_and_read_spans() {
    fill_and_read_spans::<allegro_core::backend::gpu::WgpuRuntime>();
}

#[cfg(feature = "cuda")]
#[test]
fn cuda_fill_and_read_spans() {
    fill_and_read_spans::<allegro_core::backend::gpu::CudaRuntime>();
}

/// A scatter over indices that exist only on the device (per-edge type tables that
/// `EdgeOps::edge_inputs` builds there) reads nothing back (it scans them on the device)
/// and equals the CPU's scatter over the same indices computed on the host.
fn scatter_over_device_tables<R: allegro_core::backend::gpu::GpuRuntime>() {
    use allegro_core::backend::cpu::{Cpu, CpuDevice};
    use allegro_core::backend::gpu::Gpu;
    use allegro_core::backend::{EdgeOps, NeighborList, pack_shift};
    use allegro_core::{DType, HostData, Indices, SplitMix64, Tensor};
    let Some(device) = allegro_core::testing::gpu_test_device::<R>() else {
        return;
    };
    let (atoms, edges, types) = (40usize, 900usize, 5usize);
    let mut rng = SplitMix64::new(7);
    let pick = |rng: &mut SplitMix64, n: usize| (rng.next_f64() * n as f64) as u32 % n as u32;
    let atom_types: Vec<u32> = (0..atoms).map(|_| pick(&mut rng, types)).collect();
    let centers: Vec<u32> = (0..edges).map(|_| pick(&mut rng, atoms)).collect();
    let neighbors: Vec<u32> = (0..edges).map(|_| pick(&mut rng, atoms)).collect();
    let positions: Vec<f64> = (0..3 * atoms).map(|k| k as f64 * 0.37).collect();
    let up = |v: &[f64], shape: &[usize]| {
        Tensor::<Gpu<R>>::from_host(HostData::F64(v.to_vec()), shape, &device).unwrap()
    };
    let (pos, cell) = (up(&positions, &[atoms, 3]), up(&[0.0; 9], &[1, 3, 3]));
    let shift = vec![pack_shift([0, 0, 0]).unwrap(); edges];
    let idx = |v: &[u32]| Indices::<Gpu<R>>::new(v, &device);
    let (t, b, c, nb, sh) = (
        idx(&atom_types),
        idx(&vec![0; atoms]),
        idx(&centers),
        idx(&neighbors),
        idx(&shift),
    );
    let built = Gpu::<R>::edge_inputs(NeighborList {
        positions: pos.storage(),
        cells: cell.storage(),
        atom_types: t.storage(),
        batch: b.storage(),
        centers: c.storage(),
        neighbors: nb.storage(),
        shifts: sh.storage(),
        n_edges: edges,
        num_types: types,
    });
    let edge_types = Indices::<Gpu<R>>::from_storage(built.edge_types, edges, Some(24));
    let want_types: Vec<u32> = centers
        .iter()
        .zip(&neighbors)
        .map(|(&i, &j)| atom_types[i as usize] * types as u32 + atom_types[j as usize])
        .collect();
    let src: Vec<f64> = (0..edges * 3).map(|_| rng.next_f64() - 0.5).collect();
    let before = device.device_counts();
    let got = Tensor::<Gpu<R>>::from_f64(&src, &[edges, 3], DType::F64, &device)
        .unwrap()
        .index_add(0, &edge_types, types * types);
    let moved = device.device_counts() - before;
    assert_eq!(
        moved.downloads, 0,
        "the scatter read its indices back: {moved:?}"
    );
    let want = Tensor::<Cpu>::from_f64(&src, &[edges, 3], DType::F64, &CpuDevice)
        .unwrap()
        .index_add(
            0,
            &Indices::<Cpu>::new(&want_types, &CpuDevice),
            types * types,
        );
    assert!(
        got.to_vec_f64() == want.to_vec_f64(),
        "scatter over device-built types"
    );
}

#[cfg(feature = "vulkan")]
#[test]
fn vulkan_scatter_over_device_tables() {
    scatter_over_device_tables::<allegro_core::backend::gpu::WgpuRuntime>();
}

#[cfg(feature = "cuda")]
#[test]
fn cuda_scatter_over_device_tables() {
    scatter_over_device_tables::<allegro_core::backend::gpu::CudaRuntime>();
}

/// `fused_linear` through cuBLAS (every size sent there) against the CPU: every case of
/// the suite's checks, blocks in, split and accumulated blocks out, epilogues.
#[cfg(feature = "cuda")]
#[test]
fn fused_linear_through_cublas_matches_the_cpu() {
    use allegro_core::backend::gpu::{
        CudaRuntime, DEFAULT_VENDOR_MIN_ROWS, Gpu, cublas_available, set_vendor_min_rows,
    };
    let Some(device) = allegro_core::testing::gpu_test_device::<CudaRuntime>() else {
        return;
    };
    if !cublas_available() {
        let required = std::env::var("ALLEGRO_REQUIRE_GPU").is_ok_and(|v| v == "1");
        assert!(!required, "libcublas.so did not load");
        eprintln!("skipped: libcublas.so did not load");
        return;
    }
    set_vendor_min_rows(0);
    allegro_core::testing::suite::inference::fused_linear::<Gpu<CudaRuntime>>(&device);
    allegro_core::testing::suite::inference::fused_linear_large::<Gpu<CudaRuntime>>(&device);
    set_vendor_min_rows(DEFAULT_VENDOR_MIN_ROWS);
}
