//! A sampling profile of the host (feature `host-profile`): where the CPU time of a run
//! goes, function by function, for a GPU training step that is bound by the host
//! (issue 16). The device machines have no `perf`; this samples the process itself
//! (SIGPROF, via `pprof`) and writes a plain-text table.
//!
//! `ALLEGRO_HOST_PROFILE=FILE train …` writes, at the end of the run, the functions
//! with the most samples: *self* (the function on top of the stack) and *total* (the
//! function anywhere on the stack, counted once per sample). Names come from the symbol
//! table, so a function inlined into its caller counts as the caller.

use std::collections::HashMap;
use std::fmt::Write as _;

/// Samples per second: enough for a few thousand samples in a minute of training.
const FREQUENCY: i32 = 997;
/// Rows of each table.
const ROWS: usize = 70;

/// A running profile; [`HostProfile::finish`] writes it.
pub struct HostProfile {
    guard: pprof::ProfilerGuard<'static>,
    path: String,
}

impl HostProfile {
    /// Starts sampling when `ALLEGRO_HOST_PROFILE` names a file.
    pub fn from_env() -> Result<Option<Self>, String> {
        let Ok(path) = std::env::var("ALLEGRO_HOST_PROFILE") else {
            return Ok(None);
        };
        let guard = pprof::ProfilerGuardBuilder::default()
            .frequency(FREQUENCY)
            .blocklist(&["libc", "libgcc", "pthread", "vdso"])
            .build()
            .map_err(|e| format!("ALLEGRO_HOST_PROFILE: cannot start the profiler: {e}"))?;
        Ok(Some(Self { guard, path }))
    }

    /// Writes the self and total tables to the file.
    pub fn finish(self) -> Result<(), String> {
        let report = self
            .guard
            .report()
            .build()
            .map_err(|e| format!("ALLEGRO_HOST_PROFILE: {e}"))?;
        let mut own: HashMap<String, isize> = HashMap::new();
        let mut total: HashMap<String, isize> = HashMap::new();
        let mut threads: HashMap<String, isize> = HashMap::new();
        let mut samples = 0;
        for (frames, &count) in &report.data {
            samples += count;
            *threads.entry(frames.thread_name.clone()).or_default() += count;
            let names: Vec<String> = frames
                .frames
                .iter()
                .flat_map(|f| f.iter().map(|s| short_name(&s.name())))
                .collect();
            if let Some(top) = names.first() {
                *own.entry(top.clone()).or_default() += count;
            }
            let mut seen: Vec<&String> = Vec::new();
            for n in &names {
                if !seen.contains(&n) {
                    seen.push(n);
                    *total.entry(n.clone()).or_default() += count;
                }
            }
        }
        let mut text = format!("{samples} samples at {FREQUENCY} Hz\n\n## threads\n");
        table(&mut text, &threads, samples);
        text.push_str("\n## self\n");
        table(&mut text, &own, samples);
        text.push_str("\n## total\n");
        table(&mut text, &total, samples);
        std::fs::write(&self.path, text).map_err(|e| format!("{}: {e}", self.path))
    }
}

/// A symbol without its hash suffix and with long generic arguments cut.
fn short_name(name: &str) -> String {
    let name = match name.rfind("::h") {
        Some(k) if name.len() - k == 19 => &name[..k],
        _ => name,
    };
    name.chars().take(160).collect()
}

/// The `ROWS` largest entries of `counts`, as percentages of `samples`.
fn table(text: &mut String, counts: &HashMap<String, isize>, samples: isize) {
    let mut rows: Vec<(&String, &isize)> = counts.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (name, &count) in rows.into_iter().take(ROWS) {
        let share = 100.0 * count as f64 / samples.max(1) as f64;
        let _ = writeln!(text, "{share:6.2} % {count:>7}  {name}");
    }
}
