//! A project's monitor statuses — the names and colours criteria set (every project starts
//! with Operational, Degraded and Offline); members read, admins change — and each monitor's
//! status history, its timeline.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::owned::{delete_row, require_row};
use super::{AppState, Body, Page, PageQuery, check_name, project_page};
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};

/// A monitor status.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MonitorStatus {
    pub id: Uuid,
    pub name: String,
    /// `#rrggbb`.
    pub color: String,
    /// Counts as up (uptime).
    pub is_operational: bool,
    /// Counts as down.
    pub is_offline: bool,
    pub position: i32,
}

/// A new status, or changes to one (absent fields stay).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusFields {
    pub name: Option<String>,
    pub color: Option<String>,
    pub is_operational: Option<bool>,
    pub is_offline: Option<bool>,
    pub position: Option<i32>,
}

type Row = (Uuid, String, String, bool, bool, i32);

fn status(
    (id, name, color, is_operational, is_offline, position): Row,
) -> Result<MonitorStatus, ApiError> {
    Ok(MonitorStatus {
        id,
        name,
        color,
        is_operational,
        is_offline,
        position,
    })
}

/// `#rrggbb`, lowercased.
pub(crate) fn check_color(color: &str) -> Result<String, ApiError> {
    let c = color.trim().to_ascii_lowercase();
    let ok = c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|d| d.is_ascii_hexdigit());
    ok.then_some(c)
        .ok_or_else(|| ApiError::BadRequest("a color is #rrggbb".into()))
}

const RETURNING: &str = "RETURNING id, name, color, is_operational, is_offline, position";

/// The project's statuses, in order.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/monitor-statuses", tag = "monitors",
    params(("project_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<MonitorStatus>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<MonitorStatus>>, ApiError> {
    Ok(Json(
        statuses_of(&state.pool, &caller, project_id, &page).await?,
    ))
}

/// The project's statuses in their order (shared by the API and the UI).
pub(crate) async fn statuses_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page: &PageQuery,
) -> Result<Page<MonitorStatus>, ApiError> {
    caller.role_in(pool, project_id).await?;
    let sql = "SELECT id, name, color, is_operational, is_offline, position FROM monitor_statuses \
               WHERE project_id = $1 ORDER BY position, created_at, id LIMIT $2 OFFSET $3";
    project_page(pool, sql, project_id, page, status).await
}

/// Adds a status (admins).
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/monitor-statuses", tag = "monitors",
    params(("project_id" = Uuid, Path)), request_body = StatusFields,
    responses((status = 201, body = MonitorStatus), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Body(new): Body<StatusFields>,
) -> Result<(StatusCode, Json<MonitorStatus>), ApiError> {
    let added = add_status(&state.pool, &caller, project_id, new).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// Adds a status (admins).
pub(crate) async fn add_status(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    new: StatusFields,
) -> Result<MonitorStatus, ApiError> {
    caller.require_in(pool, project_id, Role::Admin).await?;
    let name = check_name(new.name.as_deref().unwrap_or(""))?;
    let color = check_color(new.color.as_deref().unwrap_or(""))?;
    let row: Row = sqlx::query_as(&format!(
        "INSERT INTO monitor_statuses (id, project_id, name, color, is_operational, is_offline, \
         position) VALUES ($1, $2, $3, $4, $5, $6, $7) {RETURNING}"
    ))
    .bind(Uuid::new_v4())
    .bind(project_id)
    .bind(name)
    .bind(color)
    .bind(new.is_operational.unwrap_or(false))
    .bind(new.is_offline.unwrap_or(false))
    .bind(new.position.unwrap_or(0))
    .fetch_one(pool)
    .await?;
    status(row)
}

/// Changes a status (admins).
#[utoipa::path(patch, path = "/api/v1/projects/{project_id}/monitor-statuses/{status_id}",
    tag = "monitors", params(("project_id" = Uuid, Path), ("status_id" = Uuid, Path)),
    request_body = StatusFields,
    responses((status = 200, body = MonitorStatus), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, status_id)): Path<(Uuid, Uuid)>,
    Body(change): Body<StatusFields>,
) -> Result<Json<MonitorStatus>, ApiError> {
    change_status(&state.pool, &caller, project_id, status_id, change)
        .await
        .map(Json)
}

/// Changes a status's name, colour, meaning or place (admins); absent fields stay.
pub(crate) async fn change_status(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    status_id: Uuid,
    change: StatusFields,
) -> Result<MonitorStatus, ApiError> {
    caller.require_in(pool, project_id, Role::Admin).await?;
    let name = change.name.as_deref().map(check_name).transpose()?;
    let color = change.color.as_deref().map(check_color).transpose()?;
    let row: Option<Row> = sqlx::query_as(&format!(
        "UPDATE monitor_statuses SET name = COALESCE($3, name), color = COALESCE($4, color), \
         is_operational = COALESCE($5, is_operational), is_offline = COALESCE($6, is_offline), \
         position = COALESCE($7, position) WHERE project_id = $1 AND id = $2 {RETURNING}"
    ))
    .bind(project_id)
    .bind(status_id)
    .bind(name)
    .bind(color)
    .bind(change.is_operational)
    .bind(change.is_offline)
    .bind(change.position)
    .fetch_optional(pool)
    .await?;
    status(row.ok_or(ApiError::NotFound("status"))?)
}

/// Deletes a status no monitor, criterion or timeline uses (admins); 409 otherwise.
#[utoipa::path(delete, path = "/api/v1/projects/{project_id}/monitor-statuses/{status_id}",
    tag = "monitors", params(("project_id" = Uuid, Path), ("status_id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn delete_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, status_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    caller
        .require_in(&state.pool, project_id, Role::Admin)
        .await?;
    let mut tx = state.pool.begin().await?;
    // Criteria live in JSON, out of reach of foreign keys.
    let (in_criteria,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM monitors m, jsonb_array_elements(m.criteria) c \
         WHERE m.project_id = $1 AND c->>'status_id' = $2::text)",
    )
    .bind(project_id)
    .bind(status_id)
    .fetch_one(&mut *tx)
    .await?;
    if in_criteria {
        return Err(ApiError::Conflict(
            "a monitor's criterion uses this status".into(),
        ));
    }
    let deleted = delete_row(
        &mut *tx,
        "monitor_statuses",
        project_id,
        status_id,
        "status",
    )
    .await?;
    tx.commit().await?;
    Ok(deleted)
}

/// One span of a monitor's status.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TimelineEntry {
    pub status_id: Uuid,
    pub status_name: String,
    pub color: String,
    pub starts_at: DateTime<Utc>,
    /// Absent while current.
    pub ends_at: Option<DateTime<Utc>>,
    /// The criterion that set it, or why it was set.
    pub reason: String,
}

/// A monitor's status history, newest first.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/monitors/{monitor_id}/timeline",
    tag = "monitors",
    params(("project_id" = Uuid, Path), ("monitor_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<TimelineEntry>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, monitor_id)): Path<(Uuid, Uuid)>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<TimelineEntry>>, ApiError> {
    Ok(Json(
        timeline_of(&state.pool, &caller, project_id, monitor_id, &page).await?,
    ))
}

/// A page of a monitor's status history, newest first (members and viewers).
pub(crate) async fn timeline_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    monitor_id: Uuid,
    page: &PageQuery,
) -> Result<Page<TimelineEntry>, ApiError> {
    caller.role_in(pool, project_id).await?;
    let bounds = page.bounds()?;
    require_row(pool, "monitors", project_id, monitor_id, "monitor", false).await?;
    type Row = (
        Uuid,
        String,
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        String,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT t.status_id, s.name, s.color, t.starts_at, t.ends_at, t.reason \
         FROM monitor_status_timeline t JOIN monitor_statuses s ON s.id = t.status_id \
         WHERE t.project_id = $1 AND t.monitor_id = $2 \
         ORDER BY t.starts_at DESC, t.id LIMIT $3 OFFSET $4",
    )
    .bind(project_id)
    .bind(monitor_id)
    .bind(bounds.0 + 1)
    .bind(bounds.1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .into_iter()
        .map(
            |(status_id, status_name, color, starts_at, ends_at, reason)| TimelineEntry {
                status_id,
                status_name,
                color,
                starts_at,
                ends_at,
                reason,
            },
        )
        .collect();
    Ok(Page::from_rows(items, bounds))
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(timeline))
        .routes(routes!(list, create))
        .routes(routes!(change, delete_one))
}
