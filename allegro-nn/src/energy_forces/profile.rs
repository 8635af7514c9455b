//! Wall-clock time per stage of the no-tape path, for finding where time goes on a
//! device without a profiler. Off unless `ALLEGRO_PROFILE` is set: then each stage ends
//! with a device synchronisation (which itself costs time) and the times add up in a
//! process-wide table that [`report`] prints.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use allegro_core::Backend;
use allegro_core::backend::cpu::{Cpu, CpuDevice};

fn table() -> &'static Mutex<BTreeMap<String, (f64, usize)>> {
    static TABLE: OnceLock<Mutex<BTreeMap<String, (f64, usize)>>> = OnceLock::new();
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
    last: Option<Instant>,
}

impl<'a, B: Backend> StageTimer<'a, B> {
    /// Starts timing (after the device has finished earlier work).
    pub fn start(device: &'a B::Device) -> Self {
        let last = enabled().then(|| {
            B::synchronize(device);
            Instant::now()
        });
        StageTimer { device, last }
    }

    /// Starts the next stage now, without recording the time since the last one (time
    /// spent in stages recorded elsewhere).
    pub fn restart(&mut self) {
        if self.last.is_some() {
            B::synchronize(self.device);
            self.last = Some(Instant::now());
        }
    }

    /// Ends the stage `name` (waits for the device) and starts the next.
    pub fn stage(&mut self, name: &str) {
        if let Some(last) = self.last {
            B::synchronize(self.device);
            let now = Instant::now();
            let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
            let entry = t.entry(name.to_string()).or_insert((0.0, 0));
            entry.0 += (now - last).as_secs_f64();
            entry.1 += 1;
            self.last = Some(now);
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

/// The stage times so far (total ms and count per stage), and clears them.
pub fn report() -> String {
    let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
    let total: f64 = t.values().map(|(s, _)| s).sum();
    let mut out = String::new();
    for (name, (s, n)) in t.iter() {
        out.push_str(&format!(
            "  {name:<28} {:>10.2} ms in {n:>4} calls ({:>5.1} %)\n",
            s * 1e3,
            100.0 * s / total.max(1e-12)
        ));
    }
    t.clear();
    out
}
