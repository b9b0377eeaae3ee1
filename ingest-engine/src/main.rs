//! `vigil-ingest`: loads the configuration, binds the listeners and runs the engine until
//! SIGTERM or Ctrl-C, then shuts down gracefully.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use ingest_engine::config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

// Request bodies and batches are large, short-lived buffers: glibc's malloc maps and unmaps them
// (a page fault per 4 KiB, every time); jemalloc keeps freed pages for a while and reuses them.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Vigil's telemetry ingest engine.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration file; `VIGIL_*` environment variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = Config::load(args.config.as_deref())?;
    let filter = EnvFilter::try_from_env("VIGIL_LOG")
        // PostgreSQL's notices ("already exists, skipping" from idempotent migrations) are
        // not news.
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"));
    match config.log_format {
        // Colours only on a terminal: journald, `docker logs` and files get plain text.
        LogFormat::Text => tracing_subscriber::fmt()
            .with_ansi(std::io::stdout().is_terminal())
            .with_env_filter(filter)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init(),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vigil-ingest")
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(run(config))
}

async fn run(config: Config) -> anyhow::Result<()> {
    tracing::info!(?config, "starting vigil-ingest");
    let listeners = ingest_engine::Listeners::bind(&config)
        .await
        .context("binding listeners")?;
    let (grpc, http) = listeners.addrs()?;
    let engine = ingest_engine::start(config, listeners).await?;
    tracing::info!(%grpc, %http, "vigil-ingest listening (OTLP/gRPC, OTLP/HTTP)");
    shutdown_signal().await;
    tracing::info!("shutting down: flushing buffered data");
    engine.stop().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM; use Ctrl-C");
                    let _ignored = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ignored = ctrl_c.await;
    }
}
