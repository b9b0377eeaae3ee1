//! What a project has sent lately: for each signal table, when its newest row arrived in the
//! last hour — the "last data received" line of the UI's getting-data-in page, and an API
//! call a deployment script can poll. One bounded read per table on its ORDER BY prefix
//! (`project_id`), limited to the last hour so it stays cheap at any ingest rate.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use storage::tables::Table;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::monitor_history::read;
use crate::access::Caller;
use crate::error::{ApiError, ErrorBody};

/// The signals, by table: `(table, name)`.
const SIGNALS: [(Table, &str); 5] = [
    (Table::Logs, "logs"),
    (Table::Spans, "traces"),
    (Table::Metrics, "metrics"),
    (Table::ServerMetrics, "server agent"),
    (Table::IncomingRequests, "heartbeats"),
];

/// When a signal's newest row of the last hour was taken.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LastReceived {
    /// `logs`, `traces`, `metrics`, `server agent` or `heartbeats`.
    pub signal: &'static str,
    /// Absent: nothing in the last hour.
    pub at: Option<DateTime<Utc>>,
}

/// The newest row of each signal in the last hour (members and viewers).
pub(crate) async fn last_received_of(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
) -> Result<Vec<LastReceived>, ApiError> {
    caller.role_in(&state.pool, project_id).await?;
    let database = &state.config.worker.clickhouse_database;
    // One query: a row per table, the hour's newest time (0 when there is none).
    let sql = SIGNALS
        .iter()
        .enumerate()
        .map(|(i, (table, _))| {
            format!(
                "SELECT {i} AS signal, toUInt32(max(time)) AS newest FROM {database}.{} \
                 WHERE project_id = '{project_id}' AND time >= now() - 3600",
                table.name()
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
        + " FORMAT TabSeparated";
    let text = read(&state.clickhouse, &sql).await?;
    let mut newest = [None; SIGNALS.len()];
    for line in text.lines() {
        let mut f = line.split('\t');
        let (Some(Ok(i)), Some(Ok(t))) = (
            f.next().map(str::parse::<usize>),
            f.next().map(str::parse::<i64>),
        ) else {
            continue;
        };
        if let Some(slot) = newest.get_mut(i) {
            *slot = (t > 0).then(|| Utc.timestamp_opt(t, 0).single()).flatten();
        }
    }
    Ok(SIGNALS
        .iter()
        .zip(newest)
        .map(|((_, signal), at)| LastReceived { signal, at })
        .collect())
}

/// When each signal last arrived for the project, in the last hour.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/telemetry/last-received",
    tag = "telemetry", params(("project_id" = Uuid, Path)),
    responses((status = 200, body = Vec<LastReceived>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn last_received(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
) -> Result<Json<Vec<LastReceived>>, ApiError> {
    Ok(Json(last_received_of(&state, &caller, project_id).await?))
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(last_received))
}
