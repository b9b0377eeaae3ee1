//! The public side of an incident: updates written for status-page readers (apart from the
//! internal notes of its timeline), and whether status pages show it at all.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::owned::require_row;
use super::{AppState, Body};
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};

/// What the public is told an incident's state is (Statuspage's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PublicStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl PublicStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PublicStatus::Investigating => "investigating",
            PublicStatus::Identified => "identified",
            PublicStatus::Monitoring => "monitoring",
            PublicStatus::Resolved => "resolved",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "investigating" => PublicStatus::Investigating,
            "identified" => PublicStatus::Identified,
            "monitoring" => PublicStatus::Monitoring,
            "resolved" => PublicStatus::Resolved,
            _ => return None,
        })
    }
}

/// An update for the public.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PublicUpdate {
    pub id: Uuid,
    pub status: PublicStatus,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A new public update.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPublicUpdate {
    pub status: PublicStatus,
    /// 1 to 10000 characters.
    pub body: String,
}

/// Whether status pages show an incident.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Visibility {
    pub hidden_from_status_pages: bool,
}

/// Posts a public update on an incident.
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/incidents/{incident_id}/public-updates",
    tag = "incidents", params(("project_id" = Uuid, Path), ("incident_id" = Uuid, Path)),
    request_body = NewPublicUpdate,
    responses((status = 201, body = PublicUpdate), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, incident_id)): Path<(Uuid, Uuid)>,
    Body(new): Body<NewPublicUpdate>,
) -> Result<(StatusCode, Json<PublicUpdate>), ApiError> {
    let update = post_update(&state.pool, &caller, project_id, incident_id, new).await?;
    Ok((StatusCode::CREATED, Json(update)))
}

/// Posts a public update on an incident (members).
pub(crate) async fn post_update(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    incident_id: Uuid,
    new: NewPublicUpdate,
) -> Result<PublicUpdate, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let body = new.body.trim();
    if body.is_empty() || body.chars().count() > 10_000 {
        return Err(ApiError::BadRequest(
            "an update has 1 to 10000 characters".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    require_row(
        &mut *tx,
        "incidents",
        project_id,
        incident_id,
        "incident",
        false,
    )
    .await?;
    let (id, created_at): (Uuid, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO incident_public_updates (id, incident_id, project_id, status, body, \
         created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at",
    )
    .bind(Uuid::new_v4())
    .bind(incident_id)
    .bind(project_id)
    .bind(new.status.as_str())
    .bind(body)
    .bind(caller.user().ok())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(PublicUpdate {
        id,
        status: new.status,
        body: body.to_owned(),
        created_at,
    })
}

/// An incident's public updates, oldest first.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/incidents/{incident_id}/public-updates",
    tag = "incidents", params(("project_id" = Uuid, Path), ("incident_id" = Uuid, Path)),
    responses((status = 200, body = Vec<PublicUpdate>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, incident_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<Vec<PublicUpdate>>, ApiError> {
    Ok(Json(
        updates_of(&state.pool, &caller, project_id, incident_id).await?,
    ))
}

/// An incident's public updates, oldest first, at most 1000 (members and viewers).
pub(crate) async fn updates_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    incident_id: Uuid,
) -> Result<Vec<PublicUpdate>, ApiError> {
    caller.role_in(pool, project_id).await?;
    require_row(
        pool,
        "incidents",
        project_id,
        incident_id,
        "incident",
        false,
    )
    .await?;
    let rows: Vec<(Uuid, String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, status, body, created_at FROM incident_public_updates \
         WHERE incident_id = $1 ORDER BY created_at, id LIMIT 1000",
    )
    .bind(incident_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(id, status, body, created_at)| {
            Ok(PublicUpdate {
                id,
                status: PublicStatus::parse(&status)
                    .ok_or_else(|| ApiError::Internal(format!("public status {status:?}")))?,
                body,
                created_at,
            })
        })
        .collect()
}

/// Shows an incident on status pages, or hides it.
#[utoipa::path(put, path = "/api/v1/projects/{project_id}/incidents/{incident_id}/visibility",
    tag = "incidents", params(("project_id" = Uuid, Path), ("incident_id" = Uuid, Path)),
    request_body = Visibility,
    responses((status = 200, body = Visibility), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn put_visibility(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, incident_id)): Path<(Uuid, Uuid)>,
    Body(visibility): Body<Visibility>,
) -> Result<Json<Visibility>, ApiError> {
    set_visibility(&state.pool, &caller, project_id, incident_id, &visibility).await?;
    Ok(Json(visibility))
}

/// Shows an incident on status pages, or hides it (members).
pub(crate) async fn set_visibility(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    incident_id: Uuid,
    visibility: &Visibility,
) -> Result<(), ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let done = sqlx::query(
        "UPDATE incidents SET hidden_from_status_pages = $3 WHERE project_id = $1 AND id = $2",
    )
    .bind(project_id)
    .bind(incident_id)
    .bind(visibility.hidden_from_status_pages)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("incident"));
    }
    Ok(())
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(put_visibility))
}
