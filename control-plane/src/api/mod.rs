//! The REST API under `/api/v1`: the router, its shared state, the JSON body extractor with
//! errors in the API's shape, pagination, and the OpenAPI document generated from the handlers.

pub(crate) mod accounts;
pub(crate) mod announcements;
pub(crate) mod channels;
pub(crate) mod exceptions;
pub(crate) mod explorer_read;
pub(crate) mod incident_levels;
pub(crate) mod incident_updates;
pub(crate) mod incidents;
pub(crate) mod invitations;
pub(crate) mod keys;
pub(crate) mod log_tail;
pub(crate) mod logs;
pub(crate) mod maintenance;
pub(crate) mod metrics;
pub(crate) mod monitor_history;
mod monitor_rules;
pub(crate) mod monitors;
mod owned;
pub(crate) mod probes;
pub(crate) mod projects;
mod status_page_checks;
pub(crate) mod status_page_layout;
mod status_page_logo;
pub(crate) mod status_pages;
pub(crate) mod statuses;
pub(crate) mod subscribers;
pub(crate) mod telemetry;
pub(crate) mod traces;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef, FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tower_http::timeout::TimeoutLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::login_limit::LoginLimiter;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub(crate) pool: PgPool,
    pub(crate) config: Arc<Config>,
    pub(crate) limiter: Arc<LoginLimiter>,
    /// Bumped whenever probe assignments change (NOTIFY `vigil_assignments`); waiting
    /// assignment polls wake on it.
    pub(crate) assignment_changes: Arc<tokio::sync::watch::Sender<u64>>,
    /// Where monitor results are read from (the worker's ClickHouse settings).
    pub(crate) clickhouse: storage::client::ClickHouse,
    /// Projects whose monitors or incidents changed (NOTIFY `vigil_project_changes`): live
    /// pages subscribe.
    pub(crate) project_changes: tokio::sync::broadcast::Sender<crate::db::ProjectChange>,
    /// Bounds the live pages open at once (`max_live_pages`).
    pub(crate) live_pages: Arc<tokio::sync::Semaphore>,
    /// Cancelled when the server shuts down: live pages end so the shutdown does not wait on
    /// them.
    pub(crate) shutdown: tokio_util::sync::CancellationToken,
}

impl FromRef<AppState> for PgPool {
    fn from_ref(state: &AppState) -> PgPool {
        state.pool.clone()
    }
}

impl AppState {
    pub fn new(pool: PgPool, config: Config) -> anyhow::Result<Self> {
        let limiter = LoginLimiter::new(
            config.login_max_failures,
            Duration::from_secs(config.login_window_secs),
        );
        let clickhouse = config.worker.clickhouse()?;
        let live_pages = Arc::new(tokio::sync::Semaphore::new(config.max_live_pages));
        Ok(Self {
            pool,
            project_changes: tokio::sync::broadcast::Sender::new(256),
            live_pages,
            shutdown: tokio_util::sync::CancellationToken::new(),
            config: Arc::new(config),
            limiter: Arc::new(limiter),
            assignment_changes: Arc::new(tokio::sync::watch::Sender::new(0)),
            clickhouse,
        })
    }
}

/// A JSON request body; a malformed one is a 400 in the API's error shape, an oversize one 413
/// and one without a JSON content type 415.
pub(crate) struct Body<T>(pub(crate) T);

impl<T> FromRequest<AppState> for Body<T>
where
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::PayloadTooLarge(state.config.max_body_bytes)
                }
                StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                    ApiError::UnsupportedMediaType(rejection.body_text())
                }
                _ => ApiError::BadRequest(rejection.body_text()),
            }),
        }
    }
}

/// The largest `offset` (deeper pages are not useful, and the sums stay far from overflow).
const MAX_OFFSET: i64 = 1_000_000;

/// `?limit=&offset=` of a list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub(crate) limit: Option<i64>,
    /// Items to skip, 0 to 1000000 (default 0).
    #[param(minimum = 0, maximum = 1000000)]
    pub(crate) offset: Option<i64>,
}

impl PageQuery {
    /// The first `limit` items.
    pub(crate) fn first(limit: i64) -> Self {
        Self {
            limit: Some(limit),
            offset: None,
        }
    }

    /// `(limit, offset)`, checked; the query asks one more row to know whether a page follows.
    pub(crate) fn bounds(&self) -> Result<(i64, i64), ApiError> {
        let limit = self.limit.unwrap_or(50);
        let offset = self.offset.unwrap_or(0);
        if !(1..=200).contains(&limit) || !(0..=MAX_OFFSET).contains(&offset) {
            return Err(ApiError::BadRequest(format!(
                "limit must be 1 to 200 and offset 0 to {MAX_OFFSET}"
            )));
        }
        Ok((limit, offset))
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The offset of the next page; absent on the last.
    pub next_offset: Option<i64>,
}

impl<T> Page<T> {
    /// A page from rows fetched with `LIMIT limit + 1 OFFSET offset`.
    pub(crate) fn from_rows(mut rows: Vec<T>, (limit, offset): (i64, i64)) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        Page {
            items: rows,
            next_offset: more.then_some(offset + limit),
        }
    }
}

/// One page of a project's objects: `sql` selects with `$1` the project and ends with
/// `LIMIT $2 OFFSET $3`; each row becomes an item through `item`.
pub(crate) async fn project_page<R, T>(
    pool: &PgPool,
    sql: &str,
    project_id: uuid::Uuid,
    page: &PageQuery,
    item: impl Fn(R) -> Result<T, ApiError>,
) -> Result<Page<T>, ApiError>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let bounds = page.bounds()?;
    let rows: Vec<R> = sqlx::query_as(sql)
        .bind(project_id)
        .bind(bounds.0 + 1)
        .bind(bounds.1)
        .fetch_all(pool)
        .await?;
    let items = rows.into_iter().map(item).collect::<Result<_, _>>()?;
    Ok(Page::from_rows(items, bounds))
}

/// Names and lengths of things people type.
pub(crate) fn check_name(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "a name needs 1 to 100 characters, none of them control characters".into(),
        ));
    }
    Ok(name)
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::access::SESSION_COOKIE,
            ))),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Documents, on every operation, the errors any request can meet whatever its handler does
/// (the framework's own refusals, put in the API's shape by `error::conform`): a malformed
/// parameter (400), a body too large (413) or not JSON (415) where there is a body, and an
/// overloaded or timed-out server (503).
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let mut common = vec![
                    ("400", "malformed request"),
                    ("503", "unavailable or timed out; retry after Retry-After"),
                ];
                if operation.request_body.is_some() {
                    common.push(("413", "request body too large"));
                    common.push(("415", "request body is not JSON"));
                }
                for (status, description) in common {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error(description).into());
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Vigil API", description = "Accounts, projects, keys, monitors, probes, incidents and notifications of a Vigil instance."),
    components(schemas(ErrorBody, ErrorDetail, crate::access::Role)),
    security(("session" = []), ("api_key" = [])),
)]
struct ApiDoc;

/// Every route of the API and its OpenAPI document, from one list: each resource's file
/// registers its handlers once, and `routes!` takes each one's method, path and operation
/// from its `#[utoipa::path]`.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(accounts::routes())
        .merge(invitations::routes())
        .merge(projects::routes())
        .merge(keys::routes())
        .merge(monitors::routes())
        .merge(statuses::routes())
        .merge(incidents::routes())
        .merge(incident_levels::routes())
        .merge(channels::routes())
        .merge(probes::routes())
        .merge(maintenance::routes())
        .merge(monitor_history::routes())
        .merge(telemetry::routes())
        .merge(status_pages::routes())
        .merge(status_page_layout::routes())
        .merge(status_page_logo::routes())
        .merge(announcements::routes())
        .merge(incident_updates::routes())
        .merge(subscribers::routes())
        .merge(logs::routes())
        .merge(log_tail::routes())
        .merge(traces::routes())
        .merge(metrics::routes())
        .merge(exceptions::routes())
        .split_for_parts();
    // The modifiers see every operation only once the routes are merged.
    Security.modify(&mut doc);
    CommonErrors.modify(&mut doc);
    (router, doc)
}

/// The OpenAPI document, as served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// `GET /readyz`: 200 when PostgreSQL answers within 2 s, else 503 (taken out of rotation).
async fn ready(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (StatusCode, &'static str) {
    let ping = sqlx::query("SELECT 1").execute(&state.pool);
    match tokio::time::timeout(Duration::from_secs(2), ping).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "postgresql unreachable\n"),
    }
}

/// Every route of the API. Paths nobody serves are answered by the UI's fallback (a JSON
/// `not_found` under `/api/`, a page elsewhere).
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    let (routes, doc) = api();
    // Serialised once: the document does not change while the process runs.
    let doc: Arc<str> = match serde_json::to_string(&doc) {
        Ok(json) => Arc::from(json),
        Err(e) => {
            tracing::error!(error = %e, "the OpenAPI document cannot be serialised");
            Arc::from("{}")
        }
    };
    routes
        // For load balancers and Kubernetes: alive, and able to answer (PostgreSQL reachable).
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { ([(CONTENT_TYPE, "application/json")], doc.to_string()) }
            }),
        )
        .layer(DefaultBodyLimit::max(max_body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_millis(state.config.request_timeout_ms),
        ))
        .layer(axum::middleware::map_response_with_state(
            max_body,
            crate::error::conform,
        ))
        .with_state(state)
}
