//! A bounded loopback load test of `infer-app serve`: N clients POST the same image in a loop
//! for a fixed time (and at most a fixed count), then it prints one JSON line with
//! requests/s, latency percentiles, errors and the server's memory at start and end.
//!
//! `benches/serve-load.sh` runs it against the server with and without micro-batching.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine as _;
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// The endpoint (loopback only).
    #[arg(long)]
    url: String,
    /// Image file sent in every request.
    #[arg(long)]
    image: std::path::PathBuf,
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Requests at most, whatever the time.
    #[arg(long, default_value_t = 100_000)]
    max_requests: usize,
    /// The server's process id, for its memory (/proc/PID/status).
    #[arg(long)]
    pid: Option<u32>,
    /// A page fetched every 250 ms during the run (e.g. the server's `/`): its worst latency
    /// says whether the server stays responsive under load.
    #[arg(long)]
    probe_url: Option<String>,
    /// Name of this run in the output.
    #[arg(long, default_value = "run")]
    label: String,
}

/// `VmRSS` and `VmHWM` (peak) of a process, in MiB.
fn memory(pid: Option<u32>) -> (f64, f64) {
    let Some(pid) = pid else { return (0.0, 0.0) };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let host = reqwest::Url::parse(&args.url)?
        .host_str()
        .unwrap_or("")
        .to_string();
    anyhow::ensure!(
        host == "localhost" || host.starts_with("127.") || host == "[::1]",
        "load tests target loopback only, not {host}"
    );
    let bytes = std::fs::read(&args.image).with_context(|| format!("{}", args.image.display()))?;
    let body = Arc::new(serde_json::json!({
        "image": format!("data:image/jpeg;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)),
    }));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let (rss_start, _) = memory(args.pid);
    let sent = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (client, body, sent, url) =
            (client.clone(), body.clone(), sent.clone(), args.url.clone());
        let max = args.max_requests;
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), Vec::new());
            while Instant::now() < deadline && sent.fetch_add(1, Ordering::Relaxed) < max {
                let t = Instant::now();
                match client.post(&url).json(&*body).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    Ok(r) => errors.push(r.status().to_string()),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            (latencies, errors)
        }));
    }
    let probe = args.probe_url.clone().map(|url| {
        let client = client.clone();
        tokio::spawn(async move {
            let mut worst: f64 = 0.0;
            let mut failures = 0usize;
            while Instant::now() < deadline {
                let t = Instant::now();
                match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        worst = worst.max(t.elapsed().as_secs_f64() * 1e3);
                    }
                    _ => failures += 1,
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            (worst, failures)
        })
    });
    // The server's memory every second: after the first batches have sized the allocator's
    // pools it should stay flat (a leak grows with requests).
    let pid = args.pid;
    let sampler = tokio::spawn(async move {
        let mut samples = Vec::new();
        while Instant::now() < deadline {
            samples.push((started.elapsed().as_secs_f64(), memory(pid).0));
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        samples
    });
    let (mut latencies, mut errors) = (Vec::new(), Vec::new());
    for t in tasks {
        let (l, e) = t.await?;
        latencies.extend(l);
        errors.extend(e);
    }
    let wall = started.elapsed().as_secs_f64();
    let (probe_worst_ms, probe_failures) = match probe {
        Some(p) => p.await?,
        None => (f64::NAN, 0),
    };
    let (rss_end, rss_peak) = memory(args.pid);
    let samples = sampler.await?;
    // RSS once a sixth of the run is over, against the end.
    let rss_settled = samples
        .iter()
        .find(|(t, _)| *t >= wall / 6.0)
        .map_or(f64::NAN, |s| s.1);
    latencies.sort_by(f64::total_cmp);
    let error_count = errors.len();
    errors.sort();
    errors.dedup();
    let out = serde_json::json!({
        "label": args.label,
        "clients": args.clients,
        "seconds": wall,
        "ok": latencies.len(),
        "errors": error_count,
        "error_kinds": errors,
        "requests_per_s": latencies.len() as f64 / wall,
        "p50_ms": percentile(&latencies, 0.50),
        "p90_ms": percentile(&latencies, 0.90),
        "p99_ms": percentile(&latencies, 0.99),
        "max_ms": latencies.last().copied().unwrap_or(f64::NAN),
        "rss_start_mib": rss_start,
        "rss_settled_mib": rss_settled,
        "rss_end_mib": rss_end,
        "rss_peak_mib": rss_peak,
        "probe_worst_ms": probe_worst_ms,
        "probe_failures": probe_failures,
    });
    println!("{out}");
    Ok(())
}
