//! Prometheus metrics of the queue, in the text exposition format, as the daemon's /metrics
//! renders its own (by hand, closed label sets). The queue gauges come from the broker (the
//! shared consumer's state), so any worker's /metrics shows the whole queue; the counters are
//! this worker's.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::Depth;

/// What one worker has done.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    /// Jobs whose result was published and acked.
    pub done: AtomicU64,
    /// Jobs this worker sent to the dead-letter stream (permanent errors, last deliveries).
    pub dead_lettered: AtomicU64,
    /// Jobs the sweeper moved to the dead-letter stream after max deliveries.
    pub swept: AtomicU64,
    /// Jobs handed back for a later retry (transient errors).
    pub retried: AtomicU64,
    /// Jobs being scanned by this worker now.
    pub in_flight: AtomicU64,
}

/// The exposition: queue gauges (when the broker answered) and this worker's counters.
pub fn render(depth: Option<Depth>, c: &WorkerCounters) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    };
    if let Some(d) = depth {
        gauge("picket_queue_pending", "Jobs no worker has taken yet.", "gauge", d.pending);
        gauge("picket_queue_in_flight", "Jobs taken by a worker and not yet acked (all workers).", "gauge", d.in_flight);
        gauge("picket_queue_redelivered", "Jobs in flight that were delivered more than once.", "gauge", d.redelivered);
        gauge("picket_queue_dead_lettered", "Messages in the dead-letter stream.", "gauge", d.dead_lettered);
        gauge("picket_queue_jobs", "Messages in the jobs stream.", "gauge", d.jobs);
    }
    gauge("picket_queue_up", "1 when the broker answered this scrape.", "gauge", u64::from(depth.is_some()));
    gauge("picket_worker_jobs_done_total", "Jobs this worker scanned, published and acked.", "counter", c.done.load(Relaxed));
    gauge("picket_worker_dead_lettered_total", "Jobs this worker dead-lettered.", "counter", c.dead_lettered.load(Relaxed));
    gauge("picket_worker_swept_total", "Exhausted jobs this worker's sweeper dead-lettered.", "counter", c.swept.load(Relaxed));
    gauge("picket_worker_retried_total", "Jobs this worker handed back for a retry.", "counter", c.retried.load(Relaxed));
    gauge("picket_worker_in_flight", "Jobs this worker is scanning now.", "gauge", c.in_flight.load(Relaxed));
    out
}
