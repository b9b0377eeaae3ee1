//! The explorer's logs: a search newest first with cursor paging, counts over time by
//! severity (the histogram), facets (top values of services, severities and attributes), and
//! one record whole. Each is one bounded read (`explorer_read.rs`) of the project's slice of
//! the `logs` table in the asked range, its condition built by `search::sql` from the parsed
//! query.

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
use crate::access::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::search::sql::{SEVERITY, Signal, quote};

/// Most records a page holds.
const MAX_LIMIT: u32 = 500;
/// Most bars of a histogram.
const MAX_BARS: i64 = 120;
/// Most facets asked at once, and values listed per facet.
const MAX_FACETS: usize = 10;
const FACET_VALUES: u32 = 10;

/// `?q=&limit=&cursor=` of a search.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Search {
    /// The search (see the explorer's language); empty: everything.
    #[serde(default)]
    pub(crate) q: String,
    /// Records per page, 1 to 500 (default 100).
    pub(crate) limit: Option<u32>,
    /// Where the previous page ended (its `next_cursor`).
    pub(crate) cursor: Option<String>,
}

/// An attribute with its OTLP type (`string`, `bool`, `int`, `double`, `bytes`, `array`,
/// `kvlist`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Attribute {
    pub key: String,
    pub value: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// A log record.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LogRecord {
    /// Names the record for `GET …/logs/{id}`.
    pub id: String,
    /// Nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    pub service: String,
    pub severity_number: i32,
    pub severity_text: String,
    pub body: String,
    pub trace_id: String,
    pub span_id: String,
    pub attributes: Vec<Attribute>,
    pub resource_attributes: Vec<Attribute>,
}

/// A page of records, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LogPage {
    pub items: Vec<LogRecord>,
    /// Pass as `cursor` for the next (older) page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Counts per severity level in one bar.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct Bar {
    /// Unix seconds the bar starts at.
    pub t: i64,
    pub trace: u64,
    pub debug: u64,
    pub info: u64,
    pub warn: u64,
    pub error: u64,
    pub fatal: u64,
    /// No severity given.
    pub unknown: u64,
}

/// Counts over time.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Histogram {
    pub from: i64,
    pub to: i64,
    pub step_secs: i64,
    /// Bars with records, oldest first.
    pub bars: Vec<Bar>,
}

/// `?field=` of facets: `service`, `severity`, or an attribute (`http.route`,
/// `resource.k8s.pod.name`).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FacetFields {
    // Documents the parameter; the handler reads it from the raw query, as it repeats.
    #[allow(dead_code)]
    #[serde(default)]
    pub(crate) field: Vec<String>,
}

/// A value and how many records have it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FacetValue {
    pub value: String,
    pub count: u64,
}

/// A field's top values.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Facet {
    pub field: String,
    pub values: Vec<FacetValue>,
}

fn table(state: &AppState) -> String {
    super::explorer_read::table(&state.config.worker.clickhouse_database, Table::Logs)
}

fn kind_name(code: u8) -> &'static str {
    match code {
        1 => "string",
        2 => "bool",
        3 => "int",
        4 => "double",
        5 => "bytes",
        6 => "array",
        7 => "kvlist",
        _ => "empty",
    }
}

/// A record's sort key: its time in ns (the second's start when it has no finer time).
const SORT_NS: &str = "if(time_unix_nano > 0, time_unix_nano, toUInt64(time) * 1000000000)";
/// Tells apart records of the same nanosecond.
const ROW_HASH: &str =
    "cityHash64(body, trace_id, span_id, service_name, attributes_keys, attributes_values)";

fn scope(project_id: Uuid, bounds: (i64, i64), q: &str) -> Result<String, ApiError> {
    super::explorer_read::scope(Signal::Logs, project_id, bounds, q)
}

/// A cursor: `<sort ns>-<row hash>`, both numbers.
pub(super) fn read_cursor(cursor: &str) -> Result<(u64, u64), ApiError> {
    cursor
        .split_once('-')
        .and_then(|(t, h)| Some((t.parse().ok()?, h.parse().ok()?)))
        .ok_or_else(|| ApiError::BadRequest("cursor: not one this API gave".into()))
}

#[derive(Deserialize)]
struct Row {
    sort_ns: String,
    hash: String,
    raw_ns: String,
    service_name: String,
    severity_number: i32,
    severity_text: String,
    body: String,
    trace_id: String,
    span_id: String,
    attributes_keys: Vec<String>,
    attributes_values: Vec<String>,
    attributes_types: Vec<u8>,
    resource_attributes_keys: Vec<String>,
    resource_attributes_values: Vec<String>,
    resource_attributes_types: Vec<u8>,
}

/// An attribute list from its parallel columns.
pub(crate) fn attributes(keys: Vec<String>, values: Vec<String>, types: Vec<u8>) -> Vec<Attribute> {
    keys.into_iter()
        .zip(values)
        .zip(types)
        .map(|((key, value), t)| Attribute {
            key,
            value,
            kind: kind_name(t),
        })
        .collect()
}

const COLUMNS: &str = "service_name, severity_number, severity_text, body, trace_id, span_id, \
     attributes_keys, attributes_values, attributes_types, resource_attributes_keys, \
     resource_attributes_values, resource_attributes_types";

fn records(text: &str) -> Result<Vec<LogRecord>, ApiError> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let row: Row = serde_json::from_str(line)
                .map_err(|e| ApiError::Internal(format!("a logs row: {e}")))?;
            Ok(LogRecord {
                id: format!("{}-{}", row.sort_ns, row.hash),
                time_unix_nano: row
                    .sort_ns
                    .parse()
                    .unwrap_or(0)
                    .max(row.raw_ns.parse().unwrap_or(0)),
                service: row.service_name,
                severity_number: row.severity_number,
                severity_text: row.severity_text,
                body: row.body,
                trace_id: row.trace_id,
                span_id: row.span_id,
                attributes: attributes(
                    row.attributes_keys,
                    row.attributes_values,
                    row.attributes_types,
                ),
                resource_attributes: attributes(
                    row.resource_attributes_keys,
                    row.resource_attributes_values,
                    row.resource_attributes_types,
                ),
            })
        })
        .collect()
}

/// Searches the project's logs.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/logs", tag = "explorer",
    params(("project_id" = Uuid, Path), TimeRange, Search),
    responses((status = 200, body = LogPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(range): Query<TimeRange>,
    Query(search): Query<Search>,
) -> Result<Json<LogPage>, ApiError> {
    Ok(Json(
        logs_of(&state, &caller, project_id, &range, &search).await?,
    ))
}

/// A page of the project's logs matching the search, newest first (members and viewers).
pub(crate) async fn logs_of(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    range: &TimeRange,
    search: &Search,
) -> Result<LogPage, ApiError> {
    caller.role_in(&state.pool, project_id).await?;
    let limit = search.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1 to {MAX_LIMIT}"
        )));
    }
    let (from, mut to) = range.bounds()?;
    let mut after = String::new();
    if let Some(cursor) = &search.cursor {
        let (t, h) = read_cursor(cursor)?;
        // The cursor's second bounds the partitions read, too.
        to = to.min(i64::try_from(t / 1_000_000_000).unwrap_or(i64::MAX) + 1);
        after = format!(" AND ({SORT_NS} < {t} OR ({SORT_NS} = {t} AND {ROW_HASH} < {h}))");
    }
    if from >= to {
        return Ok(LogPage {
            items: Vec::new(),
            next_cursor: None,
        });
    }
    let sql = format!(
        "SELECT toString({SORT_NS}) AS sort_ns, toString({ROW_HASH}) AS hash, \
         toString(time_unix_nano) AS raw_ns, {COLUMNS} FROM {table} \
         WHERE {scope}{after} ORDER BY {SORT_NS} DESC, {ROW_HASH} DESC LIMIT {fetch} \
         FORMAT JSONEachRow",
        table = table(state),
        scope = scope(project_id, (from, to), &search.q)?,
        fetch = limit + 1,
    );
    let mut items = records(&read(state, &sql).await?)?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = more.then(|| items.last().map(|r| r.id.clone())).flatten();
    Ok(LogPage { items, next_cursor })
}

/// Up to `limit` of the project's records matching `q` that come after `after` (a record's
/// id), oldest first, among those of the last `window_secs` before now — what a live tail
/// sends next.
pub(crate) async fn logs_after(
    state: &AppState,
    project_id: Uuid,
    q: &str,
    after: (u64, u64),
    limit: u32,
) -> Result<Vec<LogRecord>, ApiError> {
    let (t, h) = after;
    let now = chrono::Utc::now().timestamp() + 1;
    // The cursor's second, less a margin, bounds the partitions read.
    let from = (i64::try_from(t / 1_000_000_000).unwrap_or(now) - 5).min(now - 1);
    let sql = format!(
        "SELECT toString({SORT_NS}) AS sort_ns, toString({ROW_HASH}) AS hash, \
         toString(time_unix_nano) AS raw_ns, {COLUMNS} FROM {table} \
         WHERE {scope} AND ({SORT_NS} > {t} OR ({SORT_NS} = {t} AND {ROW_HASH} > {h})) \
         ORDER BY {SORT_NS}, {ROW_HASH} LIMIT {limit} FORMAT JSONEachRow",
        table = table(state),
        scope = scope(project_id, (from, now), q)?,
    );
    records(&read(state, &sql).await?)
}

/// One record, whole.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/logs/{log_id}", tag = "explorer",
    params(("project_id" = Uuid, Path), ("log_id" = String, Path)),
    responses((status = 200, body = LogRecord), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, log_id)): Path<(Uuid, String)>,
) -> Result<Json<LogRecord>, ApiError> {
    Ok(Json(log_of(&state, &caller, project_id, &log_id).await?))
}

/// One record by its id (members and viewers).
pub(crate) async fn log_of(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    log_id: &str,
) -> Result<LogRecord, ApiError> {
    caller.role_in(&state.pool, project_id).await?;
    let (t, h) = read_cursor(log_id).map_err(|_| ApiError::NotFound("log record"))?;
    let second = i64::try_from(t / 1_000_000_000).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT toString({SORT_NS}) AS sort_ns, toString({ROW_HASH}) AS hash, \
         toString(time_unix_nano) AS raw_ns, {COLUMNS} FROM {table} \
         WHERE project_id = '{project_id}' AND time = toDateTime({second}) \
         AND {SORT_NS} = {t} AND {ROW_HASH} = {h} LIMIT 1 FORMAT JSONEachRow",
        table = table(state),
    );
    records(&read(state, &sql).await?)?
        .pop()
        .ok_or(ApiError::NotFound("log record"))
}

/// Counts of matching records over time, by severity.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/logs/histogram", tag = "explorer",
    params(("project_id" = Uuid, Path), TimeRange, Search),
    responses((status = 200, body = Histogram), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn histogram(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(range): Query<TimeRange>,
    Query(search): Query<Search>,
) -> Result<Json<Histogram>, ApiError> {
    Ok(Json(
        histogram_of(&state, &caller, project_id, &range, &search.q).await?,
    ))
}

/// The bar width for a range: a round number of seconds giving at most [`MAX_BARS`] bars.
fn step_for(from: i64, to: i64) -> i64 {
    let wanted = (to - from + MAX_BARS - 1) / MAX_BARS;
    [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    ]
    .into_iter()
    .find(|s| *s >= wanted)
    .unwrap_or(86_400)
}

/// Counts of the project's matching logs over the range by severity (members and viewers).
pub(crate) async fn histogram_of(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    range: &TimeRange,
    q: &str,
) -> Result<Histogram, ApiError> {
    caller.role_in(&state.pool, project_id).await?;
    let (from, to) = range.bounds()?;
    let step = step_for(from, to);
    let sql = format!(
        "SELECT intDiv(toUInt32(time), {step}) * {step} AS t, \
         multiIf(s = 0, 'unknown', s < 5, 'trace', s < 9, 'debug', s < 13, 'info', s < 17, 'warn', \
                 s < 21, 'error', 'fatal') AS level, count() AS n \
         FROM (SELECT time, {SEVERITY} AS s FROM {table} WHERE {scope}) \
         GROUP BY t, level ORDER BY t FORMAT TabSeparated",
        table = table(state),
        scope = scope(project_id, (from, to), q)?,
    );
    let mut bars: Vec<Bar> = Vec::new();
    for line in read(state, &sql).await?.lines() {
        let mut f = line.split('\t');
        let (Some(t), Some(level), Some(n)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let (Ok(t), Ok(n)) = (t.parse::<i64>(), n.parse::<u64>()) else {
            continue;
        };
        if bars.last().is_none_or(|b| b.t != t) {
            bars.push(Bar {
                t,
                ..Bar::default()
            });
        }
        if let Some(bar) = bars.last_mut() {
            let slot = match level {
                "trace" => &mut bar.trace,
                "debug" => &mut bar.debug,
                "info" => &mut bar.info,
                "warn" => &mut bar.warn,
                "error" => &mut bar.error,
                "fatal" => &mut bar.fatal,
                _ => &mut bar.unknown,
            };
            *slot += n;
        }
    }
    Ok(Histogram {
        from,
        to,
        step_secs: step,
        bars,
    })
}

/// The top values of fields among matching records.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/logs/facets", tag = "explorer",
    params(("project_id" = Uuid, Path), TimeRange, Search, FacetFields),
    responses((status = 200, body = Vec<Facet>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn facets(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(range): Query<TimeRange>,
    Query(search): Query<Search>,
    raw: axum::extract::RawQuery,
) -> Result<Json<Vec<Facet>>, ApiError> {
    // `field` repeats, which the plain query extractor does not take.
    let fields: Vec<String> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw.0.as_deref().unwrap_or(""))
            .map_err(|e| ApiError::BadRequest(e.to_string()))?
            .into_iter()
            .filter(|(k, _)| k == "field")
            .map(|(_, v)| v)
            .collect();
    let fields = if fields.is_empty() {
        vec!["service".to_owned(), "severity".to_owned()]
    } else {
        fields
    };
    Ok(Json(
        facets_of(&state, &caller, project_id, &range, &search.q, &fields).await?,
    ))
}

/// The expression a facet counts the values of, and the condition a record must meet to
/// have it.
fn facet_value(field: &str) -> (String, String) {
    match field {
        "service" => ("service_name".into(), "1".into()),
        "severity" => (
            format!(
                "multiIf(({SEVERITY}) = 0, 'unknown', ({SEVERITY}) < 5, 'trace', ({SEVERITY}) < 9, \
                 'debug', ({SEVERITY}) < 13, 'info', ({SEVERITY}) < 17, 'warn', ({SEVERITY}) < 21, \
                 'error', 'fatal')"
            ),
            "1".into(),
        ),
        other => {
            let (list, key) = match other.strip_prefix("resource.") {
                Some(key) => ("resource_attributes", key),
                None => (
                    "attributes",
                    other.strip_prefix("attributes.").unwrap_or(other),
                ),
            };
            let key = quote(key);
            (
                format!("arrayElement({list}_values, indexOf({list}_keys, {key}))"),
                format!("has({list}_keys, {key})"),
            )
        }
    }
}

/// The top values of `fields` among the project's matching logs (members and viewers).
pub(crate) async fn facets_of(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    range: &TimeRange,
    q: &str,
    fields: &[String],
) -> Result<Vec<Facet>, ApiError> {
    caller.role_in(&state.pool, project_id).await?;
    if fields.len() > MAX_FACETS || fields.iter().any(|f| f.is_empty() || f.len() > 200) {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_FACETS} fields, each 1 to 200 characters"
        )));
    }
    let (from, to) = range.bounds()?;
    let scope = scope(project_id, (from, to), q)?;
    let mut facets = Vec::with_capacity(fields.len());
    for field in fields {
        let (value, present) = facet_value(field);
        let sql = format!(
            "SELECT {value} AS v, count() AS n FROM {table} WHERE {scope} AND {present} \
             GROUP BY v ORDER BY n DESC, v LIMIT {FACET_VALUES} FORMAT JSONEachRow",
            table = table(state),
        );
        #[derive(Deserialize)]
        struct Count {
            v: String,
            n: String,
        }
        let values = read(state, &sql)
            .await?
            .lines()
            .filter_map(|l| serde_json::from_str::<Count>(l).ok())
            .map(|c| FacetValue {
                value: c.v,
                count: c.n.parse().unwrap_or(0),
            })
            .collect();
        facets.push(Facet {
            field: field.clone(),
            values,
        });
    }
    Ok(facets)
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(histogram))
        .routes(routes!(facets))
        .routes(routes!(get_one))
}
