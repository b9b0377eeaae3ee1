//! Incidents of a project: list, read (with the monitors affected and the timeline), declare by
//! hand, acknowledge, resolve, move to a custom state, add notes; and the project's incident
//! states and severities. Members act on incidents, admins add states and severities.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::owned::check_owned;
use super::{AppState, Body, Page, PageQuery};
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};
use crate::incident::{self, NewIncident, StateKind};

/// A state or severity, as shown on an incident.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Label {
    pub id: Uuid,
    pub name: String,
    pub color: String,
}

/// An incident.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Incident {
    pub id: Uuid,
    /// Per project, from 1.
    pub number: i64,
    pub title: String,
    pub description: String,
    pub state: Label,
    /// `created`, `acknowledged`, `resolved` or `custom`.
    pub state_kind: String,
    pub severity: Label,
    pub monitor_ids: Vec<Uuid>,
    /// The monitor and criterion that opened it; absent when declared by hand.
    pub source_monitor_id: Option<Uuid>,
    pub source_criterion: Option<String>,
    pub declared_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Who acknowledged it (an account id).
    pub acknowledged_by: Option<Uuid>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Kept off every status page.
    pub hidden_from_status_pages: bool,
}

/// An incident with its timeline, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IncidentDetail {
    #[serde(flatten)]
    pub incident: Incident,
    pub timeline: Vec<TimelineItem>,
}

/// A state change or a note.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TimelineItem {
    pub at: DateTime<Utc>,
    /// `state` or `note`.
    pub kind: String,
    pub state: Option<String>,
    pub note: Option<String>,
    pub user_id: Option<Uuid>,
}

/// A hand-declared incident.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewIncidentBody {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub severity_id: Uuid,
    #[serde(default)]
    pub monitor_ids: Vec<Uuid>,
}

/// A move to another state (a custom one, or a built-in one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateMove {
    pub state_id: Uuid,
}

/// A note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteBody {
    /// 1 to 10000 characters.
    pub note: String,
}

/// `?open=` of the incident list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct IncidentFilter {
    /// Only unresolved (`true`) or only resolved (`false`) incidents.
    pub(crate) open: Option<bool>,
    /// Only incidents affecting this monitor.
    pub(crate) monitor_id: Option<Uuid>,
    /// Only incidents of this severity.
    pub(crate) severity_id: Option<Uuid>,
}

const SELECT: &str = "SELECT i.id, i.number, i.title, i.description, st.id, st.name, st.color, \
     st.kind, sv.id, sv.name, sv.color, \
     COALESCE((SELECT array_agg(monitor_id ORDER BY monitor_id) FROM incident_monitors \
               WHERE incident_id = i.id), '{}'), \
     i.source_monitor_id, i.source_criterion, i.declared_at, i.acknowledged_at, \
     i.acknowledged_by, i.resolved_at, i.hidden_from_status_pages \
     FROM incidents i JOIN incident_states st ON st.id = i.state_id \
     JOIN incident_severities sv ON sv.id = i.severity_id";

#[derive(sqlx::FromRow)]
struct Row(
    Uuid,
    i64,
    String,
    String,
    Uuid,
    String,
    String,
    String,
    Uuid,
    String,
    String,
    Vec<Uuid>,
    Option<Uuid>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<Uuid>,
    Option<DateTime<Utc>>,
    bool,
);

fn incident(r: Row) -> Incident {
    Incident {
        id: r.0,
        number: r.1,
        title: r.2,
        description: r.3,
        state: Label {
            id: r.4,
            name: r.5,
            color: r.6,
        },
        state_kind: r.7,
        severity: Label {
            id: r.8,
            name: r.9,
            color: r.10,
        },
        monitor_ids: r.11,
        source_monitor_id: r.12,
        source_criterion: r.13,
        declared_at: r.14,
        acknowledged_at: r.15,
        acknowledged_by: r.16,
        resolved_at: r.17,
        hidden_from_status_pages: r.18,
    }
}

async fn fetch(db: &mut PgConnection, project_id: Uuid, id: Uuid) -> Result<Incident, ApiError> {
    let row: Option<Row> =
        sqlx::query_as(&format!("{SELECT} WHERE i.project_id = $1 AND i.id = $2"))
            .bind(project_id)
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(incident(row.ok_or(ApiError::NotFound("incident"))?))
}

/// The project's incidents, newest first.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/incidents", tag = "incidents",
    params(("project_id" = Uuid, Path), IncidentFilter, PageQuery),
    responses((status = 200, body = Page<Incident>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(filter): Query<IncidentFilter>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Incident>>, ApiError> {
    Ok(Json(
        incidents_of(&state.pool, &caller, project_id, &filter, &page).await?,
    ))
}

/// A page of the project's incidents that pass `filter`, newest first (members and viewers).
pub(crate) async fn incidents_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    filter: &IncidentFilter,
    page: &PageQuery,
) -> Result<Page<Incident>, ApiError> {
    caller.role_in(pool, project_id).await?;
    let bounds = page.bounds()?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE i.project_id = $1 AND ($2::boolean IS NULL OR (i.resolved_at IS NULL) = $2) \
         AND ($5::uuid IS NULL OR EXISTS (SELECT 1 FROM incident_monitors im \
              WHERE im.incident_id = i.id AND im.monitor_id = $5)) \
         AND ($6::uuid IS NULL OR i.severity_id = $6) \
         ORDER BY i.declared_at DESC, i.number DESC LIMIT $3 OFFSET $4"
    ))
    .bind(project_id)
    .bind(filter.open)
    .bind(bounds.0 + 1)
    .bind(bounds.1)
    .bind(filter.monitor_id)
    .bind(filter.severity_id)
    .fetch_all(pool)
    .await?;
    Ok(Page::from_rows(
        rows.into_iter().map(incident).collect(),
        bounds,
    ))
}

/// One incident with its timeline.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/incidents/{incident_id}",
    tag = "incidents", params(("project_id" = Uuid, Path), ("incident_id" = Uuid, Path)),
    responses((status = 200, body = IncidentDetail), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, incident_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<IncidentDetail>, ApiError> {
    Ok(Json(
        incident_of(&state.pool, &caller, project_id, incident_id).await?,
    ))
}

/// One incident with its timeline (members and viewers).
pub(crate) async fn incident_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    incident_id: Uuid,
) -> Result<IncidentDetail, ApiError> {
    caller.role_in(pool, project_id).await?;
    let mut db = pool.acquire().await?;
    let incident = fetch(&mut db, project_id, incident_id).await?;
    type T = (
        DateTime<Utc>,
        String,
        Option<String>,
        Option<String>,
        Option<Uuid>,
    );
    let rows: Vec<T> = sqlx::query_as(
        "SELECT t.at, t.kind, s.name, t.note, t.user_id FROM incident_timeline t \
         LEFT JOIN incident_states s ON s.id = t.state_id WHERE t.incident_id = $1 \
         ORDER BY t.at, t.id LIMIT 1000",
    )
    .bind(incident_id)
    .fetch_all(&mut *db)
    .await?;
    let timeline = rows
        .into_iter()
        .map(|(at, kind, state, note, user_id)| TimelineItem {
            at,
            kind,
            state,
            note,
            user_id,
        })
        .collect();
    Ok(IncidentDetail { incident, timeline })
}

/// Declares an incident by hand (members).
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/incidents", tag = "incidents",
    params(("project_id" = Uuid, Path)), request_body = NewIncidentBody,
    responses((status = 201, body = Incident), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Body(new): Body<NewIncidentBody>,
) -> Result<(StatusCode, Json<Incident>), ApiError> {
    let incident = declare(&state.pool, &caller, project_id, new).await?;
    Ok((StatusCode::CREATED, Json(incident)))
}

/// Declares an incident by hand (members).
pub(crate) async fn declare(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    new: NewIncidentBody,
) -> Result<Incident, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let title = new.title.trim();
    if title.is_empty() || title.chars().count() > 200 || new.description.len() > 10_000 {
        return Err(ApiError::BadRequest(
            "a title needs 1 to 200 characters, a description at most 10000 bytes".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    check_owned(
        &mut tx,
        "incident_severities",
        project_id,
        &[new.severity_id],
    )
    .await?;
    check_owned(&mut tx, "monitors", project_id, &new.monitor_ids).await?;
    let id = incident::open(
        &mut tx,
        NewIncident {
            project_id,
            title,
            description: &new.description,
            severity_id: new.severity_id,
            source: None,
            auto_resolve: false,
            created_by: caller.user().ok(),
            monitor_ids: &new.monitor_ids,
            at: Utc::now(),
            cause: None,
        },
    )
    .await?
    .ok_or_else(|| ApiError::Internal("a hand-declared incident was not opened".into()))?;
    let incident = fetch(&mut tx, project_id, id).await?;
    tx.commit().await?;
    Ok(incident)
}

/// Moves an open incident to `kind`'s state, or to `state_id` (members).
pub(crate) async fn transition(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    incident_id: Uuid,
    target: Result<StateKind, Uuid>,
) -> Result<Incident, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let mut tx = pool.begin().await?;
    let current = fetch(&mut tx, project_id, incident_id).await?;
    if current.resolved_at.is_some() {
        return Err(ApiError::Conflict("the incident is resolved".into()));
    }
    let user = caller.user().ok();
    match target {
        Ok(kind) => {
            incident::move_to(&mut tx, project_id, incident_id, kind, user, Utc::now()).await?;
        }
        Err(state_id) => {
            let kind: Option<(String,)> = sqlx::query_as(
                "SELECT kind FROM incident_states WHERE project_id = $1 AND id = $2",
            )
            .bind(project_id)
            .bind(state_id)
            .fetch_optional(&mut *tx)
            .await?;
            let kind = match kind
                .ok_or_else(|| {
                    ApiError::BadRequest("state_id is not one of this project's states".into())
                })?
                .0
                .as_str()
            {
                "created" => Some(StateKind::Created),
                "acknowledged" => Some(StateKind::Acknowledged),
                "resolved" => Some(StateKind::Resolved),
                _ => None,
            };
            incident::set_state(
                &mut tx,
                project_id,
                incident_id,
                state_id,
                kind,
                user,
                Utc::now(),
            )
            .await?;
        }
    }
    let incident = fetch(&mut tx, project_id, incident_id).await?;
    tx.commit().await?;
    Ok(incident)
}

/// Acknowledges an open incident (members); records who did.
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/incidents/{incident_id}/acknowledge",
    tag = "incidents", params(("project_id" = Uuid, Path), ("incident_id" = Uuid, Path)),
    responses((status = 200, body = Incident), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, incident_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<Incident>, ApiError> {
    transition(
        &state.pool,
        &caller,
        project_id,
        incident_id,
        Ok(StateKind::Acknowledged),
    )
    .await
    .map(Json)
}

/// Resolves an open incident (members).
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/incidents/{incident_id}/resolve",
    tag = "incidents", params(("project_id" = Uuid, Path), ("incident_id" = Uuid, Path)),
    responses((status = 200, body = Incident), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub(crate) async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, incident_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<Incident>, ApiError> {
    transition(
        &state.pool,
        &caller,
        project_id,
        incident_id,
        Ok(StateKind::Resolved),
    )
    .await
    .map(Json)
}

/// Moves an open incident to a state of the project (members).
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/incidents/{incident_id}/state",
    tag = "incidents", params(("project_id" = Uuid, Path), ("incident_id" = Uuid, Path)),
    request_body = StateMove,
    responses((status = 200, body = Incident), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn move_state(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, incident_id)): Path<(Uuid, Uuid)>,
    Body(body): Body<StateMove>,
) -> Result<Json<Incident>, ApiError> {
    transition(
        &state.pool,
        &caller,
        project_id,
        incident_id,
        Err(body.state_id),
    )
    .await
    .map(Json)
}

/// Adds a note to an incident's timeline (members).
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/incidents/{incident_id}/notes",
    tag = "incidents", params(("project_id" = Uuid, Path), ("incident_id" = Uuid, Path)),
    request_body = NoteBody,
    responses((status = 201), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn add_note(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, incident_id)): Path<(Uuid, Uuid)>,
    Body(body): Body<NoteBody>,
) -> Result<StatusCode, ApiError> {
    note_on(&state.pool, &caller, project_id, incident_id, &body.note).await?;
    Ok(StatusCode::CREATED)
}

/// Adds a note to an incident's timeline (members).
pub(crate) async fn note_on(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    incident_id: Uuid,
    note: &str,
) -> Result<(), ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 10_000 {
        return Err(ApiError::BadRequest(
            "a note has 1 to 10000 characters".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    fetch(&mut tx, project_id, incident_id).await?;
    incident::add_note(&mut tx, incident_id, note, caller.user().ok()).await?;
    tx.commit().await?;
    Ok(())
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one))
        .routes(routes!(acknowledge))
        .routes(routes!(resolve))
        .routes(routes!(move_state))
        .routes(routes!(add_note))
}
