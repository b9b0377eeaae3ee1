//! Monitors of a project: create, list, read, change, delete, and replace their push keys
//! (heartbeat and server monitors, shown once). Members write, viewers read. The rules their
//! fields obey are in `monitor_rules.rs`; their status timeline in `statuses.rs`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::monitor_rules::{
    check_agreement, check_criteria, check_numbers, default_criteria, push_key, set_probes,
    status_flagged,
};
use super::owned::{check_owned, delete_row, require_row};
use super::{AppState, Body, Page, PageQuery, check_name, project_page};
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};
use crate::monitor::criteria::Criterion;
use crate::monitor::{MonitorKind, check_settings, settings_schema};

/// A monitor.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Monitor {
    pub id: Uuid,
    pub name: String,
    pub kind: MonitorKind,
    /// What to check, by kind: `http` `{url, follow_redirects, allow_self_signed}`; `api` also
    /// `{method, headers, body}`; `tcp` `{host, port}`; `ssl` `{host, port}`; `ping`
    /// `{host, count}`; `dns` `{name, record_type, resolver}`; `heartbeat`, `server` `{}`;
    /// `logs`, `traces` `{query, measure, window_secs}`; `metrics` `{metric, service, measure,
    /// window_secs}`.
    #[schema(schema_with = settings_schema)]
    pub settings: serde_json::Value,
    pub interval_secs: i32,
    pub timeout_ms: i32,
    pub retries: i32,
    pub min_probe_agreement: i32,
    pub criteria: Vec<Criterion>,
    pub default_status_id: Uuid,
    pub current_status_id: Uuid,
    pub status_since: DateTime<Utc>,
    pub enabled: bool,
    pub probe_ids: Vec<Uuid>,
    /// Heartbeat and server monitors: the first characters of the push key.
    pub key_hint: Option<String>,
    /// When the latest result was judged; absent until the first one: the monitor's status is
    /// not known yet (`current_status_id` is then the status it starts in).
    pub last_result_at: Option<DateTime<Utc>>,
    pub last_push_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new monitor. Without `criteria` it gets one: offline (and, for websites and APIs, a 5xx
/// answer; for logs, traces and metrics monitors, a value above 0) → the Offline status and a
/// Critical incident, resolved on recovery.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewMonitor {
    pub name: String,
    pub kind: MonitorKind,
    #[schema(schema_with = settings_schema)]
    #[serde(default)]
    pub settings: serde_json::Value,
    /// Seconds between checks (or expected between pushes), 10 to 86400; default 60.
    pub interval_secs: Option<i32>,
    /// 100 to 60000; default 10000.
    pub timeout_ms: Option<i32>,
    /// 0 to 5; default 0.
    pub retries: Option<i32>,
    /// How many assigned probes must agree before the status changes; default 1.
    pub min_probe_agreement: Option<i32>,
    pub criteria: Option<Vec<Criterion>>,
    /// Default: the project's operational status.
    pub default_status_id: Option<Uuid>,
    pub enabled: Option<bool>,
    #[serde(default)]
    pub probe_ids: Vec<Uuid>,
}

/// Changes to a monitor; absent fields stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MonitorChange {
    pub name: Option<String>,
    #[schema(schema_with = settings_schema)]
    pub settings: Option<serde_json::Value>,
    pub interval_secs: Option<i32>,
    pub timeout_ms: Option<i32>,
    pub retries: Option<i32>,
    pub min_probe_agreement: Option<i32>,
    pub criteria: Option<Vec<Criterion>>,
    pub default_status_id: Option<Uuid>,
    pub enabled: Option<bool>,
    pub probe_ids: Option<Vec<Uuid>>,
}

/// A monitor just created (or its key rotated): push monitors get their key, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedMonitor {
    pub monitor: Monitor,
    /// Heartbeat: send requests to `/heartbeat/<key>`; server: the agent's secret key.
    pub key: Option<String>,
}

const COLUMNS: &str = "id, name, kind, settings, interval_secs, timeout_ms, retries, \
     min_probe_agreement, criteria, default_status_id, current_status_id, status_since, enabled, \
     COALESCE((SELECT array_agg(probe_id ORDER BY probe_id) FROM monitor_probes mp \
        WHERE mp.monitor_id = monitors.id), '{}') AS probe_ids, \
     key_hint, last_result_at, last_push_at, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct MonitorRow {
    id: Uuid,
    name: String,
    kind: String,
    settings: serde_json::Value,
    interval_secs: i32,
    timeout_ms: i32,
    retries: i32,
    min_probe_agreement: i32,
    criteria: sqlx::types::Json<Vec<Criterion>>,
    default_status_id: Uuid,
    current_status_id: Uuid,
    status_since: DateTime<Utc>,
    enabled: bool,
    probe_ids: Vec<Uuid>,
    key_hint: Option<String>,
    last_result_at: Option<DateTime<Utc>>,
    last_push_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn monitor(r: MonitorRow) -> Result<Monitor, ApiError> {
    Ok(Monitor {
        id: r.id,
        name: r.name,
        kind: MonitorKind::parse(&r.kind)
            .ok_or_else(|| ApiError::Internal(format!("unknown monitor kind {:?}", r.kind)))?,
        settings: r.settings,
        interval_secs: r.interval_secs,
        timeout_ms: r.timeout_ms,
        retries: r.retries,
        min_probe_agreement: r.min_probe_agreement,
        criteria: r.criteria.0,
        default_status_id: r.default_status_id,
        current_status_id: r.current_status_id,
        status_since: r.status_since,
        enabled: r.enabled,
        probe_ids: r.probe_ids,
        key_hint: r.key_hint,
        last_result_at: r.last_result_at,
        last_push_at: r.last_push_at,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

async fn fetch(
    db: &mut PgConnection,
    project_id: Uuid,
    monitor_id: Uuid,
) -> Result<Monitor, ApiError> {
    let row: Option<MonitorRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM monitors WHERE project_id = $1 AND id = $2"
    ))
    .bind(project_id)
    .bind(monitor_id)
    .fetch_optional(db)
    .await?;
    monitor(row.ok_or(ApiError::NotFound("monitor"))?)
}

/// Creates a monitor (members).
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/monitors", tag = "monitors",
    params(("project_id" = Uuid, Path)), request_body = NewMonitor,
    responses((status = 201, body = CreatedMonitor), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Body(new): Body<NewMonitor>,
) -> Result<(StatusCode, Json<CreatedMonitor>), ApiError> {
    let created = create_monitor(&state.pool, &caller, project_id, new).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Creates a monitor (members): the rule the API and the UI share.
pub(crate) async fn create_monitor(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    new: NewMonitor,
) -> Result<CreatedMonitor, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let name = check_name(&new.name)?;
    let settings =
        check_settings(new.kind, new.settings).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (interval, timeout) = (
        new.interval_secs.unwrap_or(60),
        new.timeout_ms.unwrap_or(10_000),
    );
    let (retries, agreement) = (
        new.retries.unwrap_or(0),
        new.min_probe_agreement.unwrap_or(1),
    );
    check_numbers(interval, timeout, retries, agreement)?;
    let mut tx = pool.begin().await?;
    let criteria = match new.criteria {
        Some(c) => c,
        None => default_criteria(&mut tx, project_id, name, new.kind).await?,
    };
    check_criteria(&mut tx, project_id, &criteria).await?;
    let default_status = match new.default_status_id {
        Some(id) => {
            check_owned(&mut tx, "monitor_statuses", project_id, &[id]).await?;
            id
        }
        None => status_flagged(&mut tx, project_id, "is_operational").await?,
    };
    check_agreement(new.kind, agreement, new.probe_ids.len())?;
    let key = push_key(new.kind)?;
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO monitors (id, project_id, name, kind, settings, interval_secs, timeout_ms, \
         retries, min_probe_agreement, criteria, default_status_id, current_status_id, enabled, \
         key_digest, key_hint) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14)",
    )
    .bind(id)
    .bind(project_id)
    .bind(name)
    .bind(new.kind.as_str())
    .bind(&settings)
    .bind(interval)
    .bind(timeout)
    .bind(retries)
    .bind(agreement)
    .bind(sqlx::types::Json(&criteria))
    .bind(default_status)
    .bind(new.enabled.unwrap_or(true))
    .bind(key.as_ref().map(|k| &k.1))
    .bind(key.as_ref().map(|k| &k.2))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO monitor_status_timeline (id, project_id, monitor_id, status_id, starts_at, \
         reason) VALUES ($1, $2, $3, $4, now(), 'created')",
    )
    .bind(Uuid::new_v4())
    .bind(project_id)
    .bind(id)
    .bind(default_status)
    .execute(&mut *tx)
    .await?;
    set_probes(&mut tx, project_id, id, &new.probe_ids).await?;
    let monitor = fetch(&mut tx, project_id, id).await?;
    tx.commit().await?;
    Ok(CreatedMonitor {
        monitor,
        key: key.map(|k| k.0),
    })
}

/// The project's monitors, oldest first.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/monitors", tag = "monitors",
    params(("project_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Monitor>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Monitor>>, ApiError> {
    caller.role_in(&state.pool, project_id).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM monitors WHERE project_id = $1 ORDER BY created_at, id \
         LIMIT $2 OFFSET $3"
    );
    Ok(Json(
        project_page(&state.pool, &sql, project_id, &page, monitor).await?,
    ))
}

/// Which of a project's monitors a list shows.
#[derive(Debug, Default)]
pub(crate) struct MonitorFilter {
    pub(crate) status_id: Option<Uuid>,
    pub(crate) kind: Option<MonitorKind>,
    /// Part of the name, any case.
    pub(crate) text: Option<String>,
}

/// A page of the project's monitors that pass `filter`, oldest first (members and viewers;
/// shared by the UI's list, which must stay fast at thousands of monitors: one indexed query
/// per page).
pub(crate) async fn monitors_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    filter: &MonitorFilter,
    page: &PageQuery,
) -> Result<Page<Monitor>, ApiError> {
    caller.role_in(pool, project_id).await?;
    let (limit, offset) = page.bounds()?;
    // The typed text is a value, never SQL; LIKE's own wildcards in it are escaped.
    let pattern = filter.text.as_deref().map(|t| {
        let escaped = t
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let rows: Vec<MonitorRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM monitors WHERE project_id = $1 \
         AND ($4::uuid IS NULL OR current_status_id = $4) \
         AND ($5::text IS NULL OR kind = $5) \
         AND ($6::text IS NULL OR name ILIKE $6) \
         ORDER BY created_at, id LIMIT $2 OFFSET $3"
    ))
    .bind(project_id)
    .bind(limit + 1)
    .bind(offset)
    .bind(filter.status_id)
    .bind(filter.kind.map(MonitorKind::as_str))
    .bind(pattern)
    .fetch_all(pool)
    .await?;
    let items = rows.into_iter().map(monitor).collect::<Result<_, _>>()?;
    Ok(Page::from_rows(items, (limit, offset)))
}

/// The names of the project's monitors among `ids`, by name (members and viewers).
pub(crate) async fn monitor_names(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, ApiError> {
    caller.role_in(pool, project_id).await?;
    Ok(sqlx::query_as(
        "SELECT id, name FROM monitors WHERE project_id = $1 AND id = ANY($2) ORDER BY name",
    )
    .bind(project_id)
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

/// One monitor.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/monitors/{monitor_id}",
    tag = "monitors", params(("project_id" = Uuid, Path), ("monitor_id" = Uuid, Path)),
    responses((status = 200, body = Monitor), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, monitor_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<Monitor>, ApiError> {
    Ok(Json(
        monitor_of(&state.pool, &caller, project_id, monitor_id).await?,
    ))
}

/// One of the project's monitors (members and viewers).
pub(crate) async fn monitor_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    monitor_id: Uuid,
) -> Result<Monitor, ApiError> {
    caller.role_in(pool, project_id).await?;
    let mut db = pool.acquire().await?;
    fetch(&mut db, project_id, monitor_id).await
}

/// Changes a monitor (members). The kind cannot change.
#[utoipa::path(patch, path = "/api/v1/projects/{project_id}/monitors/{monitor_id}",
    tag = "monitors", params(("project_id" = Uuid, Path), ("monitor_id" = Uuid, Path)),
    request_body = MonitorChange,
    responses((status = 200, body = Monitor), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, monitor_id)): Path<(Uuid, Uuid)>,
    Body(change): Body<MonitorChange>,
) -> Result<Json<Monitor>, ApiError> {
    Ok(Json(
        change_monitor(&state.pool, &caller, project_id, monitor_id, change).await?,
    ))
}

/// Changes a monitor (members); absent fields stay.
pub(crate) async fn change_monitor(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    monitor_id: Uuid,
    change: MonitorChange,
) -> Result<Monitor, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let mut tx = pool.begin().await?;
    // Locked: concurrent changes apply one after the other.
    require_row(
        &mut *tx, "monitors", project_id, monitor_id, "monitor", true,
    )
    .await?;
    let old = fetch(&mut tx, project_id, monitor_id).await?;
    let name = match &change.name {
        Some(n) => check_name(n)?.to_owned(),
        None => old.name.clone(),
    };
    let settings = match change.settings {
        Some(s) => check_settings(old.kind, s).map_err(|e| ApiError::BadRequest(e.to_string()))?,
        None => old.settings.clone(),
    };
    let interval = change.interval_secs.unwrap_or(old.interval_secs);
    let timeout = change.timeout_ms.unwrap_or(old.timeout_ms);
    let retries = change.retries.unwrap_or(old.retries);
    let agreement = change
        .min_probe_agreement
        .unwrap_or(old.min_probe_agreement);
    check_numbers(interval, timeout, retries, agreement)?;
    let criteria = change.criteria.unwrap_or(old.criteria);
    check_criteria(&mut tx, project_id, &criteria).await?;
    let default_status = change.default_status_id.unwrap_or(old.default_status_id);
    check_owned(&mut tx, "monitor_statuses", project_id, &[default_status]).await?;
    let probes = change.probe_ids.unwrap_or(old.probe_ids);
    check_agreement(old.kind, agreement, probes.len())?;
    sqlx::query(
        "UPDATE monitors SET name = $3, settings = $4, interval_secs = $5, timeout_ms = $6, \
         retries = $7, min_probe_agreement = $8, criteria = $9, default_status_id = $10, \
         enabled = $11, updated_at = now() WHERE project_id = $1 AND id = $2",
    )
    .bind(project_id)
    .bind(monitor_id)
    .bind(&name)
    .bind(&settings)
    .bind(interval)
    .bind(timeout)
    .bind(retries)
    .bind(agreement)
    .bind(sqlx::types::Json(&criteria))
    .bind(default_status)
    .bind(change.enabled.unwrap_or(old.enabled))
    .execute(&mut *tx)
    .await?;
    set_probes(&mut tx, project_id, monitor_id, &probes).await?;
    let monitor = fetch(&mut tx, project_id, monitor_id).await?;
    tx.commit().await?;
    Ok(monitor)
}

/// Deletes a monitor (members); its push key stops working at once.
#[utoipa::path(delete, path = "/api/v1/projects/{project_id}/monitors/{monitor_id}",
    tag = "monitors", params(("project_id" = Uuid, Path), ("monitor_id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, monitor_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    delete_monitor(&state.pool, &caller, project_id, monitor_id).await
}

/// Deletes a monitor (members).
pub(crate) async fn delete_monitor(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    monitor_id: Uuid,
) -> Result<StatusCode, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    delete_row(pool, "monitors", project_id, monitor_id, "monitor").await
}

/// Replaces a push monitor's key (members); the old key stops working at once.
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/monitors/{monitor_id}/key",
    tag = "monitors", params(("project_id" = Uuid, Path), ("monitor_id" = Uuid, Path)),
    responses((status = 200, body = CreatedMonitor), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, monitor_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<CreatedMonitor>, ApiError> {
    caller
        .require_in(&state.pool, project_id, Role::Member)
        .await?;
    let mut tx = state.pool.begin().await?;
    let kind = fetch(&mut tx, project_id, monitor_id).await?.kind;
    let (key, digest, hint) = push_key(kind)?.ok_or_else(|| {
        ApiError::BadRequest("only heartbeat and server monitors have keys".into())
    })?;
    sqlx::query(
        "UPDATE monitors SET key_digest = $3, key_hint = $4, updated_at = now() \
         WHERE project_id = $1 AND id = $2",
    )
    .bind(project_id)
    .bind(monitor_id)
    .bind(digest)
    .bind(hint)
    .execute(&mut *tx)
    .await?;
    let monitor = fetch(&mut tx, project_id, monitor_id).await?;
    tx.commit().await?;
    Ok(Json(CreatedMonitor {
        monitor,
        key: Some(key),
    }))
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one, change, delete_one))
        .routes(routes!(rotate_key))
}
