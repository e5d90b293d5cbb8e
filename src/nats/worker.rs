//! `picket worker`: pulls jobs from the shared durable consumer, at most `slots` at a time, and
//! for each one (docs/scale-out.md, "failure semantics"):
//!
//! 1. scans it with the batch code under the per-document budget (on the blocking pool, with
//!    progress acks while it runs so a long document is not redelivered);
//! 2. publishes the result and waits for the broker's ack;
//! 3. acks the job (double ack: the ack itself is confirmed).
//!
//! A crash between 2 and 3 redelivers the job; its second result has the same id (dropped by
//! the broker) or replaces the first (one result per document subject). Transient errors
//! (source unreadable, broker hiccup) nak with a delay; permanent ones (undecodable job, over
//! the size limit, changed source, engine failure) and the last allowed delivery go to the
//! dead-letter stream with the reason, then the job is terminated. A job that kills workers is
//! never acked at all: after `max_deliver` tries the broker emits an advisory, and the sweeper
//! (one runs in every worker) copies the job to the dead-letter stream and deletes it from the
//! jobs stream, which would otherwise keep it (WorkQueue retention).

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{consumer, AckKind, Message};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::batch::remote::{ScanSettings, Scanner};
use crate::engine::Engine;

use super::envelope::{self, Body, Job};
use super::metrics::WorkerCounters;
use super::{chain, js, Queue, QueueError, SWEEPER};

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs scanned at once.
    pub slots: usize,
    /// Time one document may take (then it is dead-lettered as `scan_failed`).
    pub doc_budget: Option<Duration>,
    /// Delay before a job that failed transiently is offered again (times the delivery count).
    pub retry_delay: Duration,
}

/// Headers of a dead-letter record.
pub const REASON: &str = "Picket-Reason";
pub const CODE: &str = "Picket-Code";
pub const DELIVERIES: &str = "Picket-Deliveries";
pub const SRC_SEQ: &str = "Picket-Src-Seq";

struct Ctx {
    queue: Arc<Queue>,
    engine: &'static Engine,
    options: WorkerOptions,
    counters: Arc<WorkerCounters>,
    /// One scanner per distinct settings (normally one).
    scanners: Mutex<HashMap<String, Arc<Scanner<'static>>>>,
}

impl Ctx {
    fn scanner(&self, settings: &ScanSettings) -> Result<Arc<Scanner<'static>>, String> {
        let key = serde_json::to_string(settings).unwrap_or_default();
        let mut scanners = self.scanners.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = scanners.get(&key) {
            return Ok(s.clone());
        }
        let scanner = Arc::new(Scanner::new(settings, self.engine, self.options.doc_budget).map_err(|e| e.to_string())?);
        scanners.insert(key, scanner.clone());
        Ok(scanner)
    }
}

/// Run until `stop` turns true, then finish the jobs in flight (graceful drain) and return.
/// The engine lives as long as the worker process.
pub async fn run(
    queue: Arc<Queue>,
    engine: &'static Engine,
    options: WorkerOptions,
    counters: Arc<WorkerCounters>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), QueueError> {
    let consumer = queue.scanners().await?;
    let slots = options.slots.max(1);
    let ctx = Arc::new(Ctx { queue: queue.clone(), engine, options, counters, scanners: Mutex::new(HashMap::new()) });
    let sweeper = tokio::spawn(sweep(ctx.clone(), stop.clone()));
    let free = Arc::new(Semaphore::new(slots));
    let mut tasks = JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        if *stop.borrow() {
            break;
        }
        let first = tokio::select! {
            p = free.clone().acquire_owned() => p.map_err(|e| QueueError::JetStream(e.to_string()))?,
            _ = stop.changed() => break,
        };
        let mut permits = vec![first];
        while let Ok(p) = free.clone().try_acquire_owned() {
            permits.push(p);
        }
        let batch = consumer.fetch().max_messages(permits.len()).expires(Duration::from_millis(500)).messages().await;
        let mut batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %chain(&e), "fetching jobs failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        while let Some(message) = batch.next().await {
            match (message, permits.pop()) {
                (Ok(message), Some(permit)) => {
                    let ctx = ctx.clone();
                    tasks.spawn(async move {
                        ctx.counters.in_flight.fetch_add(1, Relaxed);
                        handle(&ctx, message).await;
                        ctx.counters.in_flight.fetch_sub(1, Relaxed);
                        drop(permit);
                    });
                }
                (Ok(message), None) => {
                    // More than asked for: hand it back at once.
                    let _ = message.ack_with(AckKind::Nak(None)).await;
                }
                (Err(e), _) => tracing::warn!(error = %chain(&*e), "a fetch ended early"),
            }
        }
    }
    tracing::info!(in_flight = tasks.len(), "stopping: finishing the jobs in flight");
    while tasks.join_next().await.is_some() {}
    sweeper.abort();
    Ok(())
}

/// What became of a job.
enum Verdict {
    Done,
    /// Try again later.
    Retry {
        code: &'static str,
        reason: String,
    },
    /// Never again: dead-letter it.
    Dead {
        code: &'static str,
        reason: String,
    },
}

async fn handle(ctx: &Ctx, message: Message) {
    let (delivered, seq) = message.info().map(|i| (i.delivered, i.stream_sequence)).unwrap_or((1, 0));
    let job = Job::decode(&message.payload);
    let verdict = match &job {
        Ok(job) => process(ctx, &message, job).await,
        Err(reason) => Verdict::Dead { code: "undecodable", reason: reason.clone() },
    };
    let job = job.ok();
    let verdict = match verdict {
        // The last allowed delivery never just vanishes.
        Verdict::Retry { code, reason } if delivered >= ctx.queue.settings.max_deliver => {
            Verdict::Dead { code, reason: format!("{reason} (last of {delivered} deliveries)") }
        }
        v => v,
    };
    match verdict {
        Verdict::Done => {
            if let Err(e) = message.double_ack().await {
                // The job comes back; its result is already there, so the retry is a duplicate.
                tracing::warn!(seq, error = %chain(&*e), "ack failed; the job will be redelivered");
            } else {
                ctx.counters.done.fetch_add(1, Relaxed);
            }
        }
        Verdict::Retry { code, reason } => {
            tracing::info!(seq, delivered, code, reason = %reason, "retrying later");
            ctx.counters.retried.fetch_add(1, Relaxed);
            let delay = ctx.options.retry_delay * u32::try_from(delivered).unwrap_or(1).max(1);
            let _ = message.ack_with(AckKind::Nak(Some(delay))).await;
        }
        Verdict::Dead { code, reason } => {
            let corpus = job.as_ref().map_or_else(|| corpus_of(&message.subject), |j| j.corpus.clone());
            let id = job.as_ref().map_or_else(|| format!("seq:{seq}"), |j| j.job_id.clone());
            match dead_letter(&ctx.queue, &corpus, &id, message.payload.clone(), code, &reason, delivered, seq).await {
                Ok(()) => {
                    ctx.counters.dead_lettered.fetch_add(1, Relaxed);
                    tracing::warn!(seq, code, reason = %reason, "dead-lettered");
                    let _ = message.ack_with(AckKind::Term).await;
                    // WorkQueue streams keep terminated messages on some servers: remove it.
                    let _ = ctx.queue.jobs.delete_message(seq).await;
                }
                Err(e) => {
                    tracing::warn!(seq, error = %e, "cannot dead-letter; handing the job back");
                    let _ = message.ack_with(AckKind::Nak(Some(ctx.options.retry_delay))).await;
                }
            }
        }
    }
}

/// Scan the job and publish its result.
async fn process(ctx: &Ctx, message: &Message, job: &Job) -> Verdict {
    let bytes = match job.body() {
        Ok(Body::Inline(bytes)) => bytes,
        Ok(Body::Reference) => {
            let doc = job.doc.clone();
            match tokio::task::spawn_blocking(move || envelope::read_reference(&doc)).await {
                Ok(Ok(bytes)) => bytes,
                Ok(Err(e)) => return Verdict::Retry { code: "unreadable", reason: format!("cannot read {}: {e}", job.doc.display) },
                Err(e) => return Verdict::Retry { code: "unreadable", reason: e.to_string() },
            }
        }
        Err(reason) => return Verdict::Dead { code: "undecodable", reason },
    };
    let scanner = match ctx.scanner(&job.settings) {
        Ok(s) => s,
        Err(reason) => return Verdict::Dead { code: "bad_settings", reason },
    };
    let doc = job.doc.clone();
    let mut scan = tokio::task::spawn_blocking(move || scanner.scan(&doc, bytes));
    // Keep the job while it is being scanned: a progress ack every half ack-wait.
    let every = (ctx.queue.settings.ack_wait / 2).max(Duration::from_millis(100));
    let scanned = loop {
        tokio::select! {
            r = &mut scan => break r,
            _ = tokio::time::sleep(every) => { let _ = message.ack_with(AckKind::Progress).await; }
        }
    };
    let line = match scanned {
        Ok(Ok(line)) => line,
        Ok(Err(failure)) => return Verdict::Dead { code: failure.code(), reason: failure.to_string() },
        Err(e) => return Verdict::Dead { code: "scan_failed", reason: format!("the scan task failed: {e}") },
    };
    let subject = ctx.queue.settings.result_subject(&job.corpus, &job.doc_id);
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", job.job_id.as_str());
    let published = match ctx.queue.js.publish_with_headers(subject, headers, Bytes::from(line)).await {
        Ok(ack) => ack.await.map(|_| ()).map_err(|e| chain(&e)),
        Err(e) => Err(chain(&e)),
    };
    match published {
        Ok(()) => Verdict::Done,
        Err(reason) => Verdict::Retry { code: "publish_failed", reason },
    }
}

/// The corpus token of a job subject (`<prefix>.job.<corpus>`).
fn corpus_of(subject: &str) -> String {
    subject.rsplit('.').next().unwrap_or("unknown").to_string()
}

/// Copy a job to the dead-letter stream with why, and wait for the broker's ack. The record's
/// id is derived from the job's, so a worker and a sweeper dead-lettering the same job make one.
#[allow(clippy::too_many_arguments)]
async fn dead_letter(
    queue: &Queue,
    corpus: &str,
    job_id: &str,
    payload: Bytes,
    code: &str,
    reason: &str,
    deliveries: i64,
    seq: u64,
) -> Result<(), QueueError> {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", format!("dlq:{job_id}:{seq}").as_str());
    headers.insert(CODE, code);
    // Header values are one line.
    headers.insert(REASON, reason.replace(['\r', '\n'], " ").as_str());
    headers.insert(DELIVERIES, deliveries.to_string().as_str());
    headers.insert(SRC_SEQ, seq.to_string().as_str());
    let ack = queue.js.publish_with_headers(queue.settings.dlq_subject(corpus), headers, payload).await.map_err(js)?;
    ack.await.map_err(js)?;
    Ok(())
}

/// The fields of a MAX_DELIVERIES advisory the sweeper needs.
#[derive(Deserialize)]
struct Exhausted {
    stream_seq: u64,
    deliveries: i64,
}

/// Move jobs that ran out of deliveries to the dead-letter stream and out of the jobs stream.
async fn sweep(ctx: Arc<Ctx>, stop: watch::Receiver<bool>) {
    let consumer = ctx
        .queue
        .adv
        .get_or_create_consumer(
            SWEEPER,
            consumer::pull::Config {
                durable_name: Some(SWEEPER.into()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                ..Default::default()
            },
        )
        .await;
    let consumer = match consumer {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %chain(&e), "the sweeper cannot start; exhausted jobs stay in the jobs stream");
            return;
        }
    };
    while !*stop.borrow() {
        let batch = consumer.fetch().max_messages(16).expires(Duration::from_secs(1)).messages().await;
        let Ok(mut batch) = batch else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        while let Some(Ok(advisory)) = batch.next().await {
            if let Ok(ex) = serde_json::from_slice::<Exhausted>(&advisory.payload) {
                match sweep_one(&ctx, &ex).await {
                    Ok(true) => {
                        ctx.counters.swept.fetch_add(1, Relaxed);
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(seq = ex.stream_seq, error = %e, "sweeping failed; will retry");
                        let _ = advisory.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
                        continue;
                    }
                }
            }
            let _ = advisory.ack().await;
        }
    }
}

/// True when the job was still there and has been moved.
async fn sweep_one(ctx: &Ctx, ex: &Exhausted) -> Result<bool, QueueError> {
    let Ok(original) = ctx.queue.jobs.get_raw_message(ex.stream_seq).await else {
        return Ok(false); // acked or removed meanwhile
    };
    let job = Job::decode(&original.payload).ok();
    let corpus = job.as_ref().map_or_else(|| corpus_of(&original.subject), |j| j.corpus.clone());
    let id = job.as_ref().map_or_else(|| format!("seq:{}", ex.stream_seq), |j| j.job_id.clone());
    let reason =
        format!("delivered {} times and never acked: a worker crashed, hung past ack_wait or was killed while scanning it", ex.deliveries);
    dead_letter(&ctx.queue, &corpus, &id, original.payload, "max_deliveries", &reason, ex.deliveries, ex.stream_seq).await?;
    ctx.queue.jobs.delete_message(ex.stream_seq).await.map_err(js)?;
    tracing::warn!(seq = ex.stream_seq, deliveries = ex.deliveries, "swept an exhausted job to the dead-letter stream");
    Ok(true)
}
