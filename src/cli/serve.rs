//! `picket serve`: the HTTP daemon. Builds the engine and the server state, binds, logs the
//! JSON `listening` event with `addr` once bound (tests bind port 0 and read the real port from it),
//! then serves until SIGTERM or SIGINT, letting in-flight requests finish. SIGHUP reloads the
//! packs; `--watch-packs` reloads them when pack files change.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;

use picket::server::{self, AppState, ServerOptions};

use super::EngineArgs;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on, IP:PORT (port 0 picks a free one); overrides `server.listen`.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Reload the packs when files in the pack folders change (polled every 2 s).
    #[arg(long)]
    watch_packs: bool,
    /// Threads that run scans (tokio's blocking pool). Default: `server.max_concurrency` with
    /// the classifier (scans wait on batched inference, so every admitted scan needs a thread);
    /// twice the CPU count (at least 4) rules-only, where more threads only add memory (each keeps
    /// its own regex caches) and time-slicing. Scans beyond it wait in a FIFO queue.
    #[arg(long, value_name = "N")]
    scan_threads: Option<usize>,
    /// Also serve Envoy's ext_proc (gRPC) on IP:PORT; overrides `extproc.listen` (docs/envoy.md).
    #[arg(long, value_name = "ADDR")]
    extproc_listen: Option<SocketAddr>,
    /// Proxy mode: also serve POST /v1/chat/completions, forwarded to URL/chat/completions
    /// (URL is the API base, e.g. https://api.openai.com/v1); see docs/gateway.md.
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// Seconds to wait for the upstream's response head and between streamed chunks.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    upstream_timeout: f64,
    /// CA bundle (PEM) for an https upstream [default: /etc/ssl/certs/ca-certificates.crt].
    #[arg(long, value_name = "FILE")]
    upstream_ca: Option<std::path::PathBuf>,
    #[command(flatten)]
    engine: EngineArgs,
}

/// How often `--watch-packs` looks at the pack files.
const WATCH_EVERY: Duration = Duration::from_secs(2);
/// How long shutdown waits for straggling blocking scans after the server stopped.
const DRAIN_BLOCKING: Duration = Duration::from_secs(5);
/// How long shutdown waits for the last spans to reach the collector.
const FLUSH_SPANS: Duration = Duration::from_secs(5);

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = args.engine.load_config()?;
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let classifier_required = config.model_enabled && !args.engine.no_classifier;
    let default_threads = if classifier_required { config.limits.max_concurrency } else { (2 * cpus).max(4) };
    let scan_threads = args.scan_threads.unwrap_or(default_threads).max(1);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("picket-http").max_blocking_threads(scan_threads).build()?;
    // The OTLP exporter's gRPC channel runs on this runtime, so it starts inside it.
    let telemetry = match &config.telemetry {
        Some(t) => Some(runtime.block_on(async { picket::telemetry::Telemetry::start(t) })?),
        None => None,
    };
    init_tracing_with(telemetry.as_ref());
    if let Some(t) = &config.telemetry {
        tracing::info!(endpoint = %t.otlp_endpoint, sample_ratio = t.sample_ratio, "exporting traces over OTLP");
    }
    let listen = args.listen.unwrap_or(config.listen);
    // Before loading anything: an exposed daemon without keys is refused outright.
    server::check_exposure(listen, config.auth_configured())?;
    let extproc_listen = args.extproc_listen.or(config.extproc_listen);
    if let Some(addr) = extproc_listen {
        server::check_exposure(addr, !config.api_keys.is_empty())?;
    }
    let extproc_options = picket::extproc::ExtProcOptions { policy: config.extproc_policy.clone() };

    let mut options = ServerOptions::from_config(&config);
    if let Some(url) = &args.upstream {
        anyhow::ensure!(
            args.upstream_timeout > 0.0 && args.upstream_timeout.is_finite(),
            "--upstream-timeout must be a positive number of seconds"
        );
        let timeout = Duration::from_secs_f64(args.upstream_timeout);
        options.upstream = Some(server::proxy::Upstream::new(url, timeout, args.upstream_ca.as_deref())?);
    }
    options.classifier_required = classifier_required;
    let engine = Arc::new(args.engine.engine()?);
    let state = AppState::new(engine, options)?;
    let mut watch_paths = config.pack_dirs.clone();
    watch_paths.extend(args.engine.rules.iter().cloned());
    let watch = args.watch_packs || config.watch_packs;

    let result = runtime.block_on(async move {
        let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let scheme = if state.tls_enabled() { "https" } else { "http" };
        // A JSON log line like every other; tests and scripts read `fields.addr` from it.
        tracing::info!(%addr, scheme, auth = state.auth().enabled(), version = env!("CARGO_PKG_VERSION"), "listening");
        // One signal stops both listeners.
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let extproc = match extproc_listen {
            Some(addr) => {
                picket::extproc::check(addr, &state, &extproc_options)?;
                let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} (ext_proc)"))?;
                let addr = listener.local_addr()?;
                tracing::info!(%addr, "ext_proc listening");
                let stopped = async move {
                    let _ = stop_rx.changed().await;
                };
                Some(tokio::spawn(picket::extproc::serve(listener, state.clone(), extproc_options, stopped)))
            }
            None => None,
        };
        tokio::spawn(reload_on_sighup(state.clone()));
        if watch {
            tokio::spawn(server::watch_packs(state.clone(), watch_paths, WATCH_EVERY));
        }
        let http = server::serve(listener, state, async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        match extproc {
            Some(mut extproc) => {
                tokio::select! {
                    served = http => {
                        served?;
                        extproc.await.context("the ext_proc server crashed")??;
                    }
                    // ext_proc stopped on its own: an error; stop rather than serve half the job.
                    stopped = &mut extproc => {
                        stopped.context("the ext_proc server crashed")??;
                        anyhow::bail!("the ext_proc server stopped");
                    }
                }
            }
            None => http.await?,
        }
        tracing::info!("stopped");
        anyhow::Ok(())
    });
    // Before the runtime stops: the exporter needs it to send the last spans.
    if let Some(t) = telemetry {
        t.shutdown(FLUSH_SPANS);
    }
    runtime.shutdown_timeout(DRAIN_BLOCKING);
    result.map(|()| ExitCode::SUCCESS)
}

/// JSON logs on stderr; the filter comes from `PICKET_LOG` (then `RUST_LOG`), default `info`.
/// The daemon's own lifecycle lines (`listening`, `shutting down`, `stopped`) stay at `info`
/// even under a quieter filter, unless the filter names this module itself.
pub(super) fn init_tracing() {
    init_tracing_with(None);
}

/// [`init_tracing`], plus the OpenTelemetry layer when traces are exported. The log filter
/// applies to the log lines only; the trace layer has its own (Picket's spans, never events).
pub(super) fn init_tracing_with(telemetry: Option<&picket::telemetry::Telemetry>) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{EnvFilter, Layer as _};
    let given = std::env::var("PICKET_LOG").or_else(|_| std::env::var("RUST_LOG")).ok().filter(|s| !s.trim().is_empty());
    let mut filter = given.as_deref().and_then(|s| EnvFilter::try_new(s).ok()).unwrap_or_else(|| EnvFilter::new("info"));
    if !given.as_deref().is_some_and(|s| s.contains(module_path!())) {
        if let Ok(lifecycle) = format!("{}=info", module_path!()).parse() {
            filter = filter.add_directive(lifecycle);
        }
    }
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let _ = tracing_subscriber::registry().with(logs).with(telemetry.map(|t| t.layer())).try_init();
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "shutting down; finishing in-flight requests"),
        _ = term => tracing::info!(signal = "SIGTERM", "shutting down; finishing in-flight requests"),
    }
}

/// Reload the packs on every SIGHUP.
async fn reload_on_sighup(state: AppState) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload with POST /v1/admin/reload instead");
        return;
    };
    while hup.recv().await.is_some() {
        let _ = state.reload("sighup").await;
    }
}
