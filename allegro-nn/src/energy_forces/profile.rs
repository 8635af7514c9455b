//! Wall-clock time per stage, for finding where time goes on a device without a
//! profiler. Off unless `ALLEGRO_PROFILE` is set: then each stage ends with a device
//! synchronisation (which itself costs time, and takes away the overlap of host and
//! device work) and the times add up in a process-wide table that [`report`] prints.
//!
//! Each stage records two times: `host`, until the host had enqueued the stage's last
//! work (before the synchronisation), and `total`, until the device had finished it;
//! `total − host` is how long the device ran behind. It also records what the stage
//! asked of the device (kernel launches, uploads, waits), counted by the backend; the
//! timer's own synchronisations are not counted.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use allegro_core::Backend;
use allegro_core::backend::DeviceCounts;
use allegro_core::backend::cpu::{Cpu, CpuDevice};

/// One stage's totals.
#[derive(Clone, Copy, Debug, Default)]
struct StageTotals {
    host_s: f64,
    total_s: f64,
    calls: usize,
    launches: u64,
    uploads: u64,
    waits: u64,
}

fn table() -> &'static Mutex<BTreeMap<String, StageTotals>> {
    static TABLE: OnceLock<Mutex<BTreeMap<String, StageTotals>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// Whether stage timing is on (`ALLEGRO_PROFILE` set).
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("ALLEGRO_PROFILE").is_some())
}

/// Times consecutive stages on one device.
pub struct StageTimer<'a, B: Backend> {
    device: &'a B::Device,
    /// When the current stage began and the device's counts then (profiling on).
    last: Option<(Instant, DeviceCounts)>,
}

impl<'a, B: Backend> StageTimer<'a, B> {
    /// Starts timing (after the device has finished earlier work).
    pub fn start(device: &'a B::Device) -> Self {
        let last = enabled().then(|| Self::settle(device));
        StageTimer { device, last }
    }

    /// Waits for the device; the time and counts after the wait.
    fn settle(device: &B::Device) -> (Instant, DeviceCounts) {
        B::synchronize(device);
        (Instant::now(), B::device_counts(device))
    }

    /// Starts the next stage now, without recording the time since the last one (time
    /// spent in stages recorded elsewhere).
    pub fn restart(&mut self) {
        if self.last.is_some() {
            self.last = Some(Self::settle(self.device));
        }
    }

    /// Ends the stage `name` (waits for the device) and starts the next.
    pub fn stage(&mut self, name: &str) {
        if let Some((began, counts)) = self.last {
            let host = Instant::now();
            let asked = B::device_counts(self.device) - counts;
            let (done, after) = Self::settle(self.device);
            let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
            let entry = t.entry(name.to_string()).or_default();
            entry.host_s += (host - began).as_secs_f64();
            entry.total_s += (done - began).as_secs_f64();
            entry.calls += 1;
            entry.launches += asked.launches;
            entry.uploads += asked.uploads;
            entry.waits += asked.synchronizations;
            self.last = Some((done, after));
        }
    }
}

impl StageTimer<'static, Cpu> {
    /// Times stages of host work (nothing to wait for).
    pub fn host() -> Self {
        static HOST: CpuDevice = CpuDevice;
        StageTimer::start(&HOST)
    }
}

/// The stage times so far (total ms, share, calls, host ms, and launches, uploads and
/// waits per call), and clears them.
pub fn report() -> String {
    let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
    let total: f64 = t.values().map(|s| s.total_s).sum();
    let mut out = format!(
        "  {:<28} {:>10} {:>7} {:>6} {:>10} {:>9} {:>8} {:>6}\n",
        "stage", "total ms", "share", "calls", "host ms", "launches", "uploads", "waits"
    );
    for (name, s) in t.iter() {
        let per = |x: u64| x as f64 / s.calls.max(1) as f64;
        out.push_str(&format!(
            "  {name:<28} {:>10.2} {:>6.1}% {:>6} {:>10.2} {:>9.1} {:>8.1} {:>6.1}\n",
            s.total_s * 1e3,
            100.0 * s.total_s / total.max(1e-12),
            s.calls,
            s.host_s * 1e3,
            per(s.launches),
            per(s.uploads),
            per(s.waits),
        ));
    }
    t.clear();
    out
}
