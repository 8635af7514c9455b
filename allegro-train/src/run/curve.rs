//! The learning curve drawn as a small SVG (no plotting dependency).

/// A learning curve (validation metrics per epoch, log scale) as a small SVG.
pub fn learning_curve_svg(series: &[(String, Vec<f64>)]) -> String {
    let (w, h, pad) = (640.0, 400.0, 50.0);
    let all: Vec<f64> = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .filter(|v| *v > 0.0)
        .collect();
    let (lo, hi) = all.iter().fold((f64::MAX, f64::MIN), |(a, b), v| {
        (a.min(v.log10()), b.max(v.log10()))
    });
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    let n = series.iter().map(|s| s.1.len()).max().unwrap_or(1).max(2);
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
    let mut out = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n"
    );
    out += &format!(
        "<line x1='{pad}' y1='{}' x2='{}' y2='{}' stroke='black'/>\n",
        h - pad,
        w - pad,
        h - pad
    );
    out += &format!(
        "<line x1='{pad}' y1='{pad}' x2='{pad}' y2='{}' stroke='black'/>\n",
        h - pad
    );
    out += &format!(
        "<text x='{}' y='{}'>epoch</text><text x='5' y='20'>validation metric (log10 {lo:.2} … {hi:.2})</text>\n",
        w / 2.0,
        h - 15.0
    );
    for (k, (name, values)) in series.iter().enumerate() {
        let pts: Vec<String> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > 0.0)
            .map(|(i, v)| {
                let x = pad + (w - 2.0 * pad) * i as f64 / (n - 1) as f64;
                let y = h - pad - (h - 2.0 * pad) * (v.log10() - lo) / (hi - lo);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let c = colors[k % colors.len()];
        out += &format!(
            "<polyline fill='none' stroke='{c}' stroke-width='2' points='{}'/>\n",
            pts.join(" ")
        );
        out += &format!(
            "<text x='{}' y='{}' fill='{c}'>{name}</text>\n",
            w - pad - 150.0,
            pad + 15.0 * k as f64
        );
    }
    out + "</svg>\n"
}
