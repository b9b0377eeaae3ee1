//! `vigil-probe`: configured by `VIGIL_PROBE_*` environment variables; runs until SIGTERM or
//! Ctrl-C.

use std::io::{IsTerminal, Write};

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("-h" | "--help") => {
            std::io::stdout().write_all(probe::config::USAGE.as_bytes())?;
            return Ok(());
        }
        Some("-V" | "--version") => {
            writeln!(
                std::io::stdout(),
                "vigil-probe {}",
                env!("CARGO_PKG_VERSION")
            )?;
            return Ok(());
        }
        Some(other) => {
            anyhow::bail!("unknown argument {other:?}\n\n{}", probe::config::USAGE)
        }
    }
    let config = probe::Config::from_env().map_err(anyhow::Error::msg)?;
    let filter = EnvFilter::try_from_env("VIGIL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: journald, `docker logs` and files get plain text.
    tracing_subscriber::fmt()
        .with_ansi(std::io::stdout().is_terminal())
        .with_env_filter(filter)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vigil-probe")
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(async move {
        tracing::info!(?config, "starting vigil-probe");
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::warn!(error = %e, "cannot listen for Ctrl-C");
                return;
            }
            stop.cancel();
        });
        #[cfg(unix)]
        {
            let stop = shutdown.clone();
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .context("listening for SIGTERM")?;
            tokio::spawn(async move {
                term.recv().await;
                stop.cancel();
            });
        }
        probe::run(config, shutdown)
            .await
            .map(|_| ())
            .map_err(anyhow::Error::msg)
    })
}
