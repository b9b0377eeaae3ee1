//! The explorer's traces: spans searched with the explorer's language, the traces they belong
//! to (root service and name, duration, span count, errors), one trace's spans in start order
//! with their attributes, resource, events and links (a page at a time, so a trace of 10,000
//! spans stays usable), and per-service rate, error rate and duration percentiles. Each is one
//! bounded read (`explorer_read.rs`) of the project's slice of `spans`.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use storage::tables::Table;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::explorer_read::{TimeRange, read};
use super::logs::{Attribute, attributes};
use crate::access::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::search::sql::Signal;

/// Most traces listed at once, and spans of one trace per page.
const MAX_TRACES: u32 = 200;
const MAX_SPANS_PAGE: u32 = 2000;

fn table(state: &AppState) -> String {
    super::explorer_read::table(&state.config.worker.clickhouse_database, Table::Spans)
}

fn scope(project_id: Uuid, bounds: (i64, i64), q: &str) -> Result<String, ApiError> {
    super::explorer_read::scope(Signal::Spans, project_id, bounds, q)
}

/// `?q=&limit=&before=` of the trace list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TraceSearch {
    /// Traces with at least one span matching this (the explorer's language); empty: all.
    #[serde(default)]
    pub(crate) q: String,
    /// Traces per page, 1 to 200 (default 50).
    pub(crate) limit: Option<u32>,
    /// Only traces that started before this (ns): the previous page's `next_before`.
    pub(crate) before: Option<u64>,
}

/// A trace in the list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TraceSummary {
    pub trace_id: String,
    /// The root span's service and name (the earliest span's when the root is missing).
    pub root_service: String,
    pub root_name: String,
    pub start_unix_nano: u64,
    pub duration_ns: u64,
    pub spans: u64,
    /// Spans with status error.
    pub errors: u64,
}

/// Traces, latest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TraceList {
    pub items: Vec<TraceSummary>,
    /// Pass as `before` for the next (older) page; absent on the last.
    pub next_before: Option<u64>,
}

/// A span event.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SpanEvent {
    pub time_unix_nano: u64,
    pub name: String,
    /// OTLP/JSON `[{"key", "value": {…}}]`.
    pub attributes: String,
}

/// A span's link to another.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SpanLink {
    pub trace_id: String,
    pub span_id: String,
    /// OTLP/JSON `[{"key", "value": {…}}]`.
    pub attributes: String,
}

/// A span.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Span {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub service: String,
    pub name: String,
    /// 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    pub kind: i32,
    pub start_unix_nano: u64,
    pub duration_ns: u64,
    /// 0 unset, 1 ok, 2 error.
    pub status_code: i32,
    pub status_message: String,
    pub attributes: Vec<Attribute>,
    pub resource_attributes: Vec<Attribute>,
    pub events: Vec<SpanEvent>,
    pub links: Vec<SpanLink>,
}

/// A page of one trace's spans in start order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TraceSpans {
    pub trace_id: String,
    /// Spans in the trace (within the range).
    pub total: u64,
    pub offset: u64,
    pub spans: Vec<Span>,
}

/// `?offset=&limit=` of a trace's spans.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SpanPage {
    pub(crate) offset: Option<u64>,
    /// Spans per page, 1 to 2000 (default 1000).
    pub(crate) limit: Option<u32>,
}

/// A service's figures over the range: its entry spans (server or consumer, or roots).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ServiceStats {
    pub service: String,
    pub spans: u64,
    /// Entry spans per second.
    pub rate: f64,
    /// Share (0 to 1) of entry spans with status error.
    pub error_rate: f64,
    pub p50_ns: f64,
    pub p95_ns: f64,
    pub p99_ns: f64,
}

fn u64_of(v: &serde_json::Value) -> u64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_u64())
        .unwrap_or(0)
}

/// Lists traces with a matching span.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/traces", tag = "explorer",
    params(("project_id" = Uuid, Path), TimeRange, TraceSearch),
    responses((status = 200, body = TraceList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(range): Query<TimeRange>,
    Query(search): Query<TraceSearch>,
) -> Result<Json<TraceList>, ApiError> {
    Ok(Json(
        traces_of(&state, &caller, project_id, &range, &search).await?,
    ))
}

/// The project's traces with a span matching the search, latest first (members and viewers).
pub(crate) async fn traces_of(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    range: &TimeRange,
    search: &TraceSearch,
) -> Result<TraceList, ApiError> {
    caller.role_in(&state.pool, project_id).await?;
    let limit = search.limit.unwrap_or(50);
    if !(1..=MAX_TRACES).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1 to {MAX_TRACES}"
        )));
    }
    let bounds = range.bounds()?;
    let matching = scope(project_id, bounds, &search.q)?;
    let all = scope(project_id, bounds, "")?;
    let before = search
        .before
        .map(|b| format!(" AND start_time_unix_nano < {b}"))
        .unwrap_or_default();
    // The traces of the latest matching spans, then each trace's figures over all its spans.
    let sql = format!(
        "SELECT trace_id, toString(min(start_time_unix_nano)) AS start, \
         toString(max(end_time_unix_nano) - min(start_time_unix_nano)) AS duration, \
         toString(count()) AS spans, toString(countIf(status_code = 2)) AS errors, \
         if(countIf(parent_span_id = '') > 0, argMinIf(service_name, start_time_unix_nano, parent_span_id = ''), \
            argMin(service_name, start_time_unix_nano)) AS root_service, \
         if(countIf(parent_span_id = '') > 0, argMinIf(name, start_time_unix_nano, parent_span_id = ''), \
            argMin(name, start_time_unix_nano)) AS root_name \
         FROM {table} WHERE {all} AND trace_id IN (\
             SELECT trace_id FROM {table} WHERE {matching}{before} \
             GROUP BY trace_id ORDER BY max(start_time_unix_nano) DESC LIMIT {fetch}) \
         GROUP BY trace_id ORDER BY min(start_time_unix_nano) DESC LIMIT {fetch} \
         FORMAT JSONEachRow",
        table = table(state),
        fetch = limit + 1,
    );
    let mut items: Vec<TraceSummary> = read(state, &sql)
        .await?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|r| TraceSummary {
            trace_id: r["trace_id"].as_str().unwrap_or("").to_owned(),
            root_service: r["root_service"].as_str().unwrap_or("").to_owned(),
            root_name: r["root_name"].as_str().unwrap_or("").to_owned(),
            start_unix_nano: u64_of(&r["start"]),
            duration_ns: u64_of(&r["duration"]),
            spans: u64_of(&r["spans"]),
            errors: u64_of(&r["errors"]),
        })
        .collect();
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_before = more
        .then(|| items.last().map(|t| t.start_unix_nano))
        .flatten();
    Ok(TraceList { items, next_before })
}

#[derive(Deserialize)]
struct SpanRow {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    service_name: String,
    name: String,
    kind: i32,
    start: String,
    duration: String,
    status_code: i32,
    status_message: String,
    attributes_keys: Vec<String>,
    attributes_values: Vec<String>,
    attributes_types: Vec<u8>,
    resource_attributes_keys: Vec<String>,
    resource_attributes_values: Vec<String>,
    resource_attributes_types: Vec<u8>,
    events_time: Vec<String>,
    events_name: Vec<String>,
    events_attributes: Vec<String>,
    links_trace_id: Vec<String>,
    links_span_id: Vec<String>,
    links_attributes: Vec<String>,
}

const SPAN_COLUMNS: &str = "trace_id, span_id, parent_span_id, service_name, name, kind, \
     toString(start_time_unix_nano) AS start, toString(duration_ns) AS duration, status_code, \
     status_message, attributes_keys, attributes_values, attributes_types, \
     resource_attributes_keys, resource_attributes_values, resource_attributes_types, \
     arrayMap(t -> toString(t), events_time_unix_nano) AS events_time, events_name, \
     events_attributes, links_trace_id, links_span_id, links_attributes";

fn span(r: SpanRow) -> Span {
    Span {
        events: r
            .events_time
            .iter()
            .zip(r.events_name)
            .zip(r.events_attributes)
            .map(|((t, name), attributes)| SpanEvent {
                time_unix_nano: t.parse().unwrap_or(0),
                name,
                attributes,
            })
            .collect(),
        links: r
            .links_trace_id
            .into_iter()
            .zip(r.links_span_id)
            .zip(r.links_attributes)
            .map(|((trace_id, span_id), attributes)| SpanLink {
                trace_id,
                span_id,
                attributes,
            })
            .collect(),
        attributes: attributes(r.attributes_keys, r.attributes_values, r.attributes_types),
        resource_attributes: attributes(
            r.resource_attributes_keys,
            r.resource_attributes_values,
            r.resource_attributes_types,
        ),
        trace_id: r.trace_id,
        span_id: r.span_id,
        parent_span_id: r.parent_span_id,
        service: r.service_name,
        name: r.name,
        kind: r.kind,
        start_unix_nano: r.start.parse().unwrap_or(0),
        duration_ns: r.duration.parse().unwrap_or(0),
        status_code: r.status_code,
        status_message: r.status_message,
    }
}

/// One trace's spans.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/traces/{trace_id}", tag = "explorer",
    params(("project_id" = Uuid, Path), ("trace_id" = String, Path), TimeRange, SpanPage),
    responses((status = 200, body = TraceSpans), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, trace_id)): Path<(Uuid, String)>,
    Query(range): Query<TimeRange>,
    Query(page): Query<SpanPage>,
) -> Result<Json<TraceSpans>, ApiError> {
    Ok(Json(
        trace_of(&state, &caller, project_id, &trace_id, &range, &page).await?,
    ))
}

/// A page of one trace's spans in start order (members and viewers); 404 when the range holds
/// none of it.
pub(crate) async fn trace_of(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    trace_id: &str,
    range: &TimeRange,
    page: &SpanPage,
) -> Result<TraceSpans, ApiError> {
    caller.role_in(&state.pool, project_id).await?;
    // A trace id is 32 hex digits: checked, so it is safe to quote.
    if trace_id.len() != 32 || !trace_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::NotFound("trace"));
    }
    let trace_id = trace_id.to_ascii_lowercase();
    let limit = page.limit.unwrap_or(1000);
    if !(1..=MAX_SPANS_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1 to {MAX_SPANS_PAGE}"
        )));
    }
    let offset = page.offset.unwrap_or(0).min(10_000_000);
    let all = scope(project_id, range.bounds()?, "")?;
    let total_sql = format!(
        "SELECT count() FROM {table} WHERE {all} AND trace_id = '{trace_id}' FORMAT TabSeparated",
        table = table(state),
    );
    let total: u64 = read(state, &total_sql).await?.trim().parse().unwrap_or(0);
    if total == 0 {
        return Err(ApiError::NotFound("trace"));
    }
    let sql = format!(
        "SELECT {SPAN_COLUMNS} FROM {table} WHERE {all} AND trace_id = '{trace_id}' \
         ORDER BY start_time_unix_nano, span_id LIMIT {limit} OFFSET {offset} FORMAT JSONEachRow",
        table = table(state),
    );
    let spans = read(state, &sql)
        .await?
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_str::<SpanRow>(l)
                .map(span)
                .map_err(|e| ApiError::Internal(format!("a spans row: {e}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(TraceSpans {
        trace_id,
        total,
        offset,
        spans,
    })
}

/// Rate, error rate and duration percentiles per service.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/services", tag = "explorer",
    params(("project_id" = Uuid, Path), TimeRange),
    responses((status = 200, body = Vec<ServiceStats>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn services(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(range): Query<TimeRange>,
) -> Result<Json<Vec<ServiceStats>>, ApiError> {
    Ok(Json(
        services_of(&state, &caller, project_id, &range).await?,
    ))
}

/// Each service's entry spans over the range: rate, error rate, p50/p95/p99 (members and
/// viewers).
pub(crate) async fn services_of(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    range: &TimeRange,
) -> Result<Vec<ServiceStats>, ApiError> {
    caller.role_in(&state.pool, project_id).await?;
    let (from, to) = range.bounds()?;
    let all = scope(project_id, (from, to), "")?;
    let sql = format!(
        "SELECT service_name, toString(count()) AS n, countIf(status_code = 2) / count() AS errors, \
         quantiles(0.5, 0.95, 0.99)(duration_ns) AS q \
         FROM {table} WHERE {all} AND (kind IN (2, 5) OR parent_span_id = '') \
         GROUP BY service_name ORDER BY service_name LIMIT 1000 FORMAT JSONEachRow",
        table = table(state),
    );
    let secs = (to - from).max(1) as f64;
    Ok(read(state, &sql)
        .await?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|r| {
            let spans = u64_of(&r["n"]);
            let q = |i: usize| r["q"][i].as_f64().unwrap_or(0.0);
            ServiceStats {
                service: r["service_name"].as_str().unwrap_or("").to_owned(),
                spans,
                rate: spans as f64 / secs,
                error_rate: r["errors"].as_f64().unwrap_or(0.0),
                p50_ns: q(0),
                p95_ns: q(1),
                p99_ns: q(2),
            }
        })
        .collect())
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_one))
        .routes(routes!(services))
}
