//! Monitors of a project: create, list, read, change, delete; their push keys (heartbeat and
//! server monitors, shown once); their status timeline. Members write, viewers read.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AppState, Body, Page, PageQuery, check_name, project_page};
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};
use crate::monitor::criteria::{self, Check, Criterion, Filter, IncidentTemplate, Matching, Op};
use crate::monitor::{MonitorKind, check_settings};
use crate::secret;

/// A monitor.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Monitor {
    pub id: Uuid,
    pub name: String,
    pub kind: MonitorKind,
    /// What to check, by kind: `http` `{url, follow_redirects, allow_self_signed}`; `api` also
    /// `{method, headers, body}`; `tcp` `{host, port}`; `ssl` `{host, port}`; `ping`
    /// `{host, count}`; `dns` `{name, record_type, resolver}`; `heartbeat`, `server` `{}`.
    #[schema(value_type = Object)]
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
    pub last_push_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new monitor. Without `criteria` it gets one: offline (and, for websites and APIs, a 5xx
/// answer) → the Offline status and a Critical incident, resolved on recovery.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewMonitor {
    pub name: String,
    pub kind: MonitorKind,
    #[schema(value_type = Object)]
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
    #[schema(value_type = Option<Object>)]
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

const COLUMNS: &str = "id, name, kind, settings, interval_secs, timeout_ms, retries, \
     min_probe_agreement, criteria, default_status_id, current_status_id, status_since, enabled, \
     COALESCE((SELECT array_agg(probe_id ORDER BY probe_id) FROM monitor_probes mp \
        WHERE mp.monitor_id = monitors.id), '{}') AS probe_ids, \
     key_hint, last_push_at, created_at, updated_at";

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

/// Refuses ids that are not `table` rows of the project (another project's too: 400, so
/// nothing is learnt of them).
pub(super) async fn check_owned(
    db: &mut PgConnection,
    table: &'static str,
    project_id: Uuid,
    ids: &[Uuid],
) -> Result<(), ApiError> {
    let mut unique = ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let (found,): (i64,) = sqlx::query_as(&format!(
        "SELECT count(*) FROM {table} WHERE project_id = $1 AND id = ANY($2)"
    ))
    .bind(project_id)
    .bind(&unique)
    .fetch_one(db)
    .await?;
    if found as usize != unique.len() {
        return Err(ApiError::BadRequest(format!(
            "an id given is not one of this project's {}",
            table.replace('_', " ")
        )));
    }
    Ok(())
}

/// The numeric bounds of a monitor (the table's CHECKs, said clearly).
fn check_numbers(
    interval: i32,
    timeout: i32,
    retries: i32,
    agreement: i32,
) -> Result<(), ApiError> {
    if !(10..=86_400).contains(&interval)
        || !(100..=60_000).contains(&timeout)
        || !(0..=5).contains(&retries)
        || !(1..=100).contains(&agreement)
    {
        return Err(ApiError::BadRequest(
            "interval_secs is 10 to 86400, timeout_ms 100 to 60000, retries 0 to 5 and \
             min_probe_agreement 1 to 100"
                .into(),
        ));
    }
    if i64::from(timeout) > i64::from(interval) * 1000 {
        return Err(ApiError::BadRequest(
            "timeout_ms cannot exceed the interval".into(),
        ));
    }
    Ok(())
}

/// Checks criteria: their shape, and that their statuses and severities are the project's.
async fn check_criteria(
    db: &mut PgConnection,
    project_id: Uuid,
    criteria: &[Criterion],
) -> Result<(), ApiError> {
    if let Some(p) = criteria::problem(criteria) {
        return Err(ApiError::BadRequest(p));
    }
    let statuses: Vec<Uuid> = criteria.iter().map(|c| c.status_id).collect();
    check_owned(db, "monitor_statuses", project_id, &statuses).await?;
    let severities: Vec<Uuid> = criteria
        .iter()
        .filter_map(|c| c.incident.as_ref().map(|i| i.severity_id))
        .collect();
    check_owned(db, "incident_severities", project_id, &severities).await
}

async fn set_probes(
    db: &mut PgConnection,
    project_id: Uuid,
    monitor_id: Uuid,
    probes: &[Uuid],
) -> Result<(), ApiError> {
    check_owned(db, "probes", project_id, probes).await?;
    sqlx::query("DELETE FROM monitor_probes WHERE monitor_id = $1 AND NOT (probe_id = ANY($2))")
        .bind(monitor_id)
        .bind(probes)
        .execute(&mut *db)
        .await?;
    sqlx::query(
        "INSERT INTO monitor_probes (monitor_id, probe_id, project_id) \
         SELECT $1, p, $3 FROM unnest($2::uuid[]) p ON CONFLICT DO NOTHING",
    )
    .bind(monitor_id)
    .bind(probes)
    .bind(project_id)
    .execute(db)
    .await?;
    Ok(())
}

/// The project's first status flagged `flag` (`is_operational` or `is_offline`).
async fn status_flagged(
    db: &mut PgConnection,
    project_id: Uuid,
    flag: &'static str,
) -> Result<Uuid, ApiError> {
    let row: Option<(Uuid,)> = sqlx::query_as(&format!(
        "SELECT id FROM monitor_statuses WHERE project_id = $1 AND {flag} \
         ORDER BY position, created_at LIMIT 1"
    ))
    .bind(project_id)
    .fetch_optional(db)
    .await?;
    row.map(|(id,)| id).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "the project has no status with {flag}: name the statuses to use"
        ))
    })
}

/// Offline → the offline status, with a Critical incident resolved on recovery.
async fn default_criteria(
    db: &mut PgConnection,
    project_id: Uuid,
    name: &str,
    kind: MonitorKind,
) -> Result<Vec<Criterion>, ApiError> {
    let offline = status_flagged(db, project_id, "is_offline").await?;
    let severity: Option<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM incident_severities WHERE project_id = $1 ORDER BY position LIMIT 1",
    )
    .bind(project_id)
    .fetch_optional(&mut *db)
    .await?;
    let mut filters = vec![Filter {
        check: Check::IsOnline,
        op: Op::IsFalse,
        value: None,
    }];
    // A website that answers 5xx is down too.
    if matches!(kind, MonitorKind::Http | MonitorKind::Api) {
        filters.push(Filter {
            check: Check::StatusCode,
            op: Op::Gte,
            value: Some(criteria::FilterValue::Number(500.0)),
        });
    }
    Ok(vec![Criterion {
        name: "Offline".into(),
        matching: Matching::Any,
        filters,
        status_id: offline,
        incident: severity.map(|(severity_id,)| IncidentTemplate {
            title: format!("{name} is offline"),
            description: String::new(),
            severity_id,
            auto_resolve: true,
        }),
    }])
}

/// A new push key, or none for probe-checked kinds: `(secret, digest, hint)`.
fn push_key(kind: MonitorKind) -> Result<Option<(String, String, String)>, ApiError> {
    if !kind.is_push() {
        return Ok(None);
    }
    let key = secret::generate(secret::MONITOR_KEY)?;
    let (digest, hint) = (secret::digest(&key), secret::hint(&key));
    Ok(Some((key, digest, hint)))
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
    caller
        .role_in(&state.pool, project_id)
        .await?
        .require(Role::Member)?;
    let name = check_name(&new.name)?;
    let settings = check_settings(new.kind, new.settings).map_err(ApiError::BadRequest)?;
    let (interval, timeout) = (
        new.interval_secs.unwrap_or(60),
        new.timeout_ms.unwrap_or(10_000),
    );
    let (retries, agreement) = (
        new.retries.unwrap_or(0),
        new.min_probe_agreement.unwrap_or(1),
    );
    check_numbers(interval, timeout, retries, agreement)?;
    let mut tx = state.pool.begin().await?;
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
    Ok((
        StatusCode::CREATED,
        Json(CreatedMonitor {
            monitor,
            key: key.map(|k| k.0),
        }),
    ))
}

fn check_agreement(kind: MonitorKind, agreement: i32, probes: usize) -> Result<(), ApiError> {
    if kind.is_push() && probes > 0 {
        return Err(ApiError::BadRequest(
            "heartbeat and server monitors are not checked by probes".into(),
        ));
    }
    if agreement > 1 && agreement as usize > probes {
        return Err(ApiError::BadRequest(
            "min_probe_agreement cannot exceed the number of probes assigned".into(),
        ));
    }
    Ok(())
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
    caller.role_in(&state.pool, project_id).await?;
    let mut db = state.pool.acquire().await?;
    Ok(Json(fetch(&mut db, project_id, monitor_id).await?))
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
    caller
        .role_in(&state.pool, project_id)
        .await?
        .require(Role::Member)?;
    let mut tx = state.pool.begin().await?;
    // Locks the row: concurrent changes apply one after the other.
    sqlx::query("SELECT 1 FROM monitors WHERE project_id = $1 AND id = $2 FOR UPDATE")
        .bind(project_id)
        .bind(monitor_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ApiError::NotFound("monitor"))?;
    let old = fetch(&mut tx, project_id, monitor_id).await?;
    let name = match &change.name {
        Some(n) => check_name(n)?.to_owned(),
        None => old.name.clone(),
    };
    let settings = match change.settings {
        Some(s) => check_settings(old.kind, s).map_err(ApiError::BadRequest)?,
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
    Ok(Json(monitor))
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
    caller
        .role_in(&state.pool, project_id)
        .await?
        .require(Role::Member)?;
    let done = sqlx::query("DELETE FROM monitors WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(monitor_id)
        .execute(&state.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("monitor"));
    }
    Ok(StatusCode::NO_CONTENT)
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
        .role_in(&state.pool, project_id)
        .await?
        .require(Role::Member)?;
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
    caller.role_in(&state.pool, project_id).await?;
    let bounds = page.bounds()?;
    exists(&state.pool, project_id, monitor_id).await?;
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
    .fetch_all(&state.pool)
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
    Ok(Json(Page::from_rows(items, bounds)))
}

async fn exists(pool: &PgPool, project_id: Uuid, monitor_id: Uuid) -> Result<(), ApiError> {
    sqlx::query("SELECT 1 FROM monitors WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(monitor_id)
        .fetch_optional(pool)
        .await?
        .ok_or(ApiError::NotFound("monitor"))?;
    Ok(())
}
