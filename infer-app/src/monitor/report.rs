//! `infer-app monitor report`: what the prediction log says about a window of traffic (volume,
//! errors, latency, flags) and whether its inputs and outputs drifted from the traffic before
//! it (PSI per feature, see [`super::drift`]), as text and as one self-contained HTML page with
//! inline SVG charts.

use std::fmt::Write as _;

use text_recognizer::image::profile::InputProfile;

use super::drift::{Bins, DRIFT_PSI, psi};
use super::store::{LoggedPrediction, Store};

/// One feature's distributions and drift.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Its bins.
    pub bins: Bins,
    /// Counts before the window.
    pub reference: Vec<u64>,
    /// Counts in the window.
    pub current: Vec<u64>,
    /// PSI (None without data on one side).
    pub psi: Option<f64>,
    /// Counts over the model's training inputs (input features, when the model has them).
    pub training: Option<Vec<u64>>,
    /// PSI of the window against the training inputs.
    pub psi_training: Option<f64>,
}

impl Feature {
    /// True when either PSI is past [`DRIFT_PSI`].
    pub fn drifted(&self) -> bool {
        [self.psi, self.psi_training]
            .into_iter()
            .flatten()
            .any(|p| p > DRIFT_PSI)
    }
}

/// The report.
#[derive(Debug, Clone)]
pub struct Report {
    /// The window's start.
    pub since: String,
    /// Requests in the window.
    pub requests: usize,
    /// Requests before it (the reference).
    pub reference_requests: usize,
    /// Requests answered with a 4xx or 5xx.
    pub errors: usize,
    /// Latency percentiles (p50, p95, p99) of successful requests, ms.
    pub latency: Option<(f64, f64, f64)>,
    /// Feedback in the window by flag.
    pub flags: Vec<(String, i64)>,
    /// Per-feature distributions.
    pub features: Vec<Feature>,
}

impl Report {
    /// Flags per successful request in the window.
    pub fn flag_rate(&self) -> f64 {
        let flags: i64 = self.flags.iter().map(|f| f.1).sum();
        flags as f64 / (self.requests - self.errors).max(1) as f64
    }

    /// `incorrect 3, other 1` (or `none`).
    pub fn flag_list(&self) -> String {
        if self.flags.is_empty() {
            return "none".into();
        }
        let parts: Vec<String> = self.flags.iter().map(|(f, n)| format!("{f} {n}")).collect();
        parts.join(", ")
    }

    /// The features that drifted.
    pub fn drifted(&self) -> Vec<&Feature> {
        self.features.iter().filter(|f| f.drifted()).collect()
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// What a feature reads from a row (None: not known for it).
type Extract = fn(&LoggedPrediction) -> Option<f64>;

fn features() -> Vec<(Bins, Extract)> {
    vec![
        (
            Bins {
                key: "mean_intensity",
                name: "input mean intensity",
                edges: (0..8).map(|i| f64::from(i) * 32.0).collect(),
            },
            |p| p.mean_intensity,
        ),
        (
            Bins {
                key: "dark_ink",
                name: "dark ink (1) or light ink (0)",
                edges: vec![0.0, 0.5],
            },
            |p| p.dark_ink.map(|d| if d { 1.0 } else { 0.0 }),
        ),
        (
            Bins {
                key: "height",
                name: "input height (px)",
                edges: vec![0.0, 24.0, 48.0, 96.0, 192.0, 384.0, 768.0, 1536.0],
            },
            |p| p.height.map(f64::from),
        ),
        (
            Bins {
                key: "confidence",
                name: "confidence",
                edges: (0..10).map(|i| f64::from(i) / 10.0).collect(),
            },
            |p| p.confidence,
        ),
        (
            Bins {
                key: "pred_chars",
                name: "characters read",
                edges: vec![0.0, 1.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0],
            },
            |p| (p.status < 400).then_some(p.pred_chars as f64),
        ),
    ]
}

/// Input features the training profile has.
const PROFILED: [&str; 3] = ["mean_intensity", "dark_ink", "height"];

/// A training input as a log row, for binning.
fn as_logged(s: &text_recognizer::image::profile::InputSummary) -> LoggedPrediction {
    LoggedPrediction {
        status: 200,
        latency_ms: 0.0,
        mean_intensity: Some(f64::from(s.mean_intensity)),
        dark_ink: Some(s.dark_ink),
        height: Some(s.height),
        pred_chars: 0,
        confidence: None,
    }
}

/// The report of the window from `since` (an ISO date or timestamp) on, against the log
/// before it (from `reference_from` when given) and, for the input features, against the
/// model's training inputs when `training` is given.
pub fn build(
    store: &Store,
    since: &str,
    reference_from: Option<&str>,
    training: Option<&InputProfile>,
) -> anyhow::Result<Report> {
    let current = store.predictions(Some(since), None)?;
    let reference = store.predictions(reference_from, Some(since))?;
    let errors = current.iter().filter(|p| p.status >= 400).count();
    let mut latencies: Vec<f64> = current
        .iter()
        .filter(|p| p.status < 400)
        .map(|p| p.latency_ms)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let latency = (!latencies.is_empty()).then(|| {
        (
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.95),
            percentile(&latencies, 0.99),
        )
    });
    let features = features()
        .into_iter()
        .map(|(bins, value)| {
            let r = bins.counts(reference.iter().filter_map(value));
            let c = bins.counts(current.iter().filter_map(value));
            let t = training
                .filter(|_| PROFILED.contains(&bins.key))
                .map(|p| bins.counts(p.samples.iter().map(as_logged).filter_map(|l| value(&l))));
            Feature {
                psi: psi(&r, &c),
                psi_training: t.as_ref().and_then(|t| psi(t, &c)),
                training: t,
                bins,
                reference: r,
                current: c,
            }
        })
        .collect();
    Ok(Report {
        since: since.to_string(),
        requests: current.len(),
        reference_requests: reference.len(),
        errors,
        latency,
        flags: store.feedback_counts(Some(since), None)?,
        features,
    })
}

/// The report as a few lines of text.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "since {}: {} requests ({} errors), {} before as the reference",
        r.since, r.requests, r.errors, r.reference_requests
    );
    if let Some((p50, p95, p99)) = r.latency {
        let _ = writeln!(
            out,
            "latency: p50 {p50:.0} ms, p95 {p95:.0} ms, p99 {p99:.0} ms"
        );
    }
    let _ = writeln!(
        out,
        "flags: {:.2} % of readings {:?}",
        100.0 * r.flag_rate(),
        r.flags
    );
    let show = |p: Option<f64>| p.map_or("no data".to_string(), |p| format!("{p:.3}"));
    for f in &r.features {
        let mut line = format!(
            "{}: PSI {} against earlier traffic",
            f.bins.name,
            show(f.psi)
        );
        if f.training.is_some() {
            line += &format!(", {} against the training inputs", show(f.psi_training));
        }
        if f.drifted() {
            line += ": DRIFT";
        }
        let _ = writeln!(out, "{line}");
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Reference and current shares per bin as side-by-side bars.
fn chart(f: &Feature) -> String {
    let (w, h, pad) = (460.0, 150.0, 24.0);
    let share = |counts: &[u64]| {
        let n = counts.iter().sum::<u64>().max(1) as f64;
        counts.iter().map(|&c| c as f64 / n).collect::<Vec<_>>()
    };
    let (r, c) = (share(&f.reference), share(&f.current));
    let t = f.training.as_deref().map(share);
    let top = r
        .iter()
        .chain(&c)
        .chain(t.iter().flatten())
        .copied()
        .fold(0.01, f64::max);
    let slot = (w - pad) / r.len() as f64;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{}" role="img" aria-label="{}">"##,
        h + 18.0,
        escape(f.bins.name)
    );
    for (i, (rv, cv)) in r.iter().zip(&c).enumerate() {
        let x = pad + i as f64 * slot;
        let tv = t.as_ref().map(|t| t[i]);
        let series = [
            (Some(*rv), "#9aa0a6"),
            (Some(*cv), "#1a56db"),
            (tv, "#0b8043"),
        ];
        for (j, (v, colour)) in series.into_iter().enumerate() {
            let Some(v) = v else { continue };
            let bh = v / top * (h - 10.0);
            let _ = write!(
                svg,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="{colour}"/>"##,
                x + j as f64 * slot * 0.3 + slot * 0.05,
                h - bh,
                slot * 0.28
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{}" font-size="10" fill="#444">{}</text>"##,
            x + 2.0,
            h + 14.0,
            f.bins.edges[i]
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One self-contained HTML page (no scripts, no external files).
pub fn html(r: &Report) -> String {
    let mut rows = String::new();
    let show = |p: Option<f64>| p.map_or("–".to_string(), |p| format!("{p:.3}"));
    for f in &r.features {
        let class = if f.drifted() { "drift" } else { "" };
        let _ = write!(
            rows,
            r#"<tr class="{class}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            escape(f.bins.name),
            show(f.psi),
            show(f.psi_training),
            if f.drifted() { "drift" } else { "stable" }
        );
    }
    let charts: String = r
        .features
        .iter()
        .map(|f| {
            format!(
                "<figure><figcaption>{}</figcaption>{}</figure>",
                escape(f.bins.name),
                chart(f)
            )
        })
        .collect();
    let latency = r
        .latency
        .map_or("no successful requests".into(), |(a, b, c)| {
            format!("p50 {a:.0} ms · p95 {b:.0} ms · p99 {c:.0} ms")
        });
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Monitoring report since {since}</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:1.5rem;color:#1d1d1f}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.25rem .6rem}}tr.drift{{background:#fde2e2;font-weight:600}}figure{{display:inline-block;margin:.5rem 1rem .5rem 0}}.key span{{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem}}</style></head><body>
<h1>Monitoring report</h1>
<p>Window: since {since} — {n} requests ({e} errors); reference: the {rn} requests before it.</p>
<p>Latency: {latency}. Flags: {flag_rate:.2} % of readings ({flags}).</p>
<h2>Drift (population stability index; above {threshold} is drift)</h2>
<table><tr><th>feature</th><th>PSI against earlier traffic</th><th>PSI against the training inputs</th><th>verdict</th></tr>{rows}</table>
<h2>Distributions</h2><p class="key"><span style="background:#9aa0a6"></span>earlier traffic<span style="background:#1a56db"></span>window<span style="background:#0b8043"></span>training inputs</p>
{charts}
</body></html>
"#,
        since = escape(&r.since),
        n = r.requests,
        e = r.errors,
        rn = r.reference_requests,
        flag_rate = 100.0 * r.flag_rate(),
        flags = escape(&r.flag_list()),
        threshold = DRIFT_PSI,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::store::{Feedback, Flag, InputStats, Prediction};

    fn row(created: &str, mean: f64, dark: bool, confidence: f32) -> Prediction {
        Prediction {
            created: created.into(),
            request_id: "r".into(),
            model: "m".into(),
            model_version: None,
            route: "/predict".into(),
            status: 200,
            latency_ms: 80.0,
            image_sha256: None,
            input: Some(InputStats {
                width: 600,
                height: 64,
                mean_intensity: mean,
                dark_ink: dark,
            }),
            lines: 1,
            pred_chars: 25,
            confidence: Some(confidence),
            error: None,
        }
    }

    /// A month of light scans with dark ink, then a day of `today`'s rows.
    fn log(today: impl Fn(usize) -> Prediction) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db.sqlite3")).expect("opens");
        let before: Vec<Prediction> = (0..400)
            .map(|i| {
                row(
                    "2026-11-02T10:00:00Z",
                    200.0 + (i % 30) as f64,
                    true,
                    0.8 + (i % 15) as f32 / 100.0,
                )
            })
            .collect();
        let now: Vec<Prediction> = (0..200).map(today).collect();
        store.insert_predictions(&before, &[]).expect("inserts");
        store.insert_predictions(&now, &[]).expect("inserts");
        (dir, store)
    }

    #[test]
    fn the_same_traffic_is_stable() {
        let (_dir, store) = log(|i| {
            row(
                "2026-11-30T09:00:00Z",
                201.0 + (i % 29) as f64,
                true,
                0.81 + (i % 14) as f32 / 100.0,
            )
        });
        let flag = Feedback {
            request_id: None,
            flag: Flag::Incorrect,
            predicted: None,
            correction: None,
            model: None,
            image: None,
        };
        store.record_feedback(&flag).expect("flag");
        let r = build(&store, "2026-11-30", None, None).expect("report");
        assert_eq!((r.requests, r.reference_requests, r.errors), (200, 400, 0));
        assert!(r.drifted().is_empty(), "{}", text(&r));
        assert!(r.flag_rate() > 0.0);
        assert!(text(&r).contains("p50 80 ms"));
    }

    #[test]
    fn photos_of_light_ink_on_dark_paper_are_flagged_as_drift() {
        // Planted: today's users send dark photos with light ink, read with less confidence.
        let (_dir, store) = log(|i| {
            row(
                "2026-11-30T09:00:00Z",
                70.0 + (i % 40) as f64,
                false,
                0.4 + (i % 20) as f32 / 100.0,
            )
        });
        let r = build(&store, "2026-11-30", None, None).expect("report");
        let drifted: Vec<&str> = r.drifted().iter().map(|f| f.bins.name).collect();
        for name in [
            "input mean intensity",
            "dark ink (1) or light ink (0)",
            "confidence",
        ] {
            assert!(drifted.contains(&name), "{name} not flagged: {}", text(&r));
        }
        assert!(!drifted.contains(&"input height (px)"));
        let page = html(&r);
        assert!(page.contains(r#"<tr class="drift"><td>input mean intensity"#));
        assert_eq!(page.matches("<svg").count(), r.features.len());
        assert!(
            !page.contains("<script") && !page.contains("src="),
            "self-contained"
        );
    }

    #[test]
    fn inputs_unlike_the_training_data_drift_even_when_traffic_was_always_so() {
        use text_recognizer::image::profile::InputSummary;
        // Traffic has always been dark photos; the model was trained on light scans.
        let (_dir, store) =
            log(|i| row("2026-11-30T09:00:00Z", 70.0 + (i % 40) as f64, false, 0.5));
        store
            .insert_predictions(
                &(0..400)
                    .map(|i| row("2026-11-03T09:00:00Z", 72.0 + (i % 38) as f64, false, 0.5))
                    .collect::<Vec<_>>(),
                &[],
            )
            .expect("inserts");
        let light = InputSummary {
            width: 600,
            height: 64,
            mean_intensity: 215.0,
            dark_ink: true,
        };
        let profile = InputProfile {
            samples: vec![light; 300],
        };
        let r = build(&store, "2026-11-30", Some("2026-11-03"), Some(&profile)).expect("report");
        let intensity = &r.features[0];
        assert_eq!(intensity.bins.key, "mean_intensity");
        assert!(intensity.psi.is_some_and(|p| p < 0.1), "{}", text(&r));
        assert!(
            intensity.psi_training.is_some_and(|p| p > DRIFT_PSI),
            "{}",
            text(&r)
        );
        assert!(intensity.drifted());
        let confidence = r
            .features
            .iter()
            .find(|f| f.bins.key == "confidence")
            .expect("feature");
        assert!(
            confidence.training.is_none(),
            "outputs have no training profile"
        );
        assert!(html(&r).contains("against the training inputs"));
    }
}
