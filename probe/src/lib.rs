//! `vigil-probe`: follows its assignments from the control plane,
//! checks its monitors on a jittered, drift-free schedule, and sends the results to the ingest
//! engine in batches. It checks HTTP(S) (website and API monitors), TCP ports, ICMP ping, DNS
//! and TLS certificates, and serves its counters on `/metrics`.

pub mod assignments;
pub mod check;
pub mod config;
pub mod error;
mod link;
pub mod scheduler;
pub mod sender;
pub mod telemetry;

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use error::ProbeError;

pub use config::Config;

/// Runs the probe until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    shutdown: CancellationToken,
) -> Result<Arc<telemetry::Telemetry>, ProbeError> {
    // Everything stops when the assignments cannot be followed (the key is refused).
    let shutdown = shutdown.child_token();
    let telemetry = Arc::new(telemetry::Telemetry::default());
    let tls = check::connect::Tls::new(&config.extra_ca)?;
    let checker = Arc::new(check::Checker {
        tls: tls.clone(),
        pingers: Arc::new(check::Pingers::default()),
        body_limit: config.body_limit,
    });
    let (assigned_tx, assigned_rx) = watch::channel(Vec::new());
    // Bounded: a full channel is counted as dropped results (the sender's buffer is the bound
    // that matters while the engine is away).
    let (results_tx, results_rx) = mpsc::channel(config.buffer.max(1));
    let tasks = TaskTracker::new();
    if let Some(addr) = config.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| ProbeError::Setup(format!("VIGIL_PROBE_METRICS_ADDR {addr}: {e}")))?;
        tasks.spawn(serve_metrics(listener, telemetry.clone(), shutdown.clone()));
    }
    let follow = tokio::spawn(assignments::follow(
        config.clone(),
        tls.verifying(),
        assigned_tx,
        shutdown.clone(),
    ));
    tasks.spawn(scheduler::run(
        assigned_rx,
        results_tx,
        config.concurrency,
        checker,
        telemetry.clone(),
        shutdown.clone(),
    ));
    tasks.spawn(sender::run(
        config,
        tls.verifying(),
        results_rx,
        telemetry.clone(),
        shutdown.clone(),
    ));
    tasks.close();
    let followed = follow
        .await
        .map_err(|e| ProbeError::Setup(format!("the assignment task failed: {e}")))
        .and_then(|r| r);
    shutdown.cancel();
    tasks.wait().await;
    followed.map(|()| telemetry)
}

/// Serves `GET /metrics` on `listener` until `shutdown`.
async fn serve_metrics(
    listener: tokio::net::TcpListener,
    telemetry: Arc<telemetry::Telemetry>,
    shutdown: CancellationToken,
) {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let telemetry = telemetry.clone();
            async move {
                (
                    [(
                        "content-type",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    telemetry.render(),
                )
            }
        }),
    );
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        tracing::warn!(%error, "metrics server stopped");
    }
}
