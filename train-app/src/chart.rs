//! Training curves side by side: loss per step (log scale) and validation CER per epoch.

use std::path::Path;

use plotters::prelude::*;

/// One run's curves.
pub struct Series {
    /// Legend label.
    pub name: String,
    /// (step, training loss).
    pub loss: Vec<(f64, f64)>,
    /// (epoch, validation CER %).
    pub cer: Vec<(f64, f64)>,
}

const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn span(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    if lo.is_finite() && hi.is_finite() && hi > lo {
        (lo, hi)
    } else if lo.is_finite() {
        (lo - 1.0, lo + 1.0)
    } else {
        (0.0, 1.0)
    }
}

/// Writes the two panels to `path` (SVG).
pub fn draw(series: &[Series], path: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        path.extension().is_some_and(|e| e == "svg"),
        "{}: charts are written as SVG (name it .svg)",
        path.display()
    );
    let root = SVGBackend::new(path, (1200, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);

    let steps = span(series.iter().flat_map(|s| s.loss.iter().map(|p| p.0)));
    let (lo, hi) = span(
        series
            .iter()
            .flat_map(|s| s.loss.iter().map(|p| p.1))
            .filter(|v| *v > 0.0),
    );
    let mut loss = ChartBuilder::on(&left)
        .caption("training loss per step", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(steps.0..steps.1, (lo.max(1e-4)..hi).log_scale())?;
    loss.configure_mesh()
        .x_desc("step")
        .y_desc("loss")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        loss.draw_series(LineSeries::new(
            s.loss.iter().copied().filter(|p| p.1 > 0.0),
            c.stroke_width(2),
        ))?
        .label(s.name.clone())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
    }
    loss.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    let epochs = span(series.iter().flat_map(|s| s.cer.iter().map(|p| p.0)));
    let (_, top) = span(series.iter().flat_map(|s| s.cer.iter().map(|p| p.1)));
    let mut cer = ChartBuilder::on(&right)
        .caption("validation CER per epoch", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(epochs.0..epochs.1, 0.0..top.max(1.0) * 1.05)?;
    cer.configure_mesh()
        .x_desc("epoch")
        .y_desc("CER %")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        cer.draw_series(LineSeries::new(s.cer.iter().copied(), c.stroke_width(2)))?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
        cer.draw_series(s.cer.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
    }
    cer.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
