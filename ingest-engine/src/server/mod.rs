//! Network listeners: one accept loop (connection table, first-request and idle deadlines,
//! HTTP/1.1 + h2c, graceful drain) shared by the OTLP/gRPC and HTTP listeners, and the routes
//! that lead each path to its input.

mod ops;
pub(crate) mod routes;

use std::time::Duration;

use ::http::Request;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service as _;

use proto::forwarded::{TrustedProxies, X_FORWARDED_FOR};

use crate::config::LimitsConfig;
use crate::wire::connections::Connections;

/// Serves `router` on `listener` until `shutdown` fires, then waits up to `drain` for open
/// requests to finish.
///
/// Connections take a place in a [`Connections`] table (a cap in total and per address; at a
/// cap the idlest connection is closed for the newcomer). A connection must start a request
/// within `limits.first_request_timeout_ms` of being accepted, and is closed (gracefully: an
/// HTTP/2 GOAWAY) once idle for `limits.idle_timeout_ms` between requests.
pub(crate) async fn serve(
    name: &'static str,
    listener: TcpListener,
    router: Router,
    limits: LimitsConfig,
    shutdown: CancellationToken,
    drain: Duration,
) {
    let connections = Connections::new(
        name,
        limits.max_connections,
        limits.max_connections_per_address,
    );
    // Checked with the rest of the configuration at start-up.
    let proxies = TrustedProxies::parse(&limits.trusted_proxies).unwrap_or_default();
    let first = Duration::from_millis(limits.first_request_timeout_ms);
    let idle = Duration::from_millis(limits.idle_timeout_ms);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(first)
        .max_buf_size(1 << 20);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_concurrent_streams)
        .max_header_list_size(64 << 10)
        .initial_stream_window_size(4 << 20)
        .initial_connection_window_size(8 << 20)
        .max_frame_size(1 << 20)
        .keep_alive_interval(Some(Duration::from_secs(60)))
        .keep_alive_timeout(Duration::from_secs(20));
    let tasks = TaskTracker::new();
    let mut accept_errors = 0u32;
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(ok) => { accept_errors = 0; ok }
                Err(error) => {
                    // Usually EMFILE: back off instead of spinning.
                    accept_errors = (accept_errors + 1).min(10);
                    tracing::warn!(listener = name, %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10 << accept_errors.min(6))).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let slot = tokio::select! {
            slot = connections.admit(peer.ip()) => match slot {
                Ok(slot) => slot,
                Err(error) => {
                    tracing::debug!(listener = name, %peer, %error, "connection refused");
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let _ignored = stream.set_nodelay(true);
        // Handlers that record the sender (incoming requests) find it as `ConnectInfo`: the
        // client a trusted proxy names, else the peer.
        let router = router.clone();
        let activity = slot.activity.clone();
        let proxies = proxies.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            let forwarded = request
                .headers()
                .get(X_FORWARDED_FOR)
                .and_then(|v| v.to_str().ok());
            let client = proxies.client(peer, forwarded);
            request.extensions_mut().insert(ConnectInfo(client));
            let busy = activity.begin();
            let mut router = router.clone();
            async move {
                let response = router.call(request).await;
                drop(busy);
                response
            }
        });
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let grace = tokio::select! {
                ended = conn.as_mut() => {
                    if let Err(error) = ended {
                        tracing::debug!(listener = name, %peer, %error, "connection ended with an error");
                    }
                    return;
                }
                _ = slot.close.cancelled() => Duration::from_secs(1),
                _ = slot.activity.expired(first, idle) => Duration::from_secs(1),
                _ = shutdown.cancelled() => drain,
            };
            // Requests in progress finish (HTTP/2: GOAWAY); then the socket is closed.
            conn.as_mut().graceful_shutdown();
            let _ended = tokio::time::timeout(grace, conn).await;
            drop(slot);
        });
    }
    drop(listener);
    tasks.close();
    if tokio::time::timeout(drain, tasks.wait()).await.is_err() {
        tracing::warn!(
            listener = name,
            "connections still open after the drain deadline"
        );
    }
}
