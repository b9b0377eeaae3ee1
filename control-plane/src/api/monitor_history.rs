//! What a monitor's results say over time, read from ClickHouse's `monitor_results`: the
//! response-time series per probe over any range up to 90 days, aggregated by the server into
//! at most [`MAX_POINTS`] steps so a browser never receives more; the latest result per probe
//! (its failed phase, timings and certificate); and the 24-hour sparklines of a page of
//! monitors. Every read is one bounded query (time, rows, bytes) on the table's ORDER BY
//! prefix `(project_id, monitor_id, time)`, built from ids and numbers only.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use storage::client::{ClickHouse, ClickHouseError};
use storage::tables::Table;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::monitors::monitor_of;
use crate::access::Caller;
use crate::error::{ApiError, ErrorBody};

/// The most points a series holds, whatever the range.
pub(crate) const MAX_POINTS: i64 = 2_000;
/// The longest range a chart covers.
pub(crate) const MAX_RANGE_SECS: i64 = 90 * 86_400;

/// Limits on every read: a chart that needs more than this is a bug, not a wait.
const READ_LIMITS: [(&str, &str); 3] = [
    ("max_execution_time", "10"),
    ("max_rows_to_read", "200000000"),
    ("max_bytes_to_read", "20000000000"),
];

/// `?from=&to=` of a chart (RFC 3339); default: the last 24 hours.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Range {
    pub(crate) from: Option<DateTime<Utc>>,
    pub(crate) to: Option<DateTime<Utc>>,
}

impl Range {
    /// The last `secs` seconds.
    pub(crate) fn last(secs: i64) -> Self {
        let to = Utc::now();
        Self {
            from: Some(to - chrono::Duration::seconds(secs)),
            to: Some(to),
        }
    }

    /// `(from, to, step)` in Unix seconds, checked; the step is a round number of seconds
    /// (at least 60) giving at most [`MAX_POINTS`] steps.
    fn bounds(&self) -> Result<(i64, i64, i64), ApiError> {
        let to = self.to.unwrap_or_else(Utc::now).timestamp();
        let from = self.from.map_or(to - 86_400, |f| f.timestamp());
        if from >= to || to - from > MAX_RANGE_SECS {
            return Err(ApiError::BadRequest(
                "from must be before to, at most 90 days apart".into(),
            ));
        }
        let wanted = (to - from + MAX_POINTS - 1) / MAX_POINTS;
        let step = [
            60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
        ]
        .into_iter()
        .find(|s| *s >= wanted)
        .unwrap_or(86_400);
        Ok((from, to, step))
    }
}

/// One step of a series: when it starts (Unix seconds), the mean and the slowest response
/// time (ms) of its results, and how many were offline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Point {
    pub t: i64,
    pub avg_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub results: u64,
    pub offline: u64,
}

/// A probe's series (`probe_id` absent: pushed results, which no probe took).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Series {
    pub probe_id: Option<Uuid>,
    pub points: Vec<Point>,
}

/// A monitor's response times over a range.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ResponseTimes {
    pub from: i64,
    pub to: i64,
    /// Seconds per point.
    pub step_secs: i64,
    pub series: Vec<Series>,
}

/// The latest result a probe (or the push path) gave.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LatestResult {
    pub probe_id: Option<Uuid>,
    pub at: DateTime<Utc>,
    pub is_online: bool,
    pub response_time_ms: Option<f64>,
    pub status_code: Option<u32>,
    pub error: Option<String>,
    /// The whole result as the probe sent it (failed phase, timings, certificate…).
    #[schema(value_type = Object)]
    pub result: serde_json::Value,
}

/// `'<uuid>'`: a UUID's text is hex and dashes only, so quoting it is enough.
fn quoted(id: Uuid) -> String {
    format!("'{id}'")
}

/// Runs a bounded read; a table not created yet (no worker has run) reads as no rows.
pub(crate) async fn read(clickhouse: &ClickHouse, sql: &str) -> Result<String, ApiError> {
    match clickhouse.select(sql, &READ_LIMITS).await {
        Ok(text) => Ok(text),
        // UNKNOWN_TABLE, UNKNOWN_DATABASE.
        Err(ClickHouseError::Server {
            code: Some(60 | 81),
            ..
        }) => Ok(String::new()),
        Err(e) => Err(e.into()),
    }
}

fn table(state: &AppState) -> String {
    format!(
        "{}.{}",
        state.config.worker.clickhouse_database,
        Table::MonitorResults.name()
    )
}

fn probe_of(text: &str) -> Option<Uuid> {
    text.parse().ok()
}

fn number(text: &str) -> Option<f64> {
    text.parse().ok().filter(|v: &f64| v.is_finite())
}

/// A monitor's response times per probe over `range` (members and viewers).
pub(crate) async fn response_times_of(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    monitor_id: Uuid,
    range: &Range,
) -> Result<ResponseTimes, ApiError> {
    monitor_of(&state.pool, caller, project_id, monitor_id).await?;
    let (from, to, step) = range.bounds()?;
    let sql = format!(
        "SELECT probe_id, intDiv(toUInt32(time), {step}) * {step} AS t, \
         avg(response_time_ms), max(response_time_ms), count(), countIf(is_online = 0) \
         FROM {table} WHERE project_id = {p} AND monitor_id = {m} \
         AND time >= toDateTime({from}) AND time < toDateTime({to}) \
         GROUP BY probe_id, t ORDER BY probe_id, t FORMAT TabSeparated",
        table = table(state),
        p = quoted(project_id),
        m = quoted(monitor_id),
    );
    let text = read(&state.clickhouse, &sql).await?;
    let mut series: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [probe, t, avg, max, results, offline] = f[..] else {
            return Err(ApiError::Internal(format!(
                "unexpected result row {line:?}"
            )));
        };
        series.entry(probe.to_owned()).or_default().push(Point {
            t: t.parse().unwrap_or(0),
            avg_ms: number(avg),
            max_ms: number(max),
            results: results.parse().unwrap_or(0),
            offline: offline.parse().unwrap_or(0),
        });
    }
    Ok(ResponseTimes {
        from,
        to,
        step_secs: step,
        series: series
            .into_iter()
            .map(|(probe, points)| Series {
                probe_id: probe_of(&probe),
                points,
            })
            .collect(),
    })
}

/// The latest result of each probe in the last 7 days (members and viewers).
pub(crate) async fn latest_results_of(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    monitor_id: Uuid,
) -> Result<Vec<LatestResult>, ApiError> {
    monitor_of(&state.pool, caller, project_id, monitor_id).await?;
    let sql = format!(
        "SELECT probe_id, max(time_unix_nano), argMax(is_online, time_unix_nano), \
         argMax(response_time_ms, time_unix_nano), argMax(status_code, time_unix_nano), \
         argMax(error, time_unix_nano), argMax(result, time_unix_nano) \
         FROM {table} WHERE project_id = {p} AND monitor_id = {m} \
         AND time >= now() - 7 * 86400 GROUP BY probe_id ORDER BY probe_id \
         FORMAT JSONCompact",
        table = table(state),
        p = quoted(project_id),
        m = quoted(monitor_id),
    );
    let text = read(&state.clickhouse, &sql).await?;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    /// probe, time (ns, quoted: a UInt64), online, ms, status code, error, result.
    type Latest = (String, String, u8, Option<f64>, u32, String, String);
    #[derive(Deserialize)]
    struct Compact {
        data: Vec<Latest>,
    }
    let compact: Compact = serde_json::from_str(&text)
        .map_err(|e| ApiError::Internal(format!("reading latest results: {e}")))?;
    Ok(compact
        .data
        .into_iter()
        .map(|(probe, nanos, online, ms, code, error, result)| {
            let nanos: i64 = nanos.parse().unwrap_or(0);
            LatestResult {
                probe_id: probe_of(&probe),
                at: Utc.timestamp_nanos(nanos),
                is_online: online == 1,
                response_time_ms: ms,
                status_code: (code != 0).then_some(code),
                error: Some(error).filter(|e| !e.is_empty()),
                result: serde_json::from_str(&result).unwrap_or(serde_json::Value::Null),
            }
        })
        .collect())
}

/// The mean response time of each monitor in each hour of the last 24 (oldest first; `None`
/// where an hour has no result), for the monitors of one page of a list.
pub(crate) async fn sparklines(
    state: &AppState,
    project_id: Uuid,
    monitor_ids: &[Uuid],
) -> Result<BTreeMap<Uuid, Vec<Option<f64>>>, ApiError> {
    let mut lines = BTreeMap::new();
    if monitor_ids.is_empty() {
        return Ok(lines);
    }
    let now = Utc::now().timestamp();
    let first = (now / 3600 - 23) * 3600;
    let ids: Vec<String> = monitor_ids.iter().map(|id| quoted(*id)).collect();
    let sql = format!(
        "SELECT monitor_id, intDiv(toUInt32(time), 3600) * 3600 AS t, avg(response_time_ms) \
         FROM {table} WHERE project_id = {p} AND monitor_id IN ({ids}) \
         AND time >= toDateTime({first}) GROUP BY monitor_id, t FORMAT TabSeparated",
        table = table(state),
        p = quoted(project_id),
        ids = ids.join(","),
    );
    for line in read(&state.clickhouse, &sql).await?.lines() {
        let mut f = line.split('\t');
        let (Some(id), Some(t), Some(avg)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let (Ok(id), Ok(t)) = (id.parse::<Uuid>(), t.parse::<i64>()) else {
            continue;
        };
        let hour = usize::try_from((t - first) / 3600).unwrap_or(usize::MAX);
        let line: &mut Vec<Option<f64>> = lines.entry(id).or_insert_with(|| vec![None; 24]);
        if let Some(slot) = line.get_mut(hour) {
            *slot = number(avg);
        }
    }
    Ok(lines)
}

/// The share of results (0 to 1) not in an offline status in the last 24 hours, 7 days and
/// 30 days, for the monitors of one page of a list; `None` where a window has no result (the
/// monitor's uptime is not known, not 100 %).
pub(crate) async fn uptimes(
    state: &AppState,
    project_id: Uuid,
    monitor_ids: &[Uuid],
    offline_status_ids: &[Uuid],
) -> Result<BTreeMap<Uuid, [Option<f64>; 3]>, ApiError> {
    let mut uptimes = BTreeMap::new();
    if monitor_ids.is_empty() {
        return Ok(uptimes);
    }
    let ids: Vec<String> = monitor_ids.iter().map(|id| quoted(*id)).collect();
    let offline: Vec<String> = offline_status_ids.iter().map(|id| quoted(*id)).collect();
    let down = if offline.is_empty() {
        "0".to_owned()
    } else {
        format!("status_id IN ({})", offline.join(","))
    };
    let window = |secs: i64| {
        format!("countIf(time >= now() - {secs}), countIf(time >= now() - {secs} AND NOT ({down}))")
    };
    let sql = format!(
        "SELECT monitor_id, {day}, {week}, {month} FROM {table} \
         WHERE project_id = {p} AND monitor_id IN ({ids}) AND time >= now() - {month_secs} \
         GROUP BY monitor_id FORMAT TabSeparated",
        day = window(86_400),
        week = window(7 * 86_400),
        month = window(30 * 86_400),
        month_secs = 30 * 86_400,
        table = table(state),
        p = quoted(project_id),
        ids = ids.join(","),
    );
    for line in read(&state.clickhouse, &sql).await?.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let Some(id) = f.first().and_then(|id| id.parse::<Uuid>().ok()) else {
            continue;
        };
        let share = |i: usize| {
            let all: f64 = f.get(i)?.parse().ok()?;
            let up: f64 = f.get(i + 1)?.parse().ok()?;
            (all > 0.0).then(|| up / all)
        };
        uptimes.insert(id, [share(1), share(3), share(5)]);
    }
    Ok(uptimes)
}

/// A monitor's response times per probe, aggregated to at most 2,000 points per series.
#[utoipa::path(get,
    path = "/api/v1/projects/{project_id}/monitors/{monitor_id}/response-times",
    tag = "monitors",
    params(("project_id" = Uuid, Path), ("monitor_id" = Uuid, Path), Range),
    responses((status = 200, body = ResponseTimes), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(crate) async fn response_times(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, monitor_id)): Path<(Uuid, Uuid)>,
    Query(range): Query<Range>,
) -> Result<Json<ResponseTimes>, ApiError> {
    Ok(Json(
        response_times_of(&state, &caller, project_id, monitor_id, &range).await?,
    ))
}

/// The latest result of each probe that checked the monitor in the last 7 days.
#[utoipa::path(get,
    path = "/api/v1/projects/{project_id}/monitors/{monitor_id}/latest-results",
    tag = "monitors",
    params(("project_id" = Uuid, Path), ("monitor_id" = Uuid, Path)),
    responses((status = 200, body = Vec<LatestResult>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn latest_results(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, monitor_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<Vec<LatestResult>>, ApiError> {
    Ok(Json(
        latest_results_of(&state, &caller, project_id, monitor_id).await?,
    ))
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(response_times))
        .routes(routes!(latest_results))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_gets_a_round_step_and_at_most_2000_points() {
        let at = |secs: i64| Utc.timestamp_opt(secs, 0).single();
        for (secs, step) in [
            (3_600, 60),
            (86_400, 60),
            (7 * 86_400, 600),
            (30 * 86_400, 1_800),
            (90 * 86_400, 7_200),
        ] {
            let range = Range {
                from: at(1_000_000_000),
                to: at(1_000_000_000 + secs),
            };
            let (from, to, got) = range.bounds().unwrap();
            assert_eq!(got, step, "{secs} s");
            assert!((to - from) / got <= MAX_POINTS);
        }
        let too_long = Range {
            from: at(0),
            to: at(MAX_RANGE_SECS + 1),
        };
        assert!(too_long.bounds().is_err());
        let backwards = Range {
            from: at(10),
            to: at(5),
        };
        assert!(backwards.bounds().is_err());
    }
}
