//! Buffers that cross between host and device come back bit for bit, whatever their
//! size (the CUDA backend copies through a ring of fixed-size pinned slots, so sizes
//! around and well past a span and past the whole ring are checked), and the backend
//! counts what crossed.

use crate::backend::{Backend, DeviceCounts};
use crate::dtype::HostData;
use crate::tensor::Tensor;

/// Round trips of f32 and f64 buffers from one element to 40 MiB, and their counts.
pub fn round_trips_and_counts<B: Backend>(device: &B::Device) {
    // Element counts around the CUDA ring's 4 MiB slots and past its 32 MiB.
    let sizes = [1usize, 1000, (4 << 20) / 4 - 1, (4 << 20) / 4 + 3, 10 << 20];
    let moves = B::name() != "cpu";
    for &n in &sizes {
        let values: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 7.0).collect();
        let before = B::device_counts(device);
        let t = Tensor::<B>::from_host(HostData::F32(values.clone()), &[n], device)
            .expect("shape matches");
        let uploaded = B::device_counts(device) - before;
        let back = t.to_host();
        let both = B::device_counts(device) - before;
        match back {
            HostData::F32(v) => assert!(v == values, "f32 × {n}: values changed on the way"),
            HostData::F64(_) => panic!("f32 × {n} came back as f64"),
        }
        let bytes = if moves { 4 * n as u64 } else { 0 };
        let count = u64::from(moves);
        assert_eq!(
            uploaded,
            DeviceCounts {
                bytes_to_device: bytes,
                uploads: count,
                ..DeviceCounts::default()
            },
            "f32 × {n}: upload counts"
        );
        assert_eq!(
            both,
            DeviceCounts {
                bytes_to_device: bytes,
                uploads: count,
                bytes_to_host: bytes,
                downloads: count,
                synchronizations: count,
                launches: 0,
            },
            "f32 × {n}: round-trip counts"
        );
    }
    let n = (4 << 20) / 8 * 9 + 5;
    let values: Vec<f64> = (0..n).map(|i| (i as f64).sqrt() - 3.0).collect();
    let t =
        Tensor::<B>::from_host(HostData::F64(values.clone()), &[n], device).expect("shape matches");
    assert!(
        t.to_vec_f64() == values,
        "f64 × {n}: values changed on the way"
    );
}
