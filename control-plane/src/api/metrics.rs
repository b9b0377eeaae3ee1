//! The explorer's metrics: the metric names of each service with their type and unit, and a
//! metric's series over a range — gauges and sums aggregated per step (avg, sum, min, max,
//! rate), histograms as percentiles (p50, p95, p99) from their buckets — optionally one series
//! per value of an attribute, with steps chosen so no series has more than 2,000 points. Each
//! is one bounded read (`explorer_read.rs`) of the project's slice of `metrics`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use storage::tables::Table;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::explorer_read::{TimeRange, read, table};
use crate::access::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::search::histogram::{floats, percentile, quantile};
use crate::search::sql::quote;

/// Most points of a series.
pub(crate) const MAX_POINTS: i64 = 2_000;
/// Most series a chart holds (the groups with the most points).
const MAX_GROUPS: usize = 10;

/// A metric a service reports.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MetricName {
    pub service: String,
    pub name: String,
    /// `gauge`, `sum`, `histogram`, `exponential_histogram` or `summary`.
    pub metric_type: String,
    pub unit: String,
    pub points: u64,
}

/// `?name=&service=&agg=&group_by=&step=` of a series.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SeriesQuery {
    pub(crate) name: String,
    /// Only this service's points.
    pub(crate) service: Option<String>,
    /// `avg` (default), `sum`, `min`, `max`, `rate` (per second) for gauges and sums; `p50`,
    /// `p95`, `p99` for histograms.
    pub(crate) agg: Option<String>,
    /// One series per value of this attribute (`route`, or `resource.host.name`).
    pub(crate) group_by: Option<String>,
    /// Seconds per point; rounded up so a series has at most 2,000 points.
    pub(crate) step: Option<i64>,
}

/// A point: the step's start (Unix seconds) and its value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct MetricPoint {
    pub t: i64,
    pub v: f64,
}

/// One series: its group's value (empty without `group_by`) and points, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MetricSeries {
    pub group: String,
    pub points: Vec<MetricPoint>,
}

/// A chart's data.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MetricChart {
    pub name: String,
    pub agg: String,
    pub from: i64,
    pub to: i64,
    pub step_secs: i64,
    pub series: Vec<MetricSeries>,
}

fn metrics_table(state: &AppState) -> String {
    table(&state.config.worker.clickhouse_database, Table::Metrics)
}

/// The project's metric names.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/metrics", tag = "explorer",
    params(("project_id" = Uuid, Path), TimeRange),
    responses((status = 200, body = Vec<MetricName>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn names(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(range): Query<TimeRange>,
) -> Result<Json<Vec<MetricName>>, ApiError> {
    Ok(Json(names_of(&state, &caller, project_id, &range).await?))
}

/// The metric names each service reported over the range (members and viewers).
pub(crate) async fn names_of(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    range: &TimeRange,
) -> Result<Vec<MetricName>, ApiError> {
    caller.role_in(&state.pool, project_id).await?;
    let (from, to) = range.bounds()?;
    let sql = format!(
        "SELECT service_name, name, any(metric_type) AS metric_type, any(unit) AS unit, \
         toString(count()) AS points FROM {table} \
         WHERE project_id = '{project_id}' AND time >= toDateTime({from}) AND time < toDateTime({to}) \
         GROUP BY service_name, name ORDER BY service_name, name LIMIT 2000 FORMAT JSONEachRow",
        table = metrics_table(state),
    );
    Ok(read(state, &sql)
        .await?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|r| MetricName {
            service: r["service_name"].as_str().unwrap_or("").to_owned(),
            name: r["name"].as_str().unwrap_or("").to_owned(),
            metric_type: r["metric_type"].as_str().unwrap_or("").to_owned(),
            unit: r["unit"].as_str().unwrap_or("").to_owned(),
            points: r["points"]
                .as_str()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0),
        })
        .collect())
}

/// A metric's series.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/metrics/series", tag = "explorer",
    params(("project_id" = Uuid, Path), TimeRange, SeriesQuery),
    responses((status = 200, body = MetricChart), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn series(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(range): Query<TimeRange>,
    Query(query): Query<SeriesQuery>,
) -> Result<Json<MetricChart>, ApiError> {
    Ok(Json(
        series_of(&state, &caller, project_id, &range, &query).await?,
    ))
}

/// The expression of the group an attribute names.
fn group_expr(group_by: Option<&str>) -> Result<String, ApiError> {
    let Some(field) = group_by.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok("''".to_owned());
    };
    if field.len() > 200 {
        return Err(ApiError::BadRequest(
            "group_by has at most 200 characters".into(),
        ));
    }
    if field == "service" {
        return Ok("service_name".to_owned());
    }
    let (list, key) = match field.strip_prefix("resource.") {
        Some(key) => ("resource_attributes", key),
        None => ("attributes", field),
    };
    Ok(format!(
        "arrayElement({list}_values, indexOf({list}_keys, {}))",
        quote(key)
    ))
}

/// The step for a range: at least `wanted`, a round number of seconds, at most
/// [`MAX_POINTS`] steps.
fn step_for(from: i64, to: i64, wanted: Option<i64>) -> i64 {
    let least = ((to - from + MAX_POINTS - 1) / MAX_POINTS)
        .max(wanted.unwrap_or(1))
        .max(1);
    [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    ]
    .into_iter()
    .find(|s| *s >= least)
    .unwrap_or((least + 86_399) / 86_400 * 86_400)
}

/// A metric's series over the range (members and viewers).
pub(crate) async fn series_of(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    range: &TimeRange,
    query: &SeriesQuery,
) -> Result<MetricChart, ApiError> {
    caller.role_in(&state.pool, project_id).await?;
    let name = query.name.trim();
    if name.is_empty() || name.len() > 255 {
        return Err(ApiError::BadRequest("name: a metric name".into()));
    }
    let (from, to) = range.bounds()?;
    let step = step_for(from, to, query.step);
    let agg = query.agg.as_deref().unwrap_or("avg");
    let group = group_expr(query.group_by.as_deref())?;
    let service = query
        .service
        .as_deref()
        .map(|s| format!(" AND service_name = {}", quote(s)))
        .unwrap_or_default();
    let slice = format!(
        "project_id = '{project_id}' AND name = {name}{service} AND time >= toDateTime({from}) \
         AND time < toDateTime({to})",
        name = quote(name),
    );
    let t = format!("intDiv(toUInt32(time), {step}) * {step}");
    let table = metrics_table(state);
    // Each point's own series (its attributes): rates and cumulative histograms are per
    // series before they are summed over a group.
    let own = "cityHash64(attributes_keys, attributes_values, resource_attributes_values)";
    let sql = match agg {
        "avg" | "sum" | "min" | "max" => format!(
            "SELECT {t} AS t, {group} AS g, {agg}(value) AS v FROM {table} WHERE {slice} \
             AND metric_type IN ('gauge', 'sum') GROUP BY t, g ORDER BY t FORMAT TabSeparated"
        ),
        "rate" => format!(
            "SELECT t, g, sum(d) / {step} AS v FROM (\
               SELECT {t} AS t, {group} AS g, {own} AS s, \
                 if(any(aggregation_temporality) = 1, sum(value), max(value) - min(value)) AS d \
               FROM {table} WHERE {slice} AND metric_type = 'sum' GROUP BY t, g, s) \
             GROUP BY t, g ORDER BY t FORMAT TabSeparated"
        ),
        "p50" | "p95" | "p99" => format!(
            "SELECT t, g, any(b) AS bounds, sumForEach(c) AS counts FROM (\
               SELECT {t} AS t, {group} AS g, {own} AS s, any(explicit_bounds) AS b, \
                 if(any(aggregation_temporality) = 1, sumForEach(bucket_counts), \
                    argMax(bucket_counts, time_unix_nano)) AS c \
               FROM {table} WHERE {slice} AND metric_type = 'histogram' GROUP BY t, g, s) \
             GROUP BY t, g ORDER BY t FORMAT JSONEachRow"
        ),
        other => {
            return Err(ApiError::BadRequest(format!(
                "agg={other:?}: avg, sum, min, max, rate, p50, p95 or p99"
            )));
        }
    };
    let text = read(state, &sql).await?;
    let mut groups: BTreeMap<String, Vec<MetricPoint>> = BTreeMap::new();
    if let Some(q) = percentile(agg) {
        for line in text.lines() {
            let Ok(row) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let (bounds, counts) = (floats(&row["bounds"]), floats(&row["counts"]));
            let t = row["t"]
                .as_i64()
                .or_else(|| row["t"].as_str().and_then(|s| s.parse().ok()))
                .unwrap_or(0);
            if let Some(v) = quantile(q, &bounds, &counts) {
                let g = row["g"].as_str().unwrap_or("").to_owned();
                groups.entry(g).or_default().push(MetricPoint { t, v });
            }
        }
    } else {
        for line in text.lines() {
            let mut f = line.split('\t');
            let (Some(t), Some(g), Some(v)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let (Ok(t), Ok(v)) = (t.parse::<i64>(), v.parse::<f64>()) else {
                continue;
            };
            if v.is_finite() {
                groups
                    .entry(g.to_owned())
                    .or_default()
                    .push(MetricPoint { t, v });
            }
        }
    }
    // The groups with the most points, then by name.
    let mut series: Vec<MetricSeries> = groups
        .into_iter()
        .map(|(group, points)| MetricSeries { group, points })
        .collect();
    series.sort_by(|a, b| {
        b.points
            .len()
            .cmp(&a.points.len())
            .then(a.group.cmp(&b.group))
    });
    series.truncate(MAX_GROUPS);
    series.sort_by(|a, b| a.group.cmp(&b.group));
    Ok(MetricChart {
        name: name.to_owned(),
        agg: agg.to_owned(),
        from,
        to,
        step_secs: step,
        series,
    })
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(names))
        .routes(routes!(series))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_keep_series_short() {
        assert_eq!(step_for(0, 3600, None), 2);
        assert_eq!(step_for(0, 7 * 86_400, None), 600);
        assert_eq!(step_for(0, 3600, Some(3600)), 3600);
        assert!((31 * 86_400) / step_for(0, 31 * 86_400, None) <= MAX_POINTS);
    }
}
