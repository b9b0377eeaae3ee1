//! Announcements on a status page: a title and a body shown from `starts_at` until `ends_at`
//! (or until removed). Members write them; viewers read them.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::owned::require_row;
use super::{AppState, Body, Page, PageQuery};
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};

/// An announcement.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Announcement {
    pub id: Uuid,
    pub title: String,
    pub body: String,
    pub starts_at: DateTime<Utc>,
    /// Absent: shown until removed.
    pub ends_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A new announcement.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAnnouncement {
    pub title: String,
    #[serde(default)]
    pub body: String,
    /// Now when absent.
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

type Row = (
    Uuid,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
);

fn announcement((id, title, body, starts_at, ends_at, created_at): Row) -> Announcement {
    Announcement {
        id,
        title,
        body,
        starts_at,
        ends_at,
        created_at,
    }
}

const COLUMNS: &str = "id, title, body, starts_at, ends_at, created_at";

/// Posts an announcement on a page.
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/status-pages/{page_id}/announcements",
    tag = "status pages", params(("project_id" = Uuid, Path), ("page_id" = Uuid, Path)),
    request_body = NewAnnouncement,
    responses((status = 201, body = Announcement), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, page_id)): Path<(Uuid, Uuid)>,
    Body(new): Body<NewAnnouncement>,
) -> Result<(StatusCode, Json<Announcement>), ApiError> {
    let made = announce(&state.pool, &caller, project_id, page_id, new).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// Posts an announcement on a page (members).
pub(crate) async fn announce(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page_id: Uuid,
    new: NewAnnouncement,
) -> Result<Announcement, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let title = new.title.trim();
    if title.is_empty() || title.chars().count() > 200 || new.body.chars().count() > 10_000 {
        return Err(ApiError::BadRequest(
            "a title needs 1 to 200 characters and a body at most 10000".into(),
        ));
    }
    let starts_at = new.starts_at.unwrap_or_else(Utc::now);
    if new.ends_at.is_some_and(|end| end <= starts_at) {
        return Err(ApiError::BadRequest("ends_at must follow starts_at".into()));
    }
    let mut tx = pool.begin().await?;
    require_row(
        &mut *tx,
        "status_pages",
        project_id,
        page_id,
        "status page",
        false,
    )
    .await?;
    let row: Row = sqlx::query_as(&format!(
        "INSERT INTO status_page_announcements (id, page_id, project_id, title, body, \
         starts_at, ends_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(page_id)
    .bind(project_id)
    .bind(title)
    .bind(new.body.trim())
    .bind(starts_at)
    .bind(new.ends_at)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(announcement(row))
}

/// A page's announcements, latest first.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/status-pages/{page_id}/announcements",
    tag = "status pages", params(("project_id" = Uuid, Path), ("page_id" = Uuid, Path),
        PageQuery),
    responses((status = 200, body = Page<Announcement>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, page_id)): Path<(Uuid, Uuid)>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Announcement>>, ApiError> {
    Ok(Json(
        announcements_of(&state.pool, &caller, project_id, page_id, &page).await?,
    ))
}

/// A page of a status page's announcements, latest first (members and viewers).
pub(crate) async fn announcements_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page_id: Uuid,
    page: &PageQuery,
) -> Result<Page<Announcement>, ApiError> {
    caller.role_in(pool, project_id).await?;
    require_row(
        pool,
        "status_pages",
        project_id,
        page_id,
        "status page",
        false,
    )
    .await?;
    let bounds = page.bounds()?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM status_page_announcements WHERE page_id = $1 \
         ORDER BY starts_at DESC, id LIMIT $2 OFFSET $3"
    ))
    .bind(page_id)
    .bind(bounds.0 + 1)
    .bind(bounds.1)
    .fetch_all(pool)
    .await?;
    Ok(Page::from_rows(
        rows.into_iter().map(announcement).collect(),
        bounds,
    ))
}

/// Removes an announcement.
#[utoipa::path(delete,
    path = "/api/v1/projects/{project_id}/status-pages/{page_id}/announcements/{announcement_id}",
    tag = "status pages", params(("project_id" = Uuid, Path), ("page_id" = Uuid, Path),
        ("announcement_id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, page_id, announcement_id)): Path<(Uuid, Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    withdraw_announcement(&state.pool, &caller, project_id, page_id, announcement_id).await
}

/// Removes an announcement (members).
pub(crate) async fn withdraw_announcement(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page_id: Uuid,
    announcement_id: Uuid,
) -> Result<StatusCode, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let done = sqlx::query(
        "DELETE FROM status_page_announcements WHERE project_id = $1 AND page_id = $2 AND id = $3",
    )
    .bind(project_id)
    .bind(page_id)
    .bind(announcement_id)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("announcement"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete_one))
}
