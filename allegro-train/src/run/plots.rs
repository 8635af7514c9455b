//! The run's plots, drawn as SVG with `plotters` (no fonts or system libraries needed):
//! the learning curve and parity plots of predictions against labels.

use plotters::coord::Shift;
use plotters::prelude::*;

/// Series colours, in order.
const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// Points drawn per parity panel at most (an SVG element each).
const MAX_POINTS: usize = 20_000;

/// A plotting failure as text (plotters' errors carry the backend's error type).
fn text<E: std::fmt::Debug>(e: E) -> String {
    format!("plot: {e:?}")
}

/// The learning curve: validation metrics (one series each, positive values) per epoch,
/// on a log axis with tick labels and a legend. Non-positive and non-finite values are
/// left out (a log axis cannot show them).
pub fn learning_curve_svg(series: &[(String, Vec<f64>)]) -> Result<String, String> {
    let shown = |v: &f64| v.is_finite() && *v > 0.0;
    let values: Vec<f64> = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .filter(shown)
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    // A decade around a single value; a little room above and below otherwise.
    let (lo, hi) = if values.is_empty() {
        (0.1, 1.0)
    } else if hi > lo {
        (lo / 1.2, hi * 1.2)
    } else {
        (lo / 10f64.sqrt(), lo * 10f64.sqrt())
    };
    let epochs = series.iter().map(|s| s.1.len()).max().unwrap_or(1).max(2);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 440)).into_drawing_area();
        root.fill(&WHITE).map_err(text)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("validation metrics", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..(epochs - 1) as f64, (lo..hi).log_scale())
            .map_err(text)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("metric (log scale)")
            .y_label_formatter(&|v| format!("{v:.3e}"))
            .draw()
            .map_err(text)?;
        for (k, (name, values)) in series.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let points = values
                .iter()
                .enumerate()
                .filter(|(_, v)| shown(v))
                .map(|(i, v)| (i as f64, *v));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(text)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(text)?;
        root.present().map_err(text)?;
    }
    Ok(svg)
}

/// One panel of a parity plot: `(label, prediction)` pairs of one quantity.
#[derive(Clone, Debug)]
pub struct ParityPanel {
    /// The quantity with its unit (`"force component (eV/Å)"`).
    pub quantity: String,
    /// `(label, prediction)` pairs.
    pub pairs: Vec<(f64, f64)>,
}

/// Parity plots side by side: each panel the predictions against the labels with the
/// line `y = x`, and the RMSE in its caption. Empty panels are left out; an error if
/// none has a pair.
pub fn parity_svg(panels: &[ParityPanel]) -> Result<String, String> {
    let panels: Vec<&ParityPanel> = panels.iter().filter(|p| !p.pairs.is_empty()).collect();
    if panels.is_empty() {
        return Err("plot: no labelled values to draw".into());
    }
    let mut svg = String::new();
    {
        let width = 440 * panels.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (width, 440)).into_drawing_area();
        root.fill(&WHITE).map_err(text)?;
        let areas = root.split_evenly((1, panels.len()));
        for (panel, area) in panels.iter().zip(&areas) {
            parity_panel(panel, area)?;
        }
        root.present().map_err(text)?;
    }
    Ok(svg)
}

fn parity_panel(
    panel: &ParityPanel,
    area: &DrawingArea<SVGBackend<'_>, Shift>,
) -> Result<(), String> {
    let finite = panel
        .pairs
        .iter()
        .filter(|(a, b)| a.is_finite() && b.is_finite());
    let (lo, hi) = finite.clone().fold((f64::MAX, f64::MIN), |(l, h), (a, b)| {
        (l.min(a.min(*b)), h.max(a.max(*b)))
    });
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
    let (lo, hi) = (lo - pad, hi + pad);
    let n = finite.clone().count().max(1) as f64;
    let rmse = (finite.clone().map(|(a, b)| (a - b).powi(2)).sum::<f64>() / n).sqrt();
    let mut chart = ChartBuilder::on(area)
        .caption(format!("RMSE {rmse:.4}"), ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(lo..hi, lo..hi)
        .map_err(text)?;
    chart
        .configure_mesh()
        .x_desc(format!("label: {}", panel.quantity))
        .y_desc("prediction")
        .draw()
        .map_err(text)?;
    chart
        .draw_series(LineSeries::new([(lo, lo), (hi, hi)], BLACK.mix(0.5)))
        .map_err(text)?;
    // At most about MAX_POINTS points drawn (every k-th), so the file stays small; the
    // RMSE above is of them all.
    let stride = (n as usize).div_ceil(MAX_POINTS).max(1);
    let dot = |&(a, b): &(f64, f64)| Circle::new((a, b), 2, COLORS[0].mix(0.6).filled());
    chart
        .draw_series(finite.step_by(stride).map(dot))
        .map_err(text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_curve_has_axes_ticks_and_legend() {
        let svg = learning_curve_svg(&[
            ("forces_rmse".into(), vec![1.0, 0.5, 0.25, 0.2]),
            (
                "per_atom_energy_rmse".into(),
                vec![0.1, f64::NAN, 0.02, 0.01],
            ),
        ])
        .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
        for label in [
            "epoch",
            "forces_rmse",
            "per_atom_energy_rmse",
            "validation metrics",
        ] {
            assert!(svg.contains(label), "no `{label}`");
        }
        // Tick labels: several numbers on each axis.
        assert!(svg.matches("<text").count() > 10);
        std::fs::write(std::env::temp_dir().join("allegro-curve-test.svg"), &svg).unwrap();
        for color in ["#1F77B4", "#D62728"] {
            // A series and its legend key.
            let lines = svg.matches(&format!("stroke=\"{color}\"")).count();
            assert!(lines >= 2, "{color}: {lines}");
        }
    }

    #[test]
    fn parity_plot_shows_the_rmse_of_each_panel() {
        let forces = ParityPanel {
            quantity: "force component (eV/Å)".into(),
            pairs: vec![(0.0, 0.1), (1.0, 0.9), (-1.0, -1.1)],
        };
        let empty = ParityPanel {
            quantity: "stress".into(),
            pairs: vec![],
        };
        let svg = parity_svg(&[forces, empty.clone()]).unwrap();
        assert!(svg.contains("RMSE 0.1000"), "the RMSE of the pairs");
        assert!(svg.contains("force component"));
        assert!(!svg.contains("stress"), "empty panels are left out");
        assert!(svg.matches("<circle").count() >= 3);
        assert!(parity_svg(&[empty]).is_err());
    }
}
