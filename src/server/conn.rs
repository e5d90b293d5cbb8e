//! The accept loop: a connection cap that applies before any byte is read (so before auth), a
//! header-read timeout that also closes idle keep-alive connections, a TLS handshake timeout,
//! and a graceful shutdown bounded by a grace period.
//!
//! `axum::serve` offers none of these knobs, so each connection is driven by hyper's HTTP/1
//! connection builder directly ([hyper's `header_read_timeout`] runs whenever the connection
//! waits for a request head: a slow-loris head, and the idle time between keep-alive requests).
//!
//! [hyper's `header_read_timeout`]: hyper::server::conn::http1::Builder::header_read_timeout

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use super::mtls::PeerIdentity;

/// Connection-level limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    /// Time a client has to send a complete request head, and the longest idle keep-alive.
    pub header_timeout: Duration,
    /// Open connections (TLS handshakes included); further ones are closed at once.
    pub max_connections: usize,
    /// How long shutdown waits for open connections before closing them.
    pub shutdown_grace: Duration,
    /// Time a client has to finish the TLS handshake.
    pub handshake_timeout: Duration,
}

/// Accept on `listener` until `shutdown` resolves, then stop accepting, let in-flight requests
/// finish (idle connections close at once) and close whatever is left after the grace period.
pub(crate) async fn serve<F>(
    listener: TcpListener,
    tls: Option<super::tls::SharedTlsConfig>,
    app: Router,
    limits: ConnLimits,
    on_refused: impl Fn() + Send + 'static,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (closing_tx, closing) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        // Out of descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    // Over the cap: close before reading anything, so idle sockets cannot pile up.
                    on_refused();
                    drop(stream);
                    continue;
                };
                // Small JSON replies on keep-alive connections must not wait for Nagle.
                let _ = stream.set_nodelay(true);
                // The TLS config current at accept time: rotated credentials apply to new connections.
                let acceptor = tls.as_ref().map(|t| tokio_rustls::TlsAcceptor::from(t.load_full()));
                connections.spawn(connection(stream, acceptor, app.clone(), limits, closing.clone(), slot));
            }
        }
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            grace_ms = limits.shutdown_grace.as_millis() as u64,
            "shutdown grace elapsed; closing the remaining connections"
        );
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    Ok(())
}

/// One connection: TLS handshake (bounded) when configured, then HTTP/1.
async fn connection(
    stream: TcpStream,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    limits: ConnLimits,
    mut closing: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let Some(acceptor) = acceptor else {
        return http1(stream, app, limits, closing, None).await;
    };
    let handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream));
    let tls = tokio::select! {
        r = handshake => match r {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => return tracing::info!(error = %e, "TLS handshake failed"),
            Err(_) => return tracing::info!("TLS handshake timed out"),
        },
        () = closed(&mut closing) => return,
    };
    // The verified client certificate, if any, becomes the connection's peer identity.
    let peer = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(PeerIdentity::from_cert).map(Arc::new);
    http1(tls, app, limits, closing, peer).await;
}

async fn http1<I>(io: I, app: Router, limits: ConnLimits, mut closing: watch::Receiver<bool>, peer: Option<Arc<PeerIdentity>>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let app = app.clone();
        if let Some(p) = &peer {
            req.extensions_mut().insert(p.clone());
        }
        async move { Ok::<_, Infallible>(app.oneshot(req).await.unwrap_or_else(|never| match never {})) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        }
        () = closed(&mut closing) => {
            // Finish the request in flight, if any; an idle connection closes now.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Resolves once shutdown has begun (or the accept loop is gone).
async fn closed(closing: &mut watch::Receiver<bool>) {
    let _ = closing.wait_for(|c| *c).await;
}
