//! Vigil's control plane: the `vigil` binary — the REST API under `/api/v1` over
//! PostgreSQL (accounts, projects, keys, monitors, probes, incidents, notification channels),
//! its migrations, and the worker that turns monitor results into statuses, incidents and
//! notifications.

mod access;
pub mod api;
pub mod config;
pub mod db;
pub mod error;
mod incident;
mod login_limit;
pub mod monitor;
pub mod notification;
mod password;
mod search;
mod secret;
pub mod status_page;
pub mod ui;
pub mod worker;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use proto::forwarded::{TrustedProxies, X_FORWARDED_FOR};
use tokio::net::TcpListener;

/// Makes the client's address (`ConnectInfo`) the one a trusted proxy names, for every
/// handler that counts or records addresses.
async fn behind_proxies(
    State(proxies): State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let forwarded = request
            .headers()
            .get(X_FORWARDED_FOR)
            .and_then(|v| v.to_str().ok());
        let client = proxies.client(*peer, forwarded);
        request.extensions_mut().insert(ConnectInfo(client));
    }
    next.run(request).await
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    config: config::Config,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let proxies = proto::forwarded::TrustedProxies::parse(&config.trusted_proxies)
        .map_err(|e| anyhow::anyhow!("VIGIL_TRUSTED_PROXIES: {e}"))?;
    let pool = db::connect(&config).await?;
    db::migrate(&pool).await?;
    let state = api::AppState::new(pool.clone(), config)?;
    let listeners = [
        tokio::spawn(db::follow_assignments(
            pool.clone(),
            state.assignment_changes.clone(),
        )),
        tokio::spawn(db::follow_project_changes(
            pool,
            state.project_changes.clone(),
        )),
    ];
    let (status_pages, status_tasks) = status_page::StatusPages::start(state.clone());
    let stopping = state.shutdown.clone();
    let app = api::router(state.clone())
        .merge(status_page::router(status_pages.clone()))
        .merge(ui::router(state));
    // Around the whole app (an outer router that only falls back to it), so that a custom
    // domain's paths are rewritten before the app routes them.
    let app = axum::Router::new()
        .fallback_service(app)
        .layer(axum::middleware::from_fn_with_state(
            status_pages,
            status_page::by_host,
        ))
        .layer(axum::middleware::from_fn_with_state(
            proxies,
            behind_proxies,
        ));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        // Live pages hold their connections open: end them so the shutdown can finish.
        stopping.cancel();
    })
    .await?;
    for task in listeners.into_iter().chain(status_tasks) {
        task.abort();
    }
    Ok(())
}
