//! Public status pages under `/status/{slug}` (and at `/` of a host a page claims): the page,
//! its incidents and history, feeds, badges, a widget and the Statuspage-compatible JSON API,
//! all served from the page's in-memory snapshot (`cache.rs`) with ETag/304 and short
//! caching. Private pages ask for their password (a signed cookie after it) or a project
//! member's session, for every one of those. Requests are limited per client address.

mod access;
mod badges;
pub(crate) mod build;
pub(crate) mod cache;
mod feeds;
pub(crate) mod html;
pub(crate) mod model;
mod rate;
mod statuspage_api;
mod subscription;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use uuid::Uuid;

use crate::api::AppState;
use crate::error::ApiError;
use cache::Snapshot;

use cache::Snapshots;
use rate::RateLimiter;

/// What the status pages' handlers share: the app's state, the snapshots and the per-address
/// request bound.
#[derive(Clone)]
pub struct StatusPages {
    app: AppState,
    status_pages: Arc<Snapshots>,
    status_limiter: Arc<RateLimiter>,
}

impl std::ops::Deref for StatusPages {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.app
    }
}

impl StatusPages {
    /// The status pages of `app`, with their tasks following changes (until the runtime ends
    /// or the handles are aborted).
    pub fn start(app: AppState) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let config = &app.config;
        let pages = Self {
            status_pages: Arc::new(Snapshots::new(std::time::Duration::from_secs(
                config.status_snapshot_max_age_secs.max(1),
            ))),
            status_limiter: Arc::new(RateLimiter::new(config.status_rate_per_minute)),
            app,
        };
        let tasks = vec![
            tokio::spawn(cache::follow(
                pages.status_pages.clone(),
                pages.app.project_changes.clone(),
            )),
            tokio::spawn(cache::follow_directory(
                pages.app.pool.clone(),
                pages.status_pages.clone(),
            )),
        ];
        (pages, tasks)
    }
}

/// Strict: nothing from another origin, no script at all, forms post back here only.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";
/// The widget is made to be framed by any site.
const WIDGET_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'";

/// What a snapshot-backed response may be cached for (seconds): a change shows within it.
const MAX_AGE_SECS: u32 = 2;

/// The status pages' routes.
pub fn router(state: StatusPages) -> Router {
    let timeout = std::time::Duration::from_millis(state.config.request_timeout_ms);
    Router::new()
        .route("/status/{slug}", get(page))
        .route("/status/{slug}/", get(page))
        .route("/status/{slug}/incidents/{incident_id}", get(incident))
        .route("/status/{slug}/history", get(history))
        .route("/status/{slug}/theme.css", get(theme))
        .route("/status/{slug}/logo", get(logo))
        .route("/status/{slug}/login", post(access::login))
        .route("/status/{slug}/subscribe", post(subscription::subscribe))
        .route(
            "/status/{slug}/subscription/confirm",
            get(subscription::confirm_form).post(subscription::confirm),
        )
        .route(
            "/status/{slug}/subscription/unsubscribe",
            get(subscription::unsubscribe_form).post(subscription::unsubscribe),
        )
        .route("/status/{slug}/feed.rss", get(feeds::rss))
        .route("/status/{slug}/feed.atom", get(feeds::atom))
        .route("/status/{slug}/badge.svg", get(badges::overall))
        .route(
            "/status/{slug}/badges/{resource_id}/{kind}",
            get(badges::resource),
        )
        .route("/status/{slug}/widget", get(badges::widget))
        .route(
            "/status/{slug}/api/v2/{*document}",
            get(statuspage_api::document),
        )
        .layer(axum::middleware::from_fn_with_state(state.clone(), limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Requests per client address are bounded (`status_rate_per_minute`): 429 with Retry-After
/// over it.
async fn limit(
    State(state): State<StatusPages>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    match state.status_limiter.admit(peer.ip()) {
        Ok(()) => next.run(request).await,
        Err(retry_after) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after.to_string())],
            "too many requests: try again later\n",
        )
            .into_response(),
    }
}

/// Serves a host a status page claims: its paths are that page's (`/` is the page), except
/// the shared assets and paths already under `/status/{slug}`. Wraps the whole app, so the
/// path is rewritten before routing.
pub async fn by_host(
    State(state): State<StatusPages>,
    mut request: Request,
    next: Next,
) -> Response {
    if state.status_pages.has_hosts() {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| {
                // `host:port`, or `[v6]:port`: the name before the port.
                let name = if h.starts_with('[') {
                    h.split(']').next().map_or(h, |n| n.trim_start_matches('['))
                } else {
                    h.rsplit_once(':').map_or(h, |(name, _)| name)
                };
                name.trim_end_matches('.').to_ascii_lowercase()
            });
        if let Some(host) = host
            && let Some(slug) = state.status_pages.slug_of_host(&state, &host).await
        {
            let base = format!("/status/{slug}");
            let path = request.uri().path();
            let own = path == base || path.starts_with(&format!("{base}/"));
            if !own && !path.starts_with("/assets/") {
                let rewritten = match request.uri().query() {
                    Some(query) => format!("{base}{path}?{query}"),
                    None => format!("{base}{path}"),
                };
                match rewritten.parse::<Uri>() {
                    Ok(uri) => *request.uri_mut() = uri,
                    Err(_) => return StatusCode::BAD_REQUEST.into_response(),
                }
            }
        }
    }
    next.run(request).await
}

/// The snapshot of the page at `slug`, or the response that refuses it (404, 503).
async fn snapshot(state: &StatusPages, slug: &str) -> Result<Arc<Snapshot>, Response> {
    match state.status_pages.by_slug(state, slug).await {
        Ok(Some(snapshot)) => Ok(snapshot),
        Ok(None) => Err(not_found()),
        Err(ApiError::NotFound(_)) => Err(not_found()),
        Err(error) => {
            let (status, message) = error.for_people();
            let mut response = (status, format!("{message}\n")).into_response();
            if status == StatusCode::SERVICE_UNAVAILABLE {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Err(response)
        }
    }
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!doctype html><title>Not found</title><h1>No such status page</h1>\n",
    )
        .into_response()
}

/// The snapshot, when the caller may read it; else the refusal (a password form for pages
/// read in a browser, 401 for the rest).
async fn readable(
    state: &StatusPages,
    slug: &str,
    parts: &Parts,
    html: bool,
) -> Result<Arc<Snapshot>, Response> {
    let snapshot = snapshot(state, slug).await?;
    access::admit(state, &snapshot, parts, html).await?;
    Ok(snapshot)
}

/// Whether the client takes gzip.
fn takes_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| p.replace(' ', "") == "q=0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// A body with its validator: 304 when the client has it, gzipped when it takes it.
fn cached(
    headers: &HeaderMap,
    snapshot: &Snapshot,
    content_type: &'static str,
    body: Bytes,
    gzipped: Option<Bytes>,
    etag: String,
) -> Response {
    let gzip = gzipped.filter(|_| takes_gzip(headers));
    let etag = match gzip {
        Some(_) => format!("{}-gz\"", etag.trim_end_matches('"')),
        None => etag,
    };
    let private = snapshot.model.page.visibility != crate::api::status_pages::Visibility::Public;
    let cache_control = if private {
        format!("private, max-age={MAX_AGE_SECS}")
    } else {
        format!("public, max-age={MAX_AGE_SECS}")
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(Body::from(gzip.clone().unwrap_or(body)));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if gzip.is_some() {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    };
    let h = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&cache_control) {
        h.insert(header::CACHE_CONTROL, value);
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Encoding, Cookie"),
    );
    if snapshot.stale {
        h.insert("x-vigil-stale", HeaderValue::from_static("true"));
    }
    response
}

/// A body rendered per request from the snapshot (incident pages, feeds, JSON): its ETag is
/// its own bytes'.
fn rendered(
    headers: &HeaderMap,
    snapshot: &Snapshot,
    content_type: &'static str,
    body: String,
) -> Response {
    let etag = cache::etag(body.as_bytes());
    cached(
        headers,
        snapshot,
        content_type,
        Bytes::from(body),
        None,
        etag,
    )
}

fn failed(error: ApiError) -> Response {
    let (status, message) = error.for_people();
    (status, format!("{message}\n")).into_response()
}

const HTML: &str = "text/html; charset=utf-8";

async fn page(
    State(state): State<StatusPages>,
    Path(slug): Path<String>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    match readable(&state, &slug, &parts, true).await {
        Ok(snapshot) => cached(
            &parts.headers,
            &snapshot,
            HTML,
            snapshot.html.clone(),
            Some(snapshot.html_gzip.clone()),
            snapshot.etag.clone(),
        ),
        Err(refusal) => refusal,
    }
}

async fn incident(
    State(state): State<StatusPages>,
    Path((slug, incident_id)): Path<(String, String)>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let snapshot = match readable(&state, &slug, &parts, true).await {
        Ok(snapshot) => snapshot,
        Err(refusal) => return refusal,
    };
    let Ok(id) = incident_id.parse::<Uuid>() else {
        return not_found();
    };
    match html::incident_html(&snapshot.model, id) {
        Some(Ok(body)) => rendered(&parts.headers, &snapshot, HTML, body),
        Some(Err(error)) => failed(error),
        None => not_found(),
    }
}

async fn history(
    State(state): State<StatusPages>,
    Path(slug): Path<String>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    match readable(&state, &slug, &parts, true).await {
        Ok(snapshot) => match html::history_html(&snapshot.model) {
            Ok(body) => rendered(&parts.headers, &snapshot, HTML, body),
            Err(error) => failed(error),
        },
        Err(refusal) => refusal,
    }
}

/// The page's brand colour as a stylesheet (the CSP allows no inline style).
async fn theme(State(state): State<StatusPages>, Path(slug): Path<String>) -> Response {
    match snapshot(&state, &slug).await {
        Ok(snapshot) => (
            [
                (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            format!(
                ":root {{ --brand: {}; }}\n",
                snapshot.model.page.brand_color
            ),
        )
            .into_response(),
        Err(refusal) => refusal,
    }
}

/// The page's logo, read when asked (it is not part of the snapshot).
async fn logo(
    State(state): State<StatusPages>,
    Path(slug): Path<String>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let snapshot = match readable(&state, &slug, &parts, false).await {
        Ok(snapshot) => snapshot,
        Err(refusal) => return refusal,
    };
    let row: Result<Option<(Vec<u8>, String)>, sqlx::Error> = sqlx::query_as(
        "SELECT logo, logo_type FROM status_pages WHERE id = $1 AND logo IS NOT NULL",
    )
    .bind(snapshot.model.page.id)
    .fetch_optional(&state.pool)
    .await;
    match row {
        Ok(Some((bytes, content_type))) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=300".to_owned()),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => failed(error.into()),
    }
}

/// Where a browser goes after entering a page's password.
fn back_to(slug: &str) -> Response {
    Redirect::to(&format!("/status/{slug}")).into_response()
}
