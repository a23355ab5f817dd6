//! Progress of a batch run: an `indicatif` bar on a terminal, plain lines in a log.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    every: Duration,
    start: Instant,
    last: Instant,
    total: usize,
    done: usize,
    failed: usize,
}

impl Progress {
    /// A bar when stderr is a terminal and no `log_every` is asked for; log lines otherwise.
    pub fn new(total: usize, log_every: Option<u64>) -> Self {
        let bar = (log_every.is_none() && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} images  {msg}  ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            every: Duration::from_secs(log_every.unwrap_or(10).max(1)),
            start: now,
            last: now,
            total,
            done: 0,
            failed: 0,
        }
    }

    /// `n` more files finished, `failed` of them failed.
    pub fn advance(&mut self, n: usize, failed: usize) {
        self.done += n;
        self.failed += failed;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
            // indicatif's {per_sec} prints four decimals; one is enough.
            let rate = self.done as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
            let failed = if self.failed > 0 {
                format!(", {} failed", self.failed)
            } else {
                String::new()
            };
            bar.set_message(format!("{rate:.1} images/s{failed}"));
        } else if self.last.elapsed() >= self.every {
            self.last = Instant::now();
            eprintln!("{}", self.line());
        }
    }

    fn line(&self) -> String {
        let secs = self.start.elapsed().as_secs_f64();
        let rate = self.done as f64 / secs.max(1e-9);
        let eta = (self.total - self.done.min(self.total)) as f64 / rate.max(1e-9);
        format!(
            "ocr: {}/{} images, {rate:.2} images/s, {} failed, ETA {eta:.0} s",
            self.done, self.total, self.failed
        )
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
