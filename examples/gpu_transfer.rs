//! Host↔device transfer rates of the CUDA backend (`--features cuda`), for 1–128 MiB:
//!
//! - `staged`: `Tensor::from_host` of a `Vec` and `to_vec_f64` into a new one: the
//!   backend's transfers through its pinned staging ring, with one host copy each way
//!   (`allegro-core/src/backend/gpu/cuda_transfer.rs`);
//! - `in place`: `GpuStorage::upload_f64_with` / `download_f64_with`, where the producer
//!   writes (and the consumer reads) the pinned staging memory itself: the bus's rate;
//! - `cubecl`: cubecl 0.10's own `create` and `read_one`, for comparison;
//! - `host copy`: a parallel copy of the same bytes between two host buffers, the bound
//!   of the staged path.
//!
//! Each size is repeated; the first repetition warms pools and the ring, so the median of
//! the rest is printed, with the fastest. An upload is timed until the device has the data
//! (a synchronisation after it); a download until the host has it.

#[cfg(feature = "cuda")]
fn main() {
    use allegro::core::backend::gpu::{
        Bytes, CubeclTransfers, CudaRuntime, Gpu, GpuDevice, GpuStorage, Transfers,
    };
    use allegro::core::{HostData, Tensor};
    use rayon::prelude::*;
    use std::mem::MaybeUninit;
    use std::time::Instant;
    type B = Gpu<CudaRuntime>;
    let device = GpuDevice::<CudaRuntime>::try_default().expect("a CUDA device");
    let client = device.client();
    let reps = 8;
    let summary = |mb: usize, what: &str, secs: &mut Vec<f64>| {
        let warm = &mut secs[1..];
        warm.sort_by(f64::total_cmp);
        let gbs = |s: f64| (mb << 20) as f64 / s / 1e9;
        println!(
            "{mb:>4} MiB {what:<20} median {:>8.3} ms ({:>5.1} GB/s), fastest {:>5.1} GB/s",
            warm[warm.len() / 2] * 1e3,
            gbs(warm[warm.len() / 2]),
            gbs(warm[0])
        );
    };
    let timed = |secs: &mut Vec<f64>, f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        secs.push(start.elapsed().as_secs_f64());
    };
    for mb in [1usize, 8, 32, 128] {
        let n = (mb << 20) / 8;
        let mut t: [Vec<f64>; 7] = Default::default();
        for rep in 0..reps {
            let value = rep as f64 + 0.5;
            let host = vec![value; n];
            let mut tensor = None;
            let mut source = Some(host.clone());
            timed(&mut t[0], &mut || {
                let data = HostData::F64(source.take().expect("one upload"));
                let x = Tensor::<B>::from_host(data, &[n], &device);
                device.synchronize().unwrap();
                tensor = x.ok();
            });
            let tensor = tensor.expect("upload");
            let mut back = Vec::new();
            timed(&mut t[1], &mut || back = tensor.to_vec_f64());
            assert!(
                back[0] == value && back[n - 1] == value,
                "staged: wrong data back"
            );

            let mut storage = None;
            timed(&mut t[2], &mut || {
                storage = Some(GpuStorage::upload_f64_with(&device, n, |_, span| {
                    span.par_chunks_mut(1 << 15).for_each(|c| c.fill(value))
                }));
                device.synchronize().unwrap();
            });
            let mut sum = 0.0;
            timed(&mut t[3], &mut || {
                storage
                    .as_ref()
                    .unwrap()
                    .download_f64_with(|_, span| sum += span[0] + span[span.len() - 1])
            });
            assert!(sum > 0.0, "in place: wrong data back");

            let bytes = Bytes::from_elems(host.clone());
            let mut h = None;
            timed(&mut t[4], &mut || {
                h = Some(CubeclTransfers.upload(client, bytes.clone()));
                device.synchronize().unwrap();
            });
            let mut out: Vec<MaybeUninit<u8>> = Vec::with_capacity(n * 8);
            // SAFETY: MaybeUninit needs no initialisation.
            unsafe { out.set_len(n * 8) };
            timed(&mut t[5], &mut || {
                CubeclTransfers.download(client, h.take().unwrap(), &mut out)
            });

            let mut copy = vec![0.0f64; n];
            timed(&mut t[6], &mut || {
                copy.par_chunks_mut(1 << 16)
                    .zip(host.par_chunks(1 << 16))
                    .for_each(|(d, s)| d.copy_from_slice(s))
            });
        }
        for (k, what) in [
            "upload staged",
            "download staged",
            "upload in place",
            "download in place",
            "upload cubecl",
            "download cubecl",
            "host copy",
        ]
        .iter()
        .enumerate()
        {
            summary(mb, what, &mut t[k]);
        }
    }
    println!("counted by the backend: {:?}", device.device_counts());
}

#[cfg(not(feature = "cuda"))]
fn main() {
    eprintln!("gpu_transfer needs --features cuda");
}
