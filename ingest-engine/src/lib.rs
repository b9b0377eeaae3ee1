//! Vigil's ingest engine: OpenTelemetry (OTLP/gRPC and OTLP/HTTP, protobuf and JSON), Fluent
//! Forward, Fluentd HTTP, server-agent reports and heartbeats in; ClickHouse rows and Redis
//! Stream events for the worker out.
//!
//! Data path: `server` (listeners, limits) → `engine` (auth, decompress, decode) → `otlp`
//! (wire walker writing straight into Native columns) → `pipeline` (byte budgets, the `wal`
//! that acknowledges, batches, retries, poison isolation) → the `storage` crate (LZ4-framed
//! `INSERT … FORMAT Native`).
//! See ARCHITECTURE.md for the invariants.

mod agent_report;
pub mod auth;
mod batch;
mod budget;
pub mod config;
mod engine;
pub mod error;
mod fluentd;
pub mod forward;
mod incoming_request;
pub mod otlp;
mod pipeline;
mod probe_results;
mod server;
pub mod telemetry;
mod wal;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::engine::Engine;
use crate::pipeline::Pipeline;
use crate::telemetry::Telemetry;
use storage::client::{ClickHouse, ClickHouseError};
pub use storage::compression::Compression;

/// Sockets the engine serves on, bound before start so that callers (and tests) can use port 0.
pub struct Listeners {
    /// OTLP/gRPC.
    pub otlp_grpc: TcpListener,
    /// OTLP/HTTP and the operational endpoints.
    pub otlp_http: TcpListener,
    /// Optional separate listener for the non-OTLP HTTP endpoints.
    pub http: Option<TcpListener>,
    /// The Fluent Forward listener, when configured (`forward.project` or `shared_keys`).
    pub forward: Option<forward::ForwardSockets>,
}

impl Listeners {
    /// Binds the addresses in `config`.
    pub async fn bind(config: &Config) -> std::io::Result<Self> {
        let http = match config.http_addr {
            Some(addr) if addr != config.otlp_http_addr => Some(TcpListener::bind(addr).await?),
            _ => None,
        };
        Ok(Self {
            otlp_grpc: TcpListener::bind(config.otlp_grpc_addr).await?,
            otlp_http: TcpListener::bind(config.otlp_http_addr).await?,
            http,
            forward: match config.forward.enabled() {
                true => Some(forward::ForwardSockets::bind(config.forward.addr).await?),
                false => None,
            },
        })
    }

    /// The Forward listener's TCP address, when it runs.
    pub fn forward_addr(&self) -> Option<SocketAddr> {
        self.forward.as_ref().and_then(|f| f.tcp.local_addr().ok())
    }

    /// The bound addresses: `(grpc, http)`.
    pub fn addrs(&self) -> std::io::Result<(SocketAddr, SocketAddr)> {
        Ok((self.otlp_grpc.local_addr()?, self.otlp_http.local_addr()?))
    }
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// The ClickHouse client could not be built.
    #[error(transparent)]
    ClickHouse(#[from] ClickHouseError),
    /// The write-ahead log could not be opened.
    #[error(transparent)]
    Wal(#[from] pipeline::WalOpenError),
}

/// A started engine; [`RunningEngine::stop`] shuts it down gracefully.
pub struct RunningEngine {
    engine: Arc<Engine>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    drain: Duration,
}

impl RunningEngine {
    /// Whether the schema is applied and ClickHouse answers (what `/readyz` reports).
    pub fn is_ready(&self) -> bool {
        self.engine.is_ready()
    }

    /// Stops accepting, flushes everything buffered (within the shutdown deadline) and waits
    /// for open requests to get their answers.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.engine.pipeline.close(self.drain).await;
        self.tasks.close();
        if tokio::time::timeout(self.drain, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("listeners did not drain before the shutdown deadline");
        }
    }
}

/// Starts the engine on `listeners`: opens the WAL (replaying what ClickHouse has not
/// confirmed), applies the schema — in the background while ClickHouse does not answer; exports
/// are then taken into the WAL (or, with the WAL off, refused with 503) — and serves.
pub async fn start(config: Config, listeners: Listeners) -> Result<RunningEngine, StartError> {
    let static_keys =
        auth::Keys::from_config(&config).map_err(|e| StartError::Config(e.to_string()))?;
    let from_database = config.keys.from_database();
    // With a database, requests wait (503) for its first load rather than meet a partial store.
    let keys = auth::KeyStore::new(static_keys.clone(), !from_database);
    let forward_keys = auth::ForwardKeys::parse(
        &config.forward.shared_keys.0,
        &config.forward.users.0,
        &config.forward.key_login_shared_key.0,
    )
    .map_err(|e| StartError::Config(e.to_string()))?;
    let forward_tls = match config.forward.tls() {
        true => Some(
            forward::tls::acceptor(
                std::path::Path::new(config.forward.tls_cert_file.trim()),
                std::path::Path::new(config.forward.tls_key_file.trim()),
            )
            .map_err(|e| StartError::Config(e.to_string()))?,
        ),
        false => None,
    };
    if !from_database && keys.is_empty() {
        tracing::warn!("no ingest tokens configured: every export will be refused with 401");
    }
    let client = ClickHouse::new(&config.clickhouse)?;
    let telemetry = Arc::new(Telemetry::new());
    let pipeline = Pipeline::start(client.clone(), &config, telemetry.clone())?;
    let engine = Arc::new(Engine {
        keys,
        pipeline,
        telemetry,
        decoders: tokio::sync::Semaphore::new(match config.limits.decode_threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }),
        limits: config.limits.clone(),
        monitors: config.monitors.clone(),
        compression: config.clickhouse.compression,
        schema_ready: AtomicBool::new(false),
    });
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();

    if from_database {
        tasks.spawn(auth::key_sync::run(
            engine.keys.clone(),
            config.keys.clone(),
            static_keys,
            shutdown.clone(),
        ));
    }

    let database = config.clickhouse.database.clone();
    let retention = config.clickhouse.retention_days;
    if !apply_schema(&engine, &client, &database, retention).await {
        let (engine, shutdown) = (engine.clone(), shutdown.clone());
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
                if apply_schema(&engine, &client, &database, retention).await {
                    return;
                }
            }
        });
    }

    let drain = Duration::from_millis(config.limits.shutdown_timeout_ms);
    let grpc = server::routes::grpc(engine.clone());
    let http = server::routes::http(engine.clone());
    let limits = config.limits.clone();
    tasks.spawn(server::serve(
        "otlp-grpc",
        listeners.otlp_grpc,
        grpc,
        limits.clone(),
        shutdown.clone(),
        drain,
    ));
    tasks.spawn(server::serve(
        "otlp-http",
        listeners.otlp_http,
        http.clone(),
        limits.clone(),
        shutdown.clone(),
        drain,
    ));
    if let Some(sockets) = listeners.forward {
        tasks.spawn(forward::serve(
            sockets,
            engine.clone(),
            config.forward.clone(),
            config.limits.clone(),
            forward_keys,
            forward_tls,
            shutdown.clone(),
        ));
    }
    if let Some(listener) = listeners.http {
        tasks.spawn(server::serve(
            "http",
            listener,
            http,
            limits,
            shutdown.clone(),
            drain,
        ));
    }
    Ok(RunningEngine {
        engine,
        shutdown,
        tasks,
        drain,
    })
}

async fn apply_schema(
    engine: &Engine,
    client: &ClickHouse,
    database: &str,
    retention: u32,
) -> bool {
    match storage::schema::ensure(client, database, retention).await {
        Ok(caps) => {
            tracing::info!(version = ?caps.version, database, "clickhouse schema ready");
            engine.telemetry.set_clickhouse_ok(true);
            engine
                .pipeline
                .dedup_tokens
                .store(caps.dedup_token, Ordering::Release);
            engine.schema_ready.store(true, Ordering::Release);
            true
        }
        Err(error) => {
            tracing::warn!(%error, "clickhouse schema not applied yet; retrying");
            engine.telemetry.set_clickhouse_ok(false);
            false
        }
    }
}
