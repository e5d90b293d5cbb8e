//! `picket worker`, `picket results`, `picket dlq` and `picket scan PATH... --submit`: the scale-out
//! commands over NATS JetStream (docs/scale-out.md). Flags → library calls, printing, exit codes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use picket::batch::BatchOptions;
use picket::nats::metrics::{self, WorkerCounters};
use picket::nats::worker::{self, WorkerOptions};
use picket::nats::{results, submit, Queue, QueueSettings};
use picket::Engine;

use super::EngineArgs;

/// Queue names and limits; every process of a deployment uses the same (the first one to start
/// creates the streams and the consumer with them).
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Queue")]
pub struct QueueArgs {
    /// Prefix of stream names and subjects.
    #[arg(long, value_name = "NAME", default_value = "PICKET")]
    queue_prefix: String,
    /// Jobs the jobs stream holds at most; past it producers wait.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    max_jobs: i64,
    /// Documents up to this many bytes travel inside the job; larger ones by path.
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 10)]
    inline_max: usize,
    /// Time a worker may hold a job without an ack before it is redelivered.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    ack_wait_ms: u64,
    /// Deliveries of a job before it is dead-lettered.
    #[arg(long, value_name = "N", default_value_t = 5)]
    max_deliver: i64,
    /// Jobs in flight across all workers at most.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    max_ack_pending: i64,
}

impl QueueArgs {
    fn settings(&self) -> anyhow::Result<QueueSettings> {
        anyhow::ensure!(
            !self.queue_prefix.is_empty() && self.queue_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "--queue-prefix {:?}: use letters, digits and '_'",
            self.queue_prefix
        );
        anyhow::ensure!(self.max_jobs > 0 && self.max_deliver > 0 && self.max_ack_pending > 0, "queue limits must be positive");
        anyhow::ensure!(self.inline_max <= 512 << 10, "--inline-max is at most 524288 (a job message is at most 1 MiB)");
        Ok(QueueSettings {
            prefix: self.queue_prefix.clone(),
            max_jobs: self.max_jobs,
            inline_max: self.inline_max,
            ack_wait: Duration::from_millis(self.ack_wait_ms.max(100)),
            max_deliver: self.max_deliver,
            max_ack_pending: self.max_ack_pending,
            ..QueueSettings::default()
        })
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("picket-queue").build()?)
}

/// `picket scan PATH... --submit URL --corpus NAME`.
pub fn submit(url: &str, corpus: &str, queue: &QueueArgs, options: &BatchOptions, engine: &Engine) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let q = rt.block_on(Queue::open(url, queue.settings()?))?;
    let summary = submit::submit(&rt, &q, engine, options, corpus)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct WorkerArgs {
    /// NATS server URL.
    #[arg(long, value_name = "URL", env = "PICKET_NATS")]
    nats: String,
    /// Jobs scanned at once (0: one per CPU).
    #[arg(long, value_name = "N", default_value_t = 0)]
    slots: usize,
    /// Time one document may take before it is dead-lettered (0: no limit).
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    doc_timeout_ms: u64,
    /// Delay before a transiently failed job is retried (times its delivery count).
    #[arg(long, value_name = "MS", default_value_t = 1_000)]
    retry_delay_ms: u64,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    queue: QueueArgs,
    #[command(flatten)]
    engine: EngineArgs,
}

/// `picket worker`: scan jobs until SIGTERM/SIGINT, then finish the ones in flight.
pub fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    super::serve::init_tracing();
    // The engine lives as long as the process; the scan tasks borrow it.
    let engine: &'static Engine = Box::leak(Box::new(args.engine.engine()?));
    let rt = runtime()?;
    let slots = if args.slots == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { args.slots };
    let options = WorkerOptions {
        slots,
        doc_budget: (args.doc_timeout_ms > 0).then(|| Duration::from_millis(args.doc_timeout_ms)),
        retry_delay: Duration::from_millis(args.retry_delay_ms),
    };
    let settings = args.queue.settings()?;
    rt.block_on(async move {
        let queue = Arc::new(Queue::open(&args.nats, settings).await?);
        let counters = Arc::new(WorkerCounters::default());
        if let Some(addr) = args.metrics_listen {
            serve_metrics(addr, queue.clone(), counters.clone()).await?;
        }
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else { return };
            for round in 0..2 {
                tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
                if round == 0 {
                    tracing::info!("draining: finishing the jobs in flight (again to quit at once)");
                    let _ = tx.send(true);
                } else {
                    std::process::exit(130);
                }
            }
        });
        eprintln!("worker ready ({slots} slots)");
        worker::run(queue, engine, options, counters, rx).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// /metrics on `addr` (printed as `metrics on ADDR` once bound).
async fn serve_metrics(addr: SocketAddr, queue: Arc<Queue>, counters: Arc<WorkerCounters>) -> anyhow::Result<()> {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    eprintln!("metrics on {}", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let (queue, counters) = (queue.clone(), counters.clone());
            async move {
                let depth = queue.depth().await.ok();
                ([("content-type", "text/plain; version=0.0.4")], metrics::render(depth, &counters))
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(())
}

#[derive(clap::Args)]
pub struct ResultsArgs {
    /// NATS server URL.
    #[arg(long, value_name = "URL", env = "PICKET_NATS")]
    nats: String,
    /// The corpus the documents were submitted to.
    #[arg(long, value_name = "NAME")]
    corpus: String,
    /// Write the JSON Lines report (one line per document) to FILE, or `-` for stdout.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Print a JSON summary (to stderr when the report goes to stdout).
    #[arg(long)]
    summary: bool,
    /// `sarif`: write a SARIF 2.1.0 log to stdout instead of the report, as
    /// `picket scan PATH --format sarif` does (rule help comes from the packs this command
    /// loads: pass the workers' --config/--rules).
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<ResultsFormat>,
    #[command(flatten)]
    engine: EngineArgs,
    /// First wait until no job is left in the queue (all scanned or dead-lettered).
    #[arg(long)]
    wait: bool,
    /// Longest --wait, in seconds.
    #[arg(long, value_name = "S", default_value_t = 3600)]
    wait_timeout_s: u64,
    #[command(flatten)]
    queue: QueueArgs,
}

/// What `picket results` writes to stdout.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultsFormat {
    /// The JSON Lines report (unless `--report FILE` takes it).
    Jsonl,
    Sarif,
}

/// `picket results`: exit 0 nothing blocked, 1 something blocked, 2 error (or --wait timed out).
pub fn results(args: ResultsArgs) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let sarif = args.format == Some(ResultsFormat::Sarif);
    let report_on_stdout = match args.report.as_deref() {
        Some(p) => p.as_os_str() == "-",
        None => !sarif,
    };
    if sarif && report_on_stdout {
        anyhow::bail!("--report - and --format sarif would both use stdout");
    }
    let packs = match sarif {
        true => Some(EngineArgs { no_classifier: true, ..args.engine.clone() }.engine()?.packs()),
        false => None,
    };
    let (lines, summary) = rt.block_on(async {
        let queue = Queue::open(&args.nats, args.queue.settings()?).await?;
        if args.wait && !results::wait_idle(&queue, Duration::from_secs(args.wait_timeout_s)).await? {
            anyhow::bail!("--wait: jobs were still queued after {} s", args.wait_timeout_s);
        }
        Ok(results::results(&queue, &args.corpus).await?)
    })?;
    let report: Option<Box<dyn std::io::Write>> = match &args.report {
        Some(p) if p.as_os_str() != "-" => {
            Some(Box::new(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?)))
        }
        _ if report_on_stdout => Some(Box::new(std::io::BufWriter::new(std::io::stdout().lock()))),
        _ => None,
    };
    if let Some(mut out) = report {
        for line in &lines {
            writeln!(out, "{line}")?;
        }
        out.flush()?;
    }
    if let Some(packs) = packs {
        picket::batch::sarif_from_report(&lines, &packs, std::io::BufWriter::new(std::io::stdout().lock()))
            .context("cannot write the SARIF log")?;
    }
    if args.summary {
        let s = serde_json::to_string_pretty(&summary)?;
        if report_on_stdout || sarif {
            eprintln!("{s}");
        } else {
            println!("{s}");
        }
    }
    Ok(if summary.block > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

#[derive(clap::Subcommand)]
pub enum DlqCommand {
    /// One JSON line per dead-letter record: document, code, reason, deliveries.
    List {
        #[arg(long, value_name = "URL", env = "PICKET_NATS")]
        nats: String,
        /// Only this corpus.
        #[arg(long, value_name = "NAME")]
        corpus: Option<String>,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Put a corpus's dead-letter records back into the jobs stream.
    Replay {
        #[arg(long, value_name = "URL", env = "PICKET_NATS")]
        nats: String,
        #[arg(long, value_name = "NAME")]
        corpus: String,
        #[command(flatten)]
        queue: QueueArgs,
    },
}

/// `picket dlq list|replay`.
pub fn dlq(cmd: DlqCommand) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    match cmd {
        DlqCommand::List { nats, corpus, queue } => {
            let records = rt.block_on(async {
                let q = Queue::open(&nats, queue.settings()?).await?;
                anyhow::Ok(results::dead_letters(&q, corpus.as_deref()).await?)
            })?;
            for r in records {
                println!("{}", serde_json::to_string(&r)?);
            }
        }
        DlqCommand::Replay { nats, corpus, queue } => {
            let n = rt.block_on(async {
                let q = Queue::open(&nats, queue.settings()?).await?;
                anyhow::Ok(results::replay(&q, &corpus).await?)
            })?;
            println!("{}", serde_json::json!({ "replayed": n, "corpus": corpus }));
        }
    }
    Ok(ExitCode::SUCCESS)
}
