//! Keeping freed tensor buffers in the process (glibc's malloc settings).
//!
//! A training step on the CPU allocates and frees hundreds of per-edge buffers of tens of
//! megabytes. glibc serves blocks above its mmap threshold (at most 32 MiB by its dynamic
//! rule) with a fresh `mmap` and returns them with `munmap` on free, so every such buffer
//! costs a page fault and a zeroed page per 4 KiB on first touch, and a TLB flush on
//! release: measured, a third of a water-192 training step's time was spent in the kernel.
//! Raising the mmap and trim thresholds keeps freed blocks in malloc's heap, where the
//! next buffer of the step reuses them (the step's peak resident size stays the same; the
//! heap is not shrunk back between steps).
//!
//! This is a process-wide setting, so the program chooses it, not the tensor engine: the
//! `train` command and the CPU benchmarks call [`keep_freed_buffers`] first, and so does the
//! C ABI when it opens a model on the CPU (a library inside LAMMPS or Python leaves a host
//! program's malloc alone until then). A Rust program that trains on the CPU should call
//! it once at its start. `ALLEGRO_CPU_MALLOC=system` leaves malloc as the process set it.

use std::sync::Once;

/// Blocks below this are taken from malloc's heap instead of their own mapping.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1 << 30;

/// Free memory at the top of the heap beyond this is returned to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 1 << 30;

/// Raises glibc's mmap and trim thresholds once per process, so that the CPU backend's
/// freed tensor buffers stay in malloc's heap for the next step instead of being
/// unmapped (a third of a CPU training step was page faults without it; see the module
/// comment). A no-op with `ALLEGRO_CPU_MALLOC=system` and on C libraries other than glibc.
pub fn keep_freed_buffers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var("ALLEGRO_CPU_MALLOC").as_deref() == Ok("system") {
            return;
        }
        apply();
    });
}

/// Sets glibc's thresholds; returns whether glibc took both.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> bool {
    // SAFETY: mallopt only changes malloc's parameters; it is safe to call at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    }
}

/// Other C libraries keep their own policy.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> bool {
    false
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_both_thresholds() {
        // A threshold glibc refuses (older versions capped it at 32 MiB) would leave the
        // step paying page faults without a sign.
        assert!(super::apply());
    }
}
