//! Probes: registered per project (the key is shown once), listed with their version and last
//! contact, assigned monitors; and the endpoint probes poll for their assignments. That call
//! long-polls: given the version it holds, it answers when the assignments change (a trigger
//! sends NOTIFY `vigil_assignments`, the API's listener wakes the waiting requests) or after
//! `wait` seconds, so changes reach probes within moments.

use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::owned::{check_owned, delete_row, require_row};
use super::{AppState, Body, Page, PageQuery, check_name, project_page};
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};
use crate::monitor::MonitorKind;
use crate::secret;

/// A probe.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Probe {
    pub id: Uuid,
    pub name: String,
    /// The first characters of its key.
    pub hint: String,
    /// The version the probe reported on its last call.
    pub version: Option<String>,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Heard from within the worker's `probe_offline_secs`.
    pub is_online: bool,
    pub monitor_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A new probe.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewProbe {
    pub name: String,
}

/// A probe just registered, with its key: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RegisteredProbe {
    pub probe: Probe,
    /// The probe sends `Authorization: Bearer <key>`.
    pub key: String,
}

/// The monitors a probe checks.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Assignment {
    pub monitor_ids: Vec<Uuid>,
}

/// One monitor as a probe needs it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssignedMonitor {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub kind: MonitorKind,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    pub interval_secs: i32,
    pub timeout_ms: i32,
    pub retries: i32,
}

/// A probe's assignments.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Assignments {
    pub probe_id: Uuid,
    /// Send it back as `version` to wait for the next change.
    pub version: String,
    pub monitors: Vec<AssignedMonitor>,
}

/// `?version=&wait=` of the assignment poll.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Poll {
    /// The version the probe holds; absent: answer at once.
    version: Option<String>,
    /// Seconds to wait for a change when `version` is current, 0 to 25 (default 20; under
    /// the API's request timeout).
    #[param(minimum = 0, maximum = 25)]
    wait: Option<u64>,
}

const COLUMNS: &str = "id, name, hint, version, last_seen_at, is_online, \
     COALESCE((SELECT array_agg(monitor_id ORDER BY monitor_id) FROM monitor_probes mp \
        WHERE mp.probe_id = probes.id), '{}'), created_at";

type ProbeRow = (
    Uuid,
    String,
    String,
    Option<String>,
    Option<DateTime<Utc>>,
    bool,
    Vec<Uuid>,
    DateTime<Utc>,
);

fn probe(r: ProbeRow) -> Result<Probe, ApiError> {
    Ok(Probe {
        id: r.0,
        name: r.1,
        hint: r.2,
        version: r.3,
        last_seen_at: r.4,
        is_online: r.5,
        monitor_ids: r.6,
        created_at: r.7,
    })
}

async fn fetch(state: &AppState, project_id: Uuid, id: Uuid) -> Result<Probe, ApiError> {
    let row: Option<ProbeRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM probes WHERE project_id = $1 AND id = $2"
    ))
    .bind(project_id)
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    probe(row.ok_or(ApiError::NotFound("probe"))?)
}

/// Registers a probe (admins).
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/probes", tag = "probes",
    params(("project_id" = Uuid, Path)), request_body = NewProbe,
    responses((status = 201, body = RegisteredProbe), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Body(new): Body<NewProbe>,
) -> Result<(StatusCode, Json<RegisteredProbe>), ApiError> {
    let registered = register_probe(&state, &caller, project_id, &new.name).await?;
    Ok((StatusCode::CREATED, Json(registered)))
}

/// Registers a probe (admins); its key is in the answer, once.
pub(crate) async fn register_probe(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    name: &str,
) -> Result<RegisteredProbe, ApiError> {
    caller
        .require_in(&state.pool, project_id, Role::Admin)
        .await?;
    let name = check_name(name)?;
    let key = secret::generate(secret::PROBE_KEY)?;
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO probes (id, project_id, name, digest, hint) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(project_id)
    .bind(name)
    .bind(secret::digest(&key))
    .bind(secret::hint(&key))
    .execute(&state.pool)
    .await?;
    let probe = fetch(state, project_id, id).await?;
    Ok(RegisteredProbe { probe, key })
}

/// The project's probes.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/probes", tag = "probes",
    params(("project_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Probe>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Probe>>, ApiError> {
    Ok(Json(
        probes_of(&state.pool, &caller, project_id, &page).await?,
    ))
}

/// A page of the project's probes, oldest first (members and viewers).
pub(crate) async fn probes_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page: &PageQuery,
) -> Result<Page<Probe>, ApiError> {
    caller.role_in(pool, project_id).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM probes WHERE project_id = $1 ORDER BY created_at, id \
         LIMIT $2 OFFSET $3"
    );
    project_page(pool, &sql, project_id, page, probe).await
}

/// Deletes a probe (admins); its key stops working at once.
#[utoipa::path(delete, path = "/api/v1/projects/{project_id}/probes/{probe_id}", tag = "probes",
    params(("project_id" = Uuid, Path), ("probe_id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, probe_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    caller
        .require_in(&state.pool, project_id, Role::Admin)
        .await?;
    delete_row(&state.pool, "probes", project_id, probe_id, "probe").await
}

/// Sets the monitors a probe checks (members); monitors' agreement settings still hold.
#[utoipa::path(put, path = "/api/v1/projects/{project_id}/probes/{probe_id}/monitors",
    tag = "probes", params(("project_id" = Uuid, Path), ("probe_id" = Uuid, Path)),
    request_body = Assignment,
    responses((status = 200, body = Probe), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, probe_id)): Path<(Uuid, Uuid)>,
    Body(body): Body<Assignment>,
) -> Result<Json<Probe>, ApiError> {
    caller
        .require_in(&state.pool, project_id, Role::Member)
        .await?;
    let mut tx = state.pool.begin().await?;
    require_row(&mut *tx, "probes", project_id, probe_id, "probe", true).await?;
    check_owned(&mut tx, "monitors", project_id, &body.monitor_ids).await?;
    let (push,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM monitors WHERE id = ANY($1) AND kind IN ('heartbeat', 'server'))",
    )
    .bind(&body.monitor_ids)
    .fetch_one(&mut *tx)
    .await?;
    if push {
        return Err(ApiError::BadRequest(
            "heartbeat and server monitors are not checked by probes".into(),
        ));
    }
    sqlx::query("DELETE FROM monitor_probes WHERE probe_id = $1 AND NOT (monitor_id = ANY($2))")
        .bind(probe_id)
        .bind(&body.monitor_ids)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO monitor_probes (monitor_id, probe_id, project_id) \
         SELECT m, $1, $3 FROM unnest($2::uuid[]) m ON CONFLICT DO NOTHING",
    )
    .bind(probe_id)
    .bind(&body.monitor_ids)
    .bind(project_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    fetch(&state, project_id, probe_id).await.map(Json)
}

/// A probe authenticated by its key (`Authorization: Bearer vpk_…`).
pub(crate) struct ProbeCaller {
    id: Uuid,
}

impl FromRequestParts<AppState> for ProbeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthenticated)?;
        let version: Option<String> = parts
            .headers
            .get("x-vigil-probe-version")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(64).collect());
        // Each call is a sign of life.
        let row: Option<(Uuid,)> = sqlx::query_as(
            "UPDATE probes SET last_seen_at = now(), is_online = true, \
             version = COALESCE($2, version) WHERE digest = $1 RETURNING id",
        )
        .bind(secret::digest(key.trim()))
        .bind(version)
        .fetch_optional(&state.pool)
        .await?;
        let (id,) = row.ok_or(ApiError::Unauthenticated)?;
        Ok(ProbeCaller { id })
    }
}

type AssignedRow = (Uuid, Uuid, String, String, serde_json::Value, i32, i32, i32);

async fn assignments(state: &AppState, probe_id: Uuid) -> Result<Assignments, ApiError> {
    let rows: Vec<AssignedRow> = sqlx::query_as(
        "SELECT m.id, m.project_id, m.name, m.kind, m.settings, m.interval_secs, m.timeout_ms, \
         m.retries FROM monitor_probes mp JOIN monitors m ON m.id = mp.monitor_id \
         WHERE mp.probe_id = $1 AND m.enabled ORDER BY m.id",
    )
    .bind(probe_id)
    .fetch_all(&state.pool)
    .await?;
    let mut monitors = Vec::with_capacity(rows.len());
    for (id, project_id, name, kind, settings, interval_secs, timeout_ms, retries) in rows {
        let kind = MonitorKind::parse(&kind)
            .ok_or_else(|| ApiError::Internal(format!("unknown monitor kind {kind:?}")))?;
        monitors.push(AssignedMonitor {
            id,
            project_id,
            name,
            kind,
            settings,
            interval_secs,
            timeout_ms,
            retries,
        });
    }
    let encoded = serde_json::to_vec(&monitors).map_err(|e| ApiError::Internal(e.to_string()))?;
    let version = Sha256::digest(&encoded)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Assignments {
        probe_id,
        version,
        monitors,
    })
}

/// The calling probe's assignments; with `version` current, waits up to `wait` seconds for a
/// change.
#[utoipa::path(get, path = "/api/v1/probe/assignments", tag = "probes", params(Poll),
    security(("api_key" = [])),
    responses((status = 200, body = Assignments), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub(crate) async fn poll(
    State(state): State<AppState>,
    caller: ProbeCaller,
    Query(poll): Query<Poll>,
) -> Result<Json<Assignments>, ApiError> {
    let wait = poll.wait.unwrap_or(20);
    if wait > 25 {
        return Err(ApiError::BadRequest("wait is 0 to 25 seconds".into()));
    }
    // Subscribed before reading, so a change made in between is not missed.
    let mut changes = state.assignment_changes.subscribe();
    let current = assignments(&state, caller.id).await?;
    if poll.version.as_deref() != Some(current.version.as_str()) || wait == 0 {
        return Ok(Json(current));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {
                let next = assignments(&state, caller.id).await?;
                if next.version != current.version {
                    return Ok(Json(next));
                }
            }
            // Timed out, or the listener is gone: answer with what is current.
            _ => return Ok(Json(current)),
        }
    }
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, register))
        .routes(routes!(delete_one))
        .routes(routes!(assign))
        .routes(routes!(poll))
}
