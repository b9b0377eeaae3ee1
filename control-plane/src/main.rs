//! `vigil`: the control plane. `vigil migrate` applies the PostgreSQL migrations; `vigil serve`
//! applies them too and serves the API, and `vigil worker` runs the worker, until SIGTERM or
//! Ctrl-C.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use control_plane::config::Config;
use tracing_subscriber::EnvFilter;

// The worker allocates a little per stream entry, row and query, at tens of thousands per
// second; jemalloc does that with far less CPU than glibc's allocator.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Vigil's control plane.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration file; `VIGIL_*` environment variables override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the REST API (applying pending migrations first).
    Serve,
    /// Runs the worker: monitor streams, criteria, incidents, notifications, periodic jobs.
    Worker,
    /// Applies pending PostgreSQL migrations and exits.
    Migrate,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = Config::load(args.config.as_deref())?;
    let filter = EnvFilter::try_from_env("VIGIL_LOG")
        // PostgreSQL's notices ("already exists, skipping" from idempotent migrations) are
        // not news.
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"));
    // Colours only on a terminal: journald, `docker logs` and files get plain text.
    tracing_subscriber::fmt()
        .with_ansi(std::io::stdout().is_terminal())
        .with_env_filter(filter)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vigil")
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(async move {
        match args.command {
            Command::Migrate => {
                let pool = control_plane::db::connect(&config)
                    .await
                    .context("connecting to PostgreSQL")?;
                control_plane::db::migrate(&pool)
                    .await
                    .context("applying migrations")?;
                tracing::info!("migrations applied");
                Ok(())
            }
            Command::Worker => {
                tracing::info!(?config, "starting vigil worker");
                control_plane::worker::run(config, shutdown_signal()).await
            }
            Command::Serve => {
                tracing::info!(?config, "starting vigil serve");
                let listener = tokio::net::TcpListener::bind(config.addr)
                    .await
                    .with_context(|| format!("binding {}", config.addr))?;
                tracing::info!(addr = %listener.local_addr()?, "vigil API listening");
                control_plane::serve(config, listener, shutdown_signal()).await
            }
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
