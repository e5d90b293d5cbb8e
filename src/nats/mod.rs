//! Scale-out on NATS JetStream (docs/scale-out.md): corpus scanning as a work queue shared by
//! any number of worker processes, and the reversible-token vault shared by daemon replicas.
//!
//! ```text
//! picket scan PATH --submit ──► PICKET_JOBS (WorkQueue, discard New) ──► durable pull consumer
//!   walk + records (batch)        picket.job.<corpus>                   `scanners`, shared by
//!   one small envelope per doc    Nats-Msg-Id dedup                     every `picket worker`
//!                                                                          │ scan (batch code)
//!  picket results ◄── PICKET_RESULTS (one per doc) ◄── publish, PubAck ◄──┘ then ack the job
//!  picket dlq     ◄── PICKET_DLQ ◄── permanent errors (+Term); sweeper ◄── PICKET_ADV
//!                                    (MAX_DELIVERIES advisories of jobs that killed workers)
//! ```
//!
//! Only the JetStream 2.9 feature set is used (Debian ships nats-server 2.9.10).

pub mod envelope;
pub mod metrics;
pub mod results;
pub mod submit;
pub mod vault;
pub mod worker;

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use sha2::{Digest, Sha256};

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    #[error("cannot connect to NATS at {url}: {message}")]
    Connect { url: String, message: String },
    /// A JetStream call failed (stream or consumer set-up, publish, fetch).
    #[error("NATS JetStream: {0}")]
    JetStream(String),
    #[error("invalid corpus name {0:?}: use letters, digits, '-' and '_' (at most 64)")]
    BadCorpus(String),
    #[error(transparent)]
    Batch(#[from] crate::batch::BatchError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// `JetStream(e.to_string())` with the whole source chain (server error codes live there).
pub(crate) fn js<E: std::error::Error>(e: E) -> QueueError {
    QueueError::JetStream(chain(&e))
}

/// An error and its sources on one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

/// Names, subjects and limits of the queue. Every process of one deployment must agree on
/// them; the first process to start creates the streams and the consumer with them.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Prefix of stream names (`<P>_JOBS`, ...) and, lower-cased, of subjects (`<p>.job.*`).
    pub prefix: String,
    /// Jobs held at most; past it the producer waits (discard New: the broker refuses).
    pub max_jobs: i64,
    /// Bytes of jobs held at most.
    pub max_job_bytes: i64,
    /// Documents up to this size travel inline in the job; larger ones by reference.
    pub inline_max: usize,
    /// How long a worker may hold a job without acking it before it is redelivered.
    pub ack_wait: Duration,
    /// Deliveries before a job is given up on (then dead-lettered by the sweeper).
    pub max_deliver: i64,
    /// Jobs in flight across all workers at most.
    pub max_ack_pending: i64,
    /// Window in which the broker drops a job (or result) published again with the same id.
    pub duplicate_window: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            prefix: "PICKET".into(),
            max_jobs: 100_000,
            max_job_bytes: 1 << 30,
            inline_max: 256 << 10,
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
            max_ack_pending: 1_000,
            duplicate_window: Duration::from_secs(600),
        }
    }
}

/// Largest job message: a larger document goes by reference anyway.
const MAX_JOB_MESSAGE: i32 = 1 << 20;
/// The durable consumer every worker shares.
pub const CONSUMER: &str = "scanners";
/// The durable consumer the sweepers share on the advisory stream.
pub const SWEEPER: &str = "sweepers";

impl QueueSettings {
    pub fn jobs_stream(&self) -> String {
        format!("{}_JOBS", self.prefix)
    }
    pub fn results_stream(&self) -> String {
        format!("{}_RESULTS", self.prefix)
    }
    pub fn dlq_stream(&self) -> String {
        format!("{}_DLQ", self.prefix)
    }
    pub fn adv_stream(&self) -> String {
        format!("{}_ADV", self.prefix)
    }
    fn subject_prefix(&self) -> String {
        self.prefix.to_ascii_lowercase()
    }
    pub fn job_subject(&self, corpus: &str) -> String {
        format!("{}.job.{corpus}", self.subject_prefix())
    }
    pub fn result_subject(&self, corpus: &str, doc_id: &str) -> String {
        format!("{}.result.{corpus}.{doc_id}", self.subject_prefix())
    }
    pub fn results_of(&self, corpus: &str) -> String {
        format!("{}.result.{corpus}.*", self.subject_prefix())
    }
    pub fn dlq_subject(&self, corpus: &str) -> String {
        format!("{}.dlq.{corpus}", self.subject_prefix())
    }
    /// Advisories of jobs that ran out of deliveries.
    pub fn max_deliveries_advisory(&self) -> String {
        format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{}.*", self.jobs_stream())
    }
}

/// A corpus name is a subject token: checked, never escaped silently.
pub fn check_corpus(corpus: &str) -> Result<(), QueueError> {
    let ok = !corpus.is_empty() && corpus.len() <= 64 && corpus.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(QueueError::BadCorpus(corpus.to_string()))
    }
}

/// A document's id inside its corpus: the SHA-256 of its key (`path` or `path:line`),
/// shortened. A subject token whatever characters the path holds.
pub fn doc_id(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}

/// The idempotency id of a job (`Nats-Msg-Id`): the same document with the same content,
/// scanned with the same packs, is one job however often it is submitted.
pub fn job_id(corpus: &str, doc_id: &str, sha256: &str, packs: &str) -> String {
    format!("{corpus}:{doc_id}:{sha256}:{packs}")
}

/// Connect to the broker.
pub async fn connect(url: &str) -> Result<async_nats::Client, QueueError> {
    async_nats::ConnectOptions::new()
        .name("picket")
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|e| QueueError::Connect { url: url.to_string(), message: chain(&e) })
}

/// The streams and consumer of the queue, created when missing (an existing one is used as
/// it is: the first process to start sets the limits).
pub struct Queue {
    pub settings: QueueSettings,
    pub js: jetstream::Context,
    pub jobs: stream::Stream,
    pub results: stream::Stream,
    pub dlq: stream::Stream,
    pub adv: stream::Stream,
}

impl Queue {
    /// Connect to `url` and make sure every stream exists.
    pub async fn open(url: &str, settings: QueueSettings) -> Result<Queue, QueueError> {
        let client = connect(url).await?;
        let js = jetstream::new(client);
        let p = settings.subject_prefix();
        let jobs = js
            .get_or_create_stream(stream::Config {
                name: settings.jobs_stream(),
                subjects: vec![format!("{p}.job.*")],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                discard: stream::DiscardPolicy::New,
                max_messages: settings.max_jobs,
                max_bytes: settings.max_job_bytes,
                max_message_size: MAX_JOB_MESSAGE,
                duplicate_window: settings.duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(js_err)?;
        let results = js
            .get_or_create_stream(stream::Config {
                name: settings.results_stream(),
                subjects: vec![format!("{p}.result.*.*")],
                storage: stream::StorageType::File,
                // One result per document: a redelivered job's result replaces the first.
                max_messages_per_subject: 1,
                duplicate_window: settings.duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(js_err)?;
        let dlq = js
            .get_or_create_stream(stream::Config {
                name: settings.dlq_stream(),
                subjects: vec![format!("{p}.dlq.*")],
                storage: stream::StorageType::File,
                duplicate_window: settings.duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(js_err)?;
        let adv = js
            .get_or_create_stream(stream::Config {
                name: settings.adv_stream(),
                subjects: vec![settings.max_deliveries_advisory()],
                storage: stream::StorageType::File,
                max_age: Duration::from_secs(7 * 24 * 3600),
                ..Default::default()
            })
            .await
            .map_err(js_err)?;
        Ok(Queue { settings, js, jobs, results, dlq, adv })
    }

    /// The consumer every worker shares.
    pub async fn scanners(&self) -> Result<consumer::PullConsumer, QueueError> {
        let s = &self.settings;
        self.jobs
            .get_or_create_consumer(
                CONSUMER,
                consumer::pull::Config {
                    durable_name: Some(CONSUMER.into()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: s.ack_wait,
                    max_deliver: s.max_deliver,
                    max_ack_pending: s.max_ack_pending,
                    ..Default::default()
                },
            )
            .await
            .map_err(js_err)
    }

    /// Numbers an operator watches: jobs waiting, in flight, redelivered, dead-lettered.
    pub async fn depth(&self) -> Result<Depth, QueueError> {
        let mut consumer = self.scanners().await?;
        let info = consumer.info().await.map_err(js_err)?;
        let dlq = self.dlq.get_info().await.map_err(js_err)?;
        let jobs = self.jobs.get_info().await.map_err(js_err)?;
        Ok(Depth {
            pending: info.num_pending,
            in_flight: info.num_ack_pending as u64,
            redelivered: info.num_redelivered as u64,
            dead_lettered: dlq.state.messages,
            jobs: jobs.state.messages,
        })
    }
}

fn js_err<E: std::error::Error>(e: E) -> QueueError {
    js(e)
}

/// A snapshot of the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Depth {
    /// Jobs no worker has taken yet.
    pub pending: u64,
    /// Jobs taken and not yet acked.
    pub in_flight: u64,
    /// Jobs delivered more than once, in flight now.
    pub redelivered: u64,
    /// Messages in the dead-letter stream.
    pub dead_lettered: u64,
    /// Messages in the jobs stream (pending + in flight + exhausted ones not yet swept).
    pub jobs: u64,
}
