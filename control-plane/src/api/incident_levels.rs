//! A project's incident states (created, acknowledged, resolved, and custom ones) and
//! severities: listed by anyone in the project, added by admins.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::statuses::check_color;
use super::{AppState, Body, Page, PageQuery, check_name};
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};

/// A project's incident state or severity.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Level {
    pub id: Uuid,
    pub name: String,
    pub color: String,
    /// States only: `created`, `acknowledged`, `resolved` or `custom`.
    pub kind: Option<String>,
    pub position: i32,
}

/// A new custom state or severity.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewLevel {
    pub name: String,
    pub color: String,
    pub position: Option<i32>,
}

type LevelRow = (Uuid, String, String, Option<String>, i32);

fn level((id, name, color, kind, position): LevelRow) -> Result<Level, ApiError> {
    Ok(Level {
        id,
        name,
        color,
        kind,
        position,
    })
}

/// The project's incident states, in order.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/incident-states", tag = "incidents",
    params(("project_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Level>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn states(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Level>>, ApiError> {
    Ok(Json(
        levels_of(&state.pool, &caller, project_id, LevelKind::State, &page).await?,
    ))
}

/// The project's incident severities, most severe first.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/incident-severities",
    tag = "incidents", params(("project_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Level>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn severities(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Level>>, ApiError> {
    Ok(Json(
        levels_of(&state.pool, &caller, project_id, LevelKind::Severity, &page).await?,
    ))
}

/// Incident states or severities.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LevelKind {
    State,
    Severity,
}

/// A page of the project's incident states or severities, in order (members and viewers).
pub(crate) async fn levels_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    kind: LevelKind,
    page: &PageQuery,
) -> Result<Page<Level>, ApiError> {
    caller.role_in(pool, project_id).await?;
    let sql = match kind {
        LevelKind::State => {
            "SELECT id, name, color, kind, position FROM incident_states WHERE project_id = $1 \
             ORDER BY position, name LIMIT $2 OFFSET $3"
        }
        LevelKind::Severity => {
            "SELECT id, name, color, NULL::text, position FROM incident_severities \
             WHERE project_id = $1 ORDER BY position, name LIMIT $2 OFFSET $3"
        }
    };
    super::project_page(pool, sql, project_id, page, level).await
}

/// Adds a custom incident state or a severity (admins).
pub(crate) async fn add_level(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    new: NewLevel,
    kind: LevelKind,
) -> Result<Level, ApiError> {
    caller.require_in(pool, project_id, Role::Admin).await?;
    let table = match kind {
        LevelKind::State => "incident_states",
        LevelKind::Severity => "incident_severities",
    };
    let name = check_name(&new.name)?;
    let color = check_color(&new.color)?;
    let (kind_column, kind_value) = match table {
        "incident_states" => (", kind", ", 'custom'"),
        _ => ("", ""),
    };
    let kind_out = if kind_column.is_empty() {
        "NULL::text"
    } else {
        "kind"
    };
    let row: LevelRow = sqlx::query_as(&format!(
        "INSERT INTO {table} (id, project_id, name, color, position{kind_column}) \
         VALUES ($1, $2, $3, $4, $5{kind_value}) RETURNING id, name, color, {kind_out}, position"
    ))
    .bind(Uuid::new_v4())
    .bind(project_id)
    .bind(name)
    .bind(color)
    .bind(new.position.unwrap_or(10))
    .fetch_one(pool)
    .await?;
    level(row)
}

/// Adds a custom incident state (admins).
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/incident-states", tag = "incidents",
    params(("project_id" = Uuid, Path)), request_body = NewLevel,
    responses((status = 201, body = Level), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn add_state(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Body(new): Body<NewLevel>,
) -> Result<(StatusCode, Json<Level>), ApiError> {
    let added = add_level(&state.pool, &caller, project_id, new, LevelKind::State).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// Adds an incident severity (admins).
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/incident-severities",
    tag = "incidents", params(("project_id" = Uuid, Path)), request_body = NewLevel,
    responses((status = 201, body = Level), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn add_severity(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Body(new): Body<NewLevel>,
) -> Result<(StatusCode, Json<Level>), ApiError> {
    let added = add_level(&state.pool, &caller, project_id, new, LevelKind::Severity).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(states, add_state))
        .routes(routes!(severities, add_severity))
}
