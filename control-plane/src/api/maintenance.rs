//! Scheduled maintenance windows of a project: while one is on, the monitors it covers (all of
//! the project's when it names none) change status as usual but open no incidents.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::owned::{check_owned, delete_row};
use super::{AppState, Body, Page, PageQuery, project_page};
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};

/// A maintenance window.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Window {
    pub id: Uuid,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Empty: every monitor of the project.
    pub monitor_ids: Vec<Uuid>,
    /// What status pages tell the public.
    pub description: String,
    /// Whether status pages showing any of its monitors list it.
    pub show_on_status_pages: bool,
    pub created_at: DateTime<Utc>,
}

/// A new maintenance window.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWindow {
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[serde(default)]
    pub monitor_ids: Vec<Uuid>,
    /// What status pages tell the public (at most 10000 characters).
    #[serde(default)]
    pub description: String,
    /// Shown on status pages (default true).
    pub show_on_status_pages: Option<bool>,
}

type Row = (
    Uuid,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    Vec<Uuid>,
    String,
    bool,
    DateTime<Utc>,
);

fn window(
    (id, title, starts_at, ends_at, monitor_ids, description, show_on_status_pages, created_at): Row,
) -> Result<Window, ApiError> {
    Ok(Window {
        id,
        title,
        starts_at,
        ends_at,
        monitor_ids,
        description,
        show_on_status_pages,
        created_at,
    })
}

const COLUMNS: &str =
    "id, title, starts_at, ends_at, monitor_ids, description, show_on_status_pages, created_at";

/// Schedules a window (members).
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/maintenance-windows",
    tag = "monitors", params(("project_id" = Uuid, Path)), request_body = NewWindow,
    responses((status = 201, body = Window), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Body(new): Body<NewWindow>,
) -> Result<(StatusCode, Json<Window>), ApiError> {
    let window = schedule_window(&state.pool, &caller, project_id, new).await?;
    Ok((StatusCode::CREATED, Json(window)))
}

/// Schedules a window (members).
pub(crate) async fn schedule_window(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    new: NewWindow,
) -> Result<Window, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let title = new.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(ApiError::BadRequest(
            "a title needs 1 to 200 characters".into(),
        ));
    }
    if new.ends_at <= new.starts_at || new.monitor_ids.len() > 1000 {
        return Err(ApiError::BadRequest(
            "ends_at must follow starts_at, and at most 1000 monitors".into(),
        ));
    }
    if new.description.chars().count() > 10_000 {
        return Err(ApiError::BadRequest(
            "a description has at most 10000 characters".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    check_owned(&mut tx, "monitors", project_id, &new.monitor_ids).await?;
    let row: Row = sqlx::query_as(&format!(
        "INSERT INTO maintenance_windows (id, project_id, title, starts_at, ends_at, monitor_ids, \
         description, show_on_status_pages) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(project_id)
    .bind(title)
    .bind(new.starts_at)
    .bind(new.ends_at)
    .bind(&new.monitor_ids)
    .bind(new.description.trim())
    .bind(new.show_on_status_pages.unwrap_or(true))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    window(row)
}

/// The project's windows, latest ending first.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/maintenance-windows",
    tag = "monitors", params(("project_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Window>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Window>>, ApiError> {
    Ok(Json(
        windows_of(&state.pool, &caller, project_id, &page).await?,
    ))
}

/// A page of the project's windows, latest ending first (members and viewers).
pub(crate) async fn windows_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page: &PageQuery,
) -> Result<Page<Window>, ApiError> {
    caller.role_in(pool, project_id).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM maintenance_windows WHERE project_id = $1 \
         ORDER BY ends_at DESC, id LIMIT $2 OFFSET $3"
    );
    project_page(pool, &sql, project_id, page, window).await
}

/// Cancels a window (members).
#[utoipa::path(delete, path = "/api/v1/projects/{project_id}/maintenance-windows/{window_id}",
    tag = "monitors", params(("project_id" = Uuid, Path), ("window_id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, window_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    cancel_window(&state.pool, &caller, project_id, window_id).await
}

/// Cancels a window (members).
pub(crate) async fn cancel_window(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    window_id: Uuid,
) -> Result<StatusCode, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    delete_row(
        pool,
        "maintenance_windows",
        project_id,
        window_id,
        "maintenance window",
    )
    .await
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete_one))
}
