//! The resolvers nequip configs call: `oc.env`, `oc.decode` (OmegaConf), `hydra`, `now`
//! (Hydra) and `training_data_stats` (nequip). Any other name is an error naming it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::error::{ConfigError, ConfigResult};
use super::key_path::KeyPath;
use super::override_value::parse_value;
use super::stats;

/// What the resolvers read from outside the tree.
#[derive(Clone, Debug)]
pub struct ResolveContext {
    /// The absolute run directory (`${hydra:runtime.output_dir}`); `None` while the run
    /// directory itself is being resolved.
    pub run_dir: Option<PathBuf>,
    /// The run directory as configured (`${hydra:run.dir}`).
    pub run_dir_text: Option<String>,
    /// The working directory (`${hydra:runtime.cwd}`).
    pub cwd: PathBuf,
    /// Environment variables (`${oc.env:VAR}`): a snapshot, so tests need not touch the
    /// process environment.
    pub env: BTreeMap<String, String>,
    /// The time `${now:FMT}` formats (UTC).
    pub now: SystemTime,
}

impl ResolveContext {
    /// This process's environment, working directory and clock; no run directory yet.
    pub fn from_process() -> Self {
        ResolveContext {
            run_dir: None,
            run_dir_text: None,
            cwd: std::env::current_dir().unwrap_or_default(),
            env: std::env::vars().collect(),
            now: SystemTime::now(),
        }
    }
}

/// The resolvers known here.
const KNOWN: [&str; 5] = ["oc.env", "oc.decode", "hydra", "now", "training_data_stats"];

/// Calls resolver `name` with evaluated `args` for the node at `at`.
pub(crate) fn call(
    name: &str,
    args: &[Value],
    ctx: &ResolveContext,
    at: &KeyPath,
) -> ConfigResult<Value> {
    let err = |m: String| ConfigError::new(at, m);
    let arity = |lo: usize, hi: usize| {
        if (lo..=hi).contains(&args.len()) {
            Ok(())
        } else {
            Err(err(format!(
                "`${{{name}:...}}` takes {lo}..={hi} arguments, not {}",
                args.len()
            )))
        }
    };
    match name {
        "oc.env" => {
            arity(1, 2)?;
            let var = as_text(&args[0]);
            match (ctx.env.get(&var), args.get(1)) {
                (Some(v), _) => Ok(Value::String(v.clone())),
                // OmegaConf: a default is returned as a string, except null.
                (None, Some(Value::Null)) => Ok(Value::Null),
                (None, Some(d)) => Ok(Value::String(as_text(d))),
                (None, None) => Err(err(format!(
                    "environment variable `{var}` is not set (`${{oc.env:{var},DEFAULT}}` gives a default)"
                ))),
            }
        }
        "oc.decode" => {
            arity(1, 1)?;
            match &args[0] {
                Value::String(s) => parse_value(s).map_err(|e| err(format!("oc.decode: {e}"))),
                other => Ok(other.clone()),
            }
        }
        "hydra" => {
            arity(1, 1)?;
            match as_text(&args[0]).as_str() {
                "runtime.output_dir" => ctx
                    .run_dir
                    .as_ref()
                    .map(|d| Value::String(d.display().to_string()))
                    .ok_or_else(|| {
                        err("`${hydra:runtime.output_dir}` is not known while the run directory itself is being resolved".into())
                    }),
                "run.dir" => ctx
                    .run_dir_text
                    .clone()
                    .map(Value::String)
                    .ok_or_else(|| err("`${hydra:run.dir}` is not known yet".into())),
                "runtime.cwd" => Ok(Value::String(ctx.cwd.display().to_string())),
                other => Err(err(format!(
                    "`${{hydra:{other}}}` is not supported (known: runtime.output_dir, run.dir, runtime.cwd)"
                ))),
            }
        }
        "now" => {
            arity(1, 1)?;
            format_utc(ctx.now, &as_text(&args[0]))
                .map(Value::String)
                .map_err(err)
        }
        "training_data_stats" => {
            arity(1, 1)?;
            Ok(stats::placeholder(&as_text(&args[0])))
        }
        other => Err(err(format!(
            "unknown resolver `{other}` (known: {})",
            KNOWN.join(", ")
        ))),
    }
}

/// A value as resolver text (strings without quotes).
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `time` in UTC with strftime's `%Y %m %d %H %M %S %%`. Hydra formats local time; UTC
/// is used because the standard library has no time-zone database.
pub(crate) fn format_utc(time: SystemTime, fmt: &str) -> Result<String, String> {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the clock is before 1970".to_string())?
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&format!("{y:04}")),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('H') => out.push_str(&format!("{:02}", rem / 3600)),
            Some('M') => out.push_str(&format!("{:02}", rem % 3600 / 60)),
            Some('S') => out.push_str(&format!("{:02}", rem % 60)),
            Some('%') => out.push('%'),
            other => {
                return Err(format!(
                    "`%{}` in `${{now:{fmt}}}` is not supported (known: %Y %m %d %H %M %S %%)",
                    other.map(String::from).unwrap_or_default()
                ));
            }
        }
    }
    Ok(out)
}

/// (year, month, day) of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_dates() {
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_723); // 2000-02-29 01:02:03
        assert_eq!(
            format_utc(t, "%Y-%m-%d/%H-%M-%S %%").unwrap(),
            "2000-02-29/01-02-03 %"
        );
        assert_eq!(format_utc(UNIX_EPOCH, "%Y-%m-%d").unwrap(), "1970-01-01");
        assert!(format_utc(t, "%j").is_err());
    }
}
