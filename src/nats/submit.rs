//! `picket scan PATH... --submit`: the producer. The batch walk runs on a plain thread and hands
//! documents over a bounded channel to the publisher, which keeps a window of publishes in
//! flight. When the jobs stream is full (discard New: the broker refuses the message), the
//! publisher waits and publishes the same message again, with the same id; nothing is dropped,
//! and the walk waits behind the full channel.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use async_nats::jetstream::context::PublishAckFuture;
use async_nats::HeaderMap;
use bytes::Bytes;
use serde::Serialize;

use crate::batch::remote::{self, ScanSettings, Walked};
use crate::batch::BatchOptions;
use crate::engine::Engine;

use super::envelope::Job;
use super::{chain, doc_id, js, Queue, QueueError};

/// Publishes awaited at most at once.
const WINDOW: usize = 256;
/// Documents between the walk and the publisher.
const CHANNEL: usize = 1024;
/// Longest wait between two tries against a full stream.
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// What a submission did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SubmitSummary {
    pub corpus: String,
    /// Jobs the broker stored.
    pub submitted: u64,
    /// Jobs the broker already had (same id within the duplicate window).
    pub duplicates: u64,
    /// Documents that could not be read or were over the limit: their result was published
    /// directly, as a skip line.
    pub skipped: u64,
    /// Documents sent by reference (over the inline limit).
    pub by_reference: u64,
    pub bytes: u64,
    /// Times the producer waited on a full jobs stream.
    pub waits: u64,
    pub seconds: f64,
}

/// A message on its way.
struct Pending {
    subject: String,
    id: String,
    payload: Bytes,
    skipped: bool,
    ack: PublishAckFuture,
}

/// Walk `options.paths` and publish one job per document into `corpus`. The walk runs on a
/// thread of its own; the publishing on `runtime` (blocking the calling thread).
pub fn submit(
    runtime: &tokio::runtime::Runtime,
    queue: &Queue,
    engine: &Engine,
    options: &BatchOptions,
    corpus: &str,
) -> Result<SubmitSummary, QueueError> {
    super::check_corpus(corpus)?;
    let started = Instant::now();
    let settings = ScanSettings::of(options);
    let inline_max = queue.settings.inline_max;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Walked>(CHANNEL);
    let mut summary = SubmitSummary { corpus: corpus.to_string(), ..SubmitSummary::default() };
    let mut window: VecDeque<Pending> = VecDeque::new();
    let packs = engine.packs().fingerprint.clone();
    let walked = std::thread::scope(|scope| {
        let walker = scope.spawn(move || remote::walk_documents(options, engine, &mut |w| tx.blocking_send(w).is_ok()));
        let published = runtime.block_on(async {
            while let Some(walked) = rx.recv().await {
                let (subject, id, payload, skipped) = match walked {
                    Walked::Doc(doc, bytes) => {
                        summary.bytes += bytes.len() as u64;
                        summary.by_reference += u64::from(bytes.len() > inline_max);
                        let job = Job::new(corpus, doc, bytes, settings.clone(), &packs, inline_max);
                        let payload = serde_json::to_vec(&job).map_err(|e| QueueError::JetStream(e.to_string()))?;
                        (queue.settings.job_subject(corpus), job.job_id, payload, false)
                    }
                    Walked::Skipped { key, line } => {
                        let id = doc_id(&key);
                        let msg_id = format!("{corpus}:{id}:skipped:{packs}");
                        (queue.settings.result_subject(corpus, &id), msg_id, line.into_bytes(), true)
                    }
                };
                let payload = Bytes::from(payload);
                let ack = publish(queue, &subject, &id, payload.clone()).await?;
                window.push_back(Pending { subject, id, payload, skipped, ack });
                if window.len() >= WINDOW {
                    if let Some(p) = window.pop_front() {
                        settle(queue, p, &mut summary).await?;
                    }
                }
            }
            while let Some(p) = window.pop_front() {
                settle(queue, p, &mut summary).await?;
            }
            Ok::<(), QueueError>(())
        });
        // Whatever happened, let the walk finish (a closed channel stops it).
        drop(rx);
        let walked = walker.join().map_err(|_| QueueError::JetStream("the walk panicked".into()))?;
        published?;
        walked.map_err(QueueError::from)
    });
    walked?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

async fn publish(queue: &Queue, subject: &str, id: &str, payload: Bytes) -> Result<PublishAckFuture, QueueError> {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", id);
    queue.js.publish_with_headers(subject.to_string(), headers, payload).await.map_err(js)
}

/// Wait for a publish's ack; when the stream was full, wait and publish it again until it is
/// taken.
async fn settle(queue: &Queue, mut p: Pending, summary: &mut SubmitSummary) -> Result<(), QueueError> {
    let mut backoff = Duration::from_millis(10);
    loop {
        match p.ack.await {
            Ok(ack) => {
                match (p.skipped, ack.duplicate) {
                    (true, _) => summary.skipped += 1,
                    (false, true) => summary.duplicates += 1,
                    (false, false) => summary.submitted += 1,
                }
                return Ok(());
            }
            Err(e) => {
                let message = chain(&e);
                if !stream_full(&message) {
                    return Err(QueueError::JetStream(format!("publishing {}: {message}", p.subject)));
                }
                summary.waits += 1;
                tracing::debug!(backoff_ms = backoff.as_millis() as u64, "jobs stream full; waiting");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                p.ack = publish(queue, &p.subject, &p.id, p.payload.clone()).await?;
            }
        }
    }
}

/// The broker's refusal of a message because the stream is at `max_msgs` / `max_bytes`
/// (JetStream error codes 10077 and 10047 / "maximum ... exceeded").
fn stream_full(message: &str) -> bool {
    ["10077", "10047", "10078", "maximum messages exceeded", "maximum bytes exceeded", "resource limits exceeded"]
        .iter()
        .any(|s| message.contains(s))
}
