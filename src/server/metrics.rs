//! Prometheus metrics, kept by hand: a few atomic counters and one histogram, rendered as the
//! text exposition format. Label sets are closed (directions, decisions, categories, error codes,
//! reload results), so cardinality is bounded and no registry crate is needed.
//!
//! Counting happens in two places only: [`Metrics::record_report`] once per scan, and the
//! observing middleware once per request (in-flight gauge, rejections by reason, duration by
//! route and status). Process metrics are read from `/proc` at scrape time ([`super::process`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use crate::policy::{Category, Decision, Direction};
use crate::report::Report;

/// Upper bounds (seconds) of the scan-duration histogram buckets.
const BUCKETS: [f64; 14] = [0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];
const DECISIONS: [Decision; 3] = [Decision::Allow, Decision::Mask, Decision::Block];

/// The daemon's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// [direction][decision]
    scans: [[AtomicU64; 3]; 3],
    findings: [AtomicU64; 5],
    /// Shadow-mode scans that would have blocked, per direction.
    would_block: [AtomicU64; 3],
    /// Cumulative counts are computed at render time; each slot counts observations that fell
    /// into that bucket only (the last slot is +Inf).
    duration_buckets: [AtomicU64; BUCKETS.len() + 1],
    duration_sum_us: AtomicU64,
    duration_count: AtomicU64,
    in_flight: AtomicI64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    /// Request durations by (route, status). Routes are the fixed [`super::ROUTES`] paths (or
    /// `unmatched`) and statuses the few the server answers, so the map stays small.
    http: Mutex<BTreeMap<(&'static str, u16), Histogram>>,
}

/// One histogram over [`BUCKETS`]: per-bucket counts (the last is +Inf), sum and count.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        self.buckets[BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len())] += 1;
        self.sum += secs;
        self.count += 1;
    }
}

impl Metrics {
    /// Count one finished scan: decision, findings per category, engine time.
    pub fn record_report(&self, report: &Report) {
        let d = DECISIONS.iter().position(|d| *d == report.decision).unwrap_or(0);
        self.scans[direction_index(report.direction)][d].fetch_add(1, Relaxed);
        if report.would_block {
            self.would_block[direction_index(report.direction)].fetch_add(1, Relaxed);
        }
        for f in &report.findings {
            self.findings[category_index(f.category)].fetch_add(1, Relaxed);
        }
        let secs = report.took_us as f64 / 1e6;
        let bucket = BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len());
        self.duration_buckets[bucket].fetch_add(1, Relaxed);
        self.duration_sum_us.fetch_add(report.took_us, Relaxed);
        self.duration_count.fetch_add(1, Relaxed);
    }

    /// A request started; the returned guard ends it when dropped (also on cancellation).
    pub fn request_started(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Relaxed);
        InFlight(self)
    }

    /// Requests being served now.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Relaxed)
    }

    /// Count a rejected request by its error code.
    pub fn record_rejection(&self, code: &'static str) {
        *self.rejected.lock().unwrap_or_else(|p| p.into_inner()).entry(code).or_insert(0) += 1;
    }

    /// Time one HTTP request; `route` is its matched route (`unmatched` for none).
    pub fn record_http(&self, route: &'static str, status: u16, elapsed: std::time::Duration) {
        self.http.lock().unwrap_or_else(|p| p.into_inner()).entry((route, status)).or_default().observe(elapsed.as_secs_f64());
    }

    /// Count a pack reload.
    pub fn record_reload(&self, ok: bool) {
        let counter = if ok { &self.reloads_ok } else { &self.reloads_failed };
        counter.fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        header(&mut out, "picket_scans_total", "counter", "Scans by direction and decision.");
        for dir in Direction::ALL {
            for (i, dec) in DECISIONS.iter().enumerate() {
                let n = self.scans[direction_index(dir)][i].load(Relaxed);
                let _ = writeln!(out, "picket_scans_total{{direction=\"{dir}\",decision=\"{}\"}} {n}", decision_str(*dec));
            }
        }
        header(&mut out, "picket_would_block_total", "counter", "Shadow-mode scans whose policy would have blocked, by direction.");
        for dir in Direction::ALL {
            let _ =
                writeln!(out, "picket_would_block_total{{direction=\"{dir}\"}} {}", self.would_block[direction_index(dir)].load(Relaxed));
        }
        header(&mut out, "picket_findings_total", "counter", "Findings reported, by category.");
        for cat in Category::ALL {
            let _ = writeln!(out, "picket_findings_total{{category=\"{cat}\"}} {}", self.findings[category_index(cat)].load(Relaxed));
        }
        header(&mut out, "picket_scan_duration_seconds", "histogram", "Engine time per scan.");
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.duration_buckets[i].load(Relaxed);
            let _ = writeln!(out, "picket_scan_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.duration_buckets[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(out, "picket_scan_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(out, "picket_scan_duration_seconds_sum {}", self.duration_sum_us.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "picket_scan_duration_seconds_count {}", self.duration_count.load(Relaxed));
        header(&mut out, "picket_requests_in_flight", "gauge", "HTTP requests being served.");
        let _ = writeln!(out, "picket_requests_in_flight {}", self.in_flight());
        header(&mut out, "picket_rejected_total", "counter", "Requests answered with an error, by error code.");
        for (code, n) in self.rejected.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "picket_rejected_total{{reason=\"{code}\"}} {n}");
        }
        header(&mut out, "picket_reloads_total", "counter", "Pack reloads by result.");
        let _ = writeln!(out, "picket_reloads_total{{result=\"success\"}} {}", self.reloads_ok.load(Relaxed));
        let _ = writeln!(out, "picket_reloads_total{{result=\"failure\"}} {}", self.reloads_failed.load(Relaxed));
        header(
            &mut out,
            "picket_http_request_duration_seconds",
            "histogram",
            "HTTP request time, from head read to response, by route and status.",
        );
        for ((route, status), h) in self.http.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let labels = format!("route=\"{route}\",status=\"{status}\"");
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i];
                let _ = writeln!(out, "picket_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            cumulative += h.buckets[BUCKETS.len()];
            let _ = writeln!(out, "picket_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
            let _ = writeln!(out, "picket_http_request_duration_seconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "picket_http_request_duration_seconds_count{{{labels}}} {}", h.count);
        }
        header(&mut out, "picket_build_info", "gauge", "Always 1; the labels say which build is running.");
        let _ = writeln!(
            out,
            "picket_build_info{{version=\"{}\",profile=\"{}\",target=\"{}-{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            if cfg!(debug_assertions) { "debug" } else { "release" },
            std::env::consts::ARCH,
            std::env::consts::OS
        );
        super::process::render(&mut out);
        out
    }
}

/// Decrements the in-flight gauge when dropped.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn direction_index(d: Direction) -> usize {
    Direction::ALL.iter().position(|x| *x == d).unwrap_or(0)
}

fn category_index(c: Category) -> usize {
    Category::ALL.iter().position(|x| *x == c).unwrap_or(0)
}

fn decision_str(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "allow",
        Decision::Mask => "mask",
        Decision::Block => "block",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_all_families() {
        let m = Metrics::default();
        m.record_rejection("overloaded");
        m.record_reload(true);
        m.record_http("/v1/scan", 200, std::time::Duration::from_millis(3));
        m.record_http("unmatched", 404, std::time::Duration::from_millis(1));
        {
            let _g = m.request_started();
            assert_eq!(m.in_flight(), 1);
        }
        let text = m.render();
        for family in [
            "picket_scans_total{direction=\"input\",decision=\"allow\"} 0",
            "picket_findings_total{category=\"pii\"} 0",
            "picket_scan_duration_seconds_bucket{le=\"+Inf\"} 0",
            "picket_requests_in_flight 0",
            "picket_rejected_total{reason=\"overloaded\"} 1",
            "picket_reloads_total{result=\"success\"} 1",
            "picket_http_request_duration_seconds_bucket{route=\"/v1/scan\",status=\"200\",le=\"0.0025\"} 0",
            "picket_http_request_duration_seconds_bucket{route=\"/v1/scan\",status=\"200\",le=\"0.005\"} 1",
            "picket_http_request_duration_seconds_count{route=\"unmatched\",status=\"404\"} 1",
            "picket_build_info{version=\"",
        ] {
            assert!(text.contains(family), "{family} missing from\n{text}");
        }
    }
}
