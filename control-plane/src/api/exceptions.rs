//! The explorer's exceptions: span `exception` events and error logs (severity error or
//! worse) grouped by a fingerprint — the exception type, the message with its numbers and ids
//! replaced (`duplicate key 7` and `duplicate key 9` are one), and the top stack frame — with
//! how many, when first and last seen, the services affected, a sample and where to find the
//! occurrences. One bounded read (`explorer_read.rs`) over both tables.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Serialize;
use storage::tables::Table;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::explorer_read::{TimeRange, read, table};
use crate::access::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::search::sql::SEVERITY;

/// Most groups listed.
const MAX_GROUPS: u32 = 200;

/// A group of like exceptions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ExceptionGroup {
    /// Names the group (stable while type, message shape and top frame are).
    pub fingerprint: String,
    /// The exception type (empty for an error log that names none).
    pub exception_type: String,
    /// The message with numbers and ids replaced.
    pub message: String,
    /// A message as it was.
    pub sample: String,
    /// The top stack frame, if one was sent.
    pub frame: String,
    pub count: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Up to 10.
    pub services: Vec<String>,
    /// `span` (from a span's exception event) or `log`.
    pub source: String,
    /// A trace with one (span exceptions and logs with trace context).
    pub trace_id: String,
}

/// A string attribute's value in OTLP/JSON attributes (`[{"key": k, "value": {"stringValue":
/// v}}]`), as a ClickHouse expression over `json`.
fn json_attribute(json: &str, key: &str) -> String {
    // The key is a fixed name chosen here, never user text.
    format!(
        "replaceAll(extract({json}, '\"key\":\"{key}\",\"value\":\\\\{{\"stringValue\":\"((?:[^\"\\\\\\\\]|\\\\\\\\.)*)\"'), '\\\\n', '\\n')"
    )
}

/// Lists the project's exceptions, grouped.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/exceptions", tag = "explorer",
    params(("project_id" = Uuid, Path), TimeRange),
    responses((status = 200, body = Vec<ExceptionGroup>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(range): Query<TimeRange>,
) -> Result<Json<Vec<ExceptionGroup>>, ApiError> {
    Ok(Json(
        exceptions_of(&state, &caller, project_id, &range).await?,
    ))
}

/// The project's exceptions over the range, most frequent first (members and viewers).
pub(crate) async fn exceptions_of(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    range: &TimeRange,
) -> Result<Vec<ExceptionGroup>, ApiError> {
    caller.role_in(&state.pool, project_id).await?;
    let (from, to) = range.bounds()?;
    let database = &state.config.worker.clickhouse_database;
    let slice = format!(
        "project_id = '{project_id}' AND time >= toDateTime({from}) AND time < toDateTime({to})"
    );
    let log_attr =
        |key: &str| format!("arrayElement(attributes_values, indexOf(attributes_keys, '{key}'))");
    let sql = format!(
        "SELECT toString(cityHash64(kind, shape, frame)) AS fingerprint, kind, shape, \
                any(message) AS sample, frame, toString(count()) AS n, toUInt32(min(t)) AS first, \
                toUInt32(max(t)) AS last, arraySlice(groupUniqArray(service), 1, 10) AS services, \
                any(source) AS source, anyHeavy(trace) AS trace_id \
         FROM (\
           SELECT kind, message, frame, t, service, source, trace, \
             replaceRegexpAll(replaceRegexpAll(message, \
               '[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}', '<id>'), \
               '[0-9]+', 'N') AS shape \
           FROM (\
             SELECT {etype} AS kind, {emessage} AS message, \
               replaceRegexpAll(extract({estack}, '(at [^\\n]+|File [^\\n]+)'), '[0-9]+', 'N') AS frame, \
               time AS t, service_name AS service, 'span' AS source, trace_id AS trace \
             FROM {spans} ARRAY JOIN events_name AS event_name, events_attributes AS event_attributes \
             WHERE {slice} AND event_name = 'exception' \
             UNION ALL \
             SELECT {ltype} AS kind, if({lmessage} != '', {lmessage}, body) AS message, \
               replaceRegexpAll(extract({lstack}, '(at [^\\n]+|File [^\\n]+)'), '[0-9]+', 'N') AS frame, \
               time AS t, service_name AS service, 'log' AS source, trace_id AS trace \
             FROM {logs} WHERE {slice} AND ({SEVERITY}) >= 17)) \
         GROUP BY kind, shape, frame ORDER BY count() DESC, shape LIMIT {MAX_GROUPS} \
         FORMAT JSONEachRow",
        etype = json_attribute("event_attributes", "exception.type"),
        emessage = json_attribute("event_attributes", "exception.message"),
        estack = json_attribute("event_attributes", "exception.stacktrace"),
        ltype = log_attr("exception.type"),
        lmessage = log_attr("exception.message"),
        lstack = log_attr("exception.stacktrace"),
        spans = table(database, Table::Spans),
        logs = table(database, Table::Logs),
    );
    Ok(read(state, &sql)
        .await?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or("").to_owned();
            ExceptionGroup {
                fingerprint: text("fingerprint"),
                exception_type: text("kind"),
                message: text("shape"),
                sample: text("sample"),
                frame: text("frame"),
                count: text("n").parse().unwrap_or(0),
                first_seen: r["first"].as_i64().unwrap_or(0),
                last_seen: r["last"].as_i64().unwrap_or(0),
                services: r["services"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                source: text("source"),
                trace_id: text("trace_id"),
            }
        })
        .collect())
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}
