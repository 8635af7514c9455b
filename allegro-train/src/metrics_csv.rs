//! The epoch history as CSV (`metrics_epoch.csv` of a run directory).

use crate::checkpoint::EpochRecord;

/// The history as CSV: `epoch,lr,seconds,train_<metric>…,val_<metric>…` (columns from
/// the first record; values in full precision).
pub fn metrics_csv(history: &[EpochRecord]) -> String {
    let Some(first) = history.first() else {
        return String::new();
    };
    let mut out = String::from("epoch,lr,seconds");
    for n in first.train.names() {
        out.push_str(&format!(",train_{n}"));
    }
    for n in first.val.names() {
        out.push_str(&format!(",val_{n}"));
    }
    out.push('\n');
    for r in history {
        out.push_str(&format!("{},{},{}", r.epoch, r.lr, r.seconds));
        for n in first.train.names() {
            out.push_str(&format!(",{}", r.train.get(n).unwrap_or(f64::NAN)));
        }
        for n in first.val.names() {
            out.push_str(&format!(",{}", r.val.get(n).unwrap_or(f64::NAN)));
        }
        out.push('\n');
    }
    out
}
