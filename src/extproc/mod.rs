//! Envoy's external processor (`ext_proc`): a gRPC server, on its own listen address, that puts
//! the engine in an Envoy (Istio, Envoy Gateway, ...) request path. Setup, the filter config
//! and the fail-closed settings are in `docs/envoy.md`.
//!
//! Envoy opens one bidirectional stream per HTTP request and sends its phases in order; each
//! gets exactly one reply ([`exchange`] holds the per-request state):
//!
//! - request body, `BUFFERED`: the chat body is scanned message by message ([`crate::chat`]);
//!   a block answers `ImmediateResponse` 403 with a JSON body, a mask replaces the body and
//!   sets the new `content-length`.
//! - response headers: `text/event-stream` stays `STREAMED` (SSE is scanned per event);
//!   anything else is switched to `BUFFERED` with `mode_override` and scanned whole as output.
//!
//! It shares the daemon's engine, limits, metrics, concurrency permits and API keys
//! ([`AppState`]). Envoy authenticates with the same bearer keys (sent as gRPC
//! `initial_metadata`, scope `scan`); with no keys configured the listener must be loopback.
//! Anything Picket cannot scan (a truncated or streamed request body, an unknown role, a
//! response it cannot read, a scan error or timeout) is refused, never passed through.

mod exchange;

use std::future::Future;
use std::sync::Arc;

use envoy_types::pb::envoy::service::ext_proc::v3::external_processor_server::{ExternalProcessor, ExternalProcessorServer};
use envoy_types::pb::envoy::service::ext_proc::v3::{ProcessingRequest, ProcessingResponse};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status, Streaming};

use crate::config::Scope;
use crate::server::{check_exposure, AppState, ExposedWithoutAuth, Need, Principal};

/// Settings of the ext_proc server that are not the daemon's.
#[derive(Debug, Clone, Default)]
pub struct ExtProcOptions {
    /// The policy every request through Envoy is scanned under (`default` when absent).
    pub policy: Option<String>,
}

/// Why the ext_proc server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtProcError {
    /// A non-loopback address without API keys.
    #[error(transparent)]
    Exposed(#[from] ExposedWithoutAuth),
    /// The policy is not configured.
    #[error("extproc.policy {0:?} is not a configured policy")]
    UnknownPolicy(String),
    /// Binding or serving failed.
    #[error("ext_proc server I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The gRPC transport failed.
    #[error("ext_proc server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Headroom over `max_body_bytes` for the rest of a gRPC message (headers, attributes).
const MESSAGE_OVERHEAD: usize = 64 << 10;

/// Serve ext_proc on `listener` until `shutdown` resolves. Refuses a non-loopback listener when
/// no API keys are configured, and an unknown policy.
pub async fn serve<F>(listener: TcpListener, state: AppState, options: ExtProcOptions, shutdown: F) -> Result<(), ExtProcError>
where
    F: Future<Output = ()> + Send + 'static,
{
    check(listener.local_addr()?, &state, &options)?;
    let limits = state.limits().clone();
    let service = ExternalProcessorServer::new(Processor(Arc::new(Shared { state, options })))
        // A buffered body arrives in one message; tonic's default cap is 4 MiB.
        .max_decoding_message_size(limits.max_body_bytes + MESSAGE_OVERHEAD)
        // A masked body can be longer than the original (placeholders, JSON escapes).
        .max_encoding_message_size(2 * limits.max_body_bytes + MESSAGE_OVERHEAD);
    tonic::transport::Server::builder()
        .max_concurrent_streams(u32::try_from(limits.max_connections).unwrap_or(u32::MAX))
        .add_service(service)
        // Small request/response messages in lockstep: Nagle would add delayed-ACK stalls.
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), shutdown)
        .await?;
    Ok(())
}

/// Refuse to serve on `addr` when it is exposed without API keys, or under an unknown policy.
pub fn check(addr: std::net::SocketAddr, state: &AppState, options: &ExtProcOptions) -> Result<(), ExtProcError> {
    check_exposure(addr, state.auth().enabled())?;
    match &options.policy {
        Some(p) if state.engine().policy(p).is_none() => Err(ExtProcError::UnknownPolicy(p.clone())),
        _ => Ok(()),
    }
}

/// What every stream of the server shares.
struct Shared {
    state: AppState,
    options: ExtProcOptions,
}

/// The gRPC service.
#[derive(Clone)]
struct Processor(Arc<Shared>);

#[tonic::async_trait]
impl ExternalProcessor for Processor {
    type ProcessStream = ReceiverStream<Result<ProcessingResponse, Status>>;

    async fn process(&self, request: Request<Streaming<ProcessingRequest>>) -> Result<Response<Self::ProcessStream>, Status> {
        let principal = authorize(&self.0.state, request.metadata())?;
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(4);
        let mut exchange = exchange::Exchange::new(self.0.clone(), principal);
        tokio::spawn(async move {
            // Envoy closes its side after the last phase; an error means Envoy gave up on the
            // request (timeout, client gone): nothing more to answer.
            while let Ok(Some(message)) = inbound.message().await {
                let (reply, done) = exchange.handle(message).await;
                if tx.send(Ok(reply)).await.is_err() || done {
                    break;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// The stream's bearer key (gRPC metadata `authorization`), checked like the HTTP API's.
fn authorize(state: &AppState, metadata: &tonic::metadata::MetadataMap) -> Result<Arc<Principal>, Status> {
    let header = metadata.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| axum::http::HeaderValue::from_str(v).ok());
    state.auth().authorize(header.as_ref(), Need::Scope(Scope::Scan)).map_err(|e| match e.status.as_u16() {
        403 => Status::permission_denied(e.message),
        _ => Status::unauthenticated(e.message),
    })
}
