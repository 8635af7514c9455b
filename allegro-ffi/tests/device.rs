//! Models opened on a device (`allegro_model_open_device`): the device string, the
//! error for a GPU this build lacks, and — with the `vulkan` feature (lavapipe in CI) —
//! the GPU path of the C ABI equal to the CPU's (float64 model, water-192, periodic and
//! LAMMPS forms).

mod common;

use std::ffi::{CStr, CString};
use std::ptr::{null, null_mut};

use allegro_ffi::*;

fn last_error() -> String {
    unsafe { CStr::from_ptr(allegro_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn open(device: &str) -> Result<*mut AllegroModel, (i32, String)> {
    let path = CString::new(common::small_model_file().to_str().unwrap()).unwrap();
    let device = CString::new(device).unwrap();
    let mut model = null_mut();
    match unsafe { allegro_model_open_device(path.as_ptr(), device.as_ptr(), &mut model) } {
        ALLEGRO_OK => Ok(model),
        code => Err((code, last_error())),
    }
}

fn device_name(model: *const AllegroModel) -> String {
    let mut buf = [0 as std::ffi::c_char; 32];
    assert_eq!(
        unsafe { allegro_model_device(model, buf.as_mut_ptr(), buf.len()) },
        ALLEGRO_OK
    );
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn device_strings_and_missing_backends() {
    let m = open("CPU").unwrap();
    assert_eq!(device_name(m), "cpu");
    unsafe { allegro_model_free(m) };
    let (code, message) = open("tpu").unwrap_err();
    assert_eq!(code, ALLEGRO_ERR_INVALID);
    assert!(
        message.contains("expected cpu, cuda[:N], hip[:N] or vulkan"),
        "{message}"
    );
    if !cfg!(feature = "hip") {
        let (code, message) = open("hip:1").unwrap_err();
        assert_eq!(code, ALLEGRO_ERR_DEVICE);
        assert!(
            message.contains("`hip:1`") && message.contains("feature `hip`"),
            "{message}"
        );
    }
    let path = CString::new("x.allegro").unwrap();
    let mut model = null_mut();
    assert_eq!(
        unsafe { allegro_model_open_device(path.as_ptr(), null(), &mut model) },
        ALLEGRO_ERR_NULL
    );
}

/// Energy, per-atom energies, forces and virial of water-192 through `allegro_compute`
/// on `model`.
#[cfg(feature = "vulkan")]
fn water(model: *const AllegroModel) -> (f64, Vec<f64>, Vec<f64>, [f64; 9]) {
    let s = common::first_frame(&common::shared_data("water-192.xyz"));
    let types: Vec<i32> = s
        .species
        .iter()
        .map(|sp| if sp.as_str() == "H" { 0 } else { 1 })
        .collect();
    let pos: Vec<f64> = s.positions.iter().flatten().copied().collect();
    let cell: Vec<f64> = s.cell.unwrap().iter().flatten().copied().collect();
    let n = types.len();
    let (mut e, mut ea, mut f, mut v) = (0.0, vec![0.0; n], vec![0.0; 3 * n], [0.0; 9]);
    let rc = unsafe {
        allegro_compute(
            model,
            n,
            types.as_ptr(),
            pos.as_ptr(),
            cell.as_ptr(),
            null(),
            &mut e,
            ea.as_mut_ptr(),
            f.as_mut_ptr(),
            v.as_mut_ptr(),
        )
    };
    assert_eq!(rc, ALLEGRO_OK, "{}", last_error());
    (e, ea, f, v)
}

#[cfg(feature = "vulkan")]
#[test]
fn vulkan_equals_cpu() {
    let gpu = match open("vulkan") {
        Ok(m) => m,
        Err((_, message)) => {
            assert!(
                std::env::var_os("ALLEGRO_REQUIRE_GPU").is_none(),
                "ALLEGRO_REQUIRE_GPU=1 but no Vulkan device: {message}"
            );
            common::report(&format!("skipped: no Vulkan device ({message})"));
            return;
        }
    };
    assert_eq!(device_name(gpu), "vulkan");
    let cpu = open("cpu").unwrap();
    let (a, b) = (water(gpu), water(cpu));
    let rel = |x: &[f64], y: &[f64]| common::rel_diff(x, y);
    let d = [
        ((a.0 - b.0) / b.0).abs(),
        rel(&a.1, &b.1),
        rel(&a.2, &b.2),
        rel(&a.3, &b.3),
    ];
    common::report(&format!(
        "C ABI on vulkan vs cpu (f64): E, per-atom E, F, virial {d:?}"
    ));
    assert!(d.iter().all(|&x| x <= 1e-10), "{d:?}");
    unsafe {
        allegro_model_free(gpu);
        allegro_model_free(cpu);
    }
}
