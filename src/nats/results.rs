//! Reading back: `picket results` (one report line per document, the batch report's format)
//! and `picket dlq list|replay`.
//!
//! The results stream keeps one message per document subject, so reading the last message of
//! every subject of a corpus yields exactly one result per document however many times its
//! job was delivered; the reader also keys by subject, so a result that lands twice during the
//! read is still counted once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_nats::jetstream::{consumer, stream};
use async_nats::HeaderMap;
use futures_util::StreamExt;
use serde::Serialize;

use super::envelope::Job;
use super::worker::{CODE, DELIVERIES, REASON, SRC_SEQ};
use super::{js, Queue, QueueError};

/// A message as read back.
struct Got {
    subject: String,
    sequence: u64,
    headers: Option<HeaderMap>,
    payload: bytes::Bytes,
}

/// Every message of `subject` in `stream` (with `last_per_subject`, only the newest of each
/// subject), read through a short-lived consumer, in stream order.
async fn read_all(stream: &stream::Stream, subject: &str, last_per_subject: bool) -> Result<Vec<Got>, QueueError> {
    let mut consumer = stream
        .create_consumer(consumer::pull::Config {
            filter_subject: subject.to_string(),
            deliver_policy: if last_per_subject { consumer::DeliverPolicy::LastPerSubject } else { consumer::DeliverPolicy::All },
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        })
        .await
        .map_err(js)?;
    let total = consumer.info().await.map_err(js)?.num_pending;
    let mut out = Vec::new();
    while (out.len() as u64) < total {
        let want = usize::try_from(total - out.len() as u64).unwrap_or(usize::MAX).min(1_000);
        let mut batch = consumer.fetch().max_messages(want).expires(Duration::from_secs(2)).messages().await.map_err(js)?;
        let before = out.len();
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| QueueError::JetStream(super::chain(&*e)))?;
            let seq = m.info().map(|i| i.stream_sequence).unwrap_or(0);
            out.push(Got { subject: m.subject.to_string(), sequence: seq, headers: m.headers.clone(), payload: m.payload.clone() });
        }
        if out.len() == before {
            break; // removed meanwhile
        }
    }
    Ok(out)
}

/// What `picket results` found.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ResultsSummary {
    pub corpus: String,
    /// Documents with a result (scanned or skipped).
    pub documents: u64,
    pub allow: u64,
    pub mask: u64,
    pub block: u64,
    pub skipped: u64,
    /// Jobs of this corpus in the dead-letter stream (they have no result).
    pub dead_lettered: u64,
}

/// The newest result of every document of `corpus`, keyed by document id, as report lines.
pub async fn results(queue: &Queue, corpus: &str) -> Result<(Vec<String>, ResultsSummary), QueueError> {
    super::check_corpus(corpus)?;
    let messages = read_all(&queue.results, &queue.settings.results_of(corpus), true).await?;
    let mut by_doc: BTreeMap<String, String> = BTreeMap::new();
    for m in messages {
        by_doc.insert(m.subject, String::from_utf8_lossy(&m.payload).into_owned());
    }
    let mut summary = ResultsSummary { corpus: corpus.to_string(), ..ResultsSummary::default() };
    for line in by_doc.values() {
        summary.documents += 1;
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        match v.get("decision").and_then(|d| d.as_str()) {
            Some("allow") => summary.allow += 1,
            Some("mask") => summary.mask += 1,
            Some("block") => summary.block += 1,
            _ => summary.skipped += 1,
        }
    }
    summary.dead_lettered = dead_letters(queue, Some(corpus)).await?.len() as u64;
    Ok((by_doc.into_values().collect(), summary))
}

/// Wait until the jobs stream is empty (every job acked or dead-lettered), at most `timeout`.
/// True when it emptied.
pub async fn wait_idle(queue: &Queue, timeout: Duration) -> Result<bool, QueueError> {
    let deadline = Instant::now() + timeout;
    loop {
        let depth = queue.depth().await?;
        if depth.jobs == 0 && depth.in_flight == 0 {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One dead-letter record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeadLetter {
    /// Sequence in the dead-letter stream.
    pub seq: u64,
    pub corpus: String,
    /// The document (`path` or `path:line`), when the job could be decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    pub code: String,
    pub reason: String,
    pub deliveries: u64,
    /// Sequence the job had in the jobs stream.
    pub job_seq: u64,
    #[serde(skip)]
    payload: bytes::Bytes,
    #[serde(skip)]
    job_id: Option<String>,
}

fn header(headers: &Option<HeaderMap>, name: &str) -> String {
    headers.as_ref().and_then(|h| h.get(name)).map(|v| v.as_str().to_string()).unwrap_or_default()
}

/// The dead-letter records of `corpus` (all corpora when `None`).
pub async fn dead_letters(queue: &Queue, corpus: Option<&str>) -> Result<Vec<DeadLetter>, QueueError> {
    if let Some(c) = corpus {
        super::check_corpus(c)?;
    }
    let subject = queue.settings.dlq_subject(corpus.unwrap_or("*"));
    let messages = read_all(&queue.dlq, &subject, false).await?;
    Ok(messages
        .into_iter()
        .map(|m| {
            let job = Job::decode(&m.payload).ok();
            DeadLetter {
                seq: m.sequence,
                corpus: m.subject.rsplit('.').next().unwrap_or_default().to_string(),
                document: job.as_ref().map(|j| j.doc.key()),
                code: header(&m.headers, CODE),
                reason: header(&m.headers, REASON),
                deliveries: header(&m.headers, DELIVERIES).parse().unwrap_or(0),
                job_seq: header(&m.headers, SRC_SEQ).parse().unwrap_or(0),
                job_id: job.map(|j| j.job_id),
                payload: m.payload,
            }
        })
        .collect())
}

/// Put the dead-letter records of `corpus` back into the jobs stream (under a new id, so the
/// broker does not drop them as duplicates) and remove them from the dead-letter stream.
/// Returns how many were replayed.
pub async fn replay(queue: &Queue, corpus: &str) -> Result<u64, QueueError> {
    let mut n = 0;
    for d in dead_letters(queue, Some(corpus)).await? {
        let mut headers = HeaderMap::new();
        let id = format!("{}:replay:{}", d.job_id.as_deref().unwrap_or("undecodable"), d.seq);
        headers.insert("Nats-Msg-Id", id.as_str());
        let mut backoff = Duration::from_millis(10);
        loop {
            let ack = queue
                .js
                .publish_with_headers(queue.settings.job_subject(&d.corpus), headers.clone(), d.payload.clone())
                .await
                .map_err(js)?;
            match ack.await {
                Ok(_) => break,
                Err(e) if super::chain(&e).contains("maximum") => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
                Err(e) => return Err(js(e)),
            }
        }
        queue.dlq.delete_message(d.seq).await.map_err(js)?;
        n += 1;
    }
    Ok(n)
}
