//! Telemetry monitors (`logs`, `traces`, `metrics`): their settings — a search in the
//! explorer's language or a metric, what is measured and over what window — and the one
//! bounded ClickHouse read that measures it. The worker runs it every interval and the value
//! goes through the same criteria as a probe's check (`telemetry_value`); the text that says
//! what was measured, with a link to the same query in the explorer, is the incident's cause.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use storage::client::{ClickHouse, ClickHouseError};
use storage::tables::Table;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{MonitorKind, SettingsError};
use crate::search::READ_LIMITS;
use crate::search::histogram::{floats, percentile, quantile};
use crate::search::parse::parse;
use crate::search::sql::{Signal, condition, quote};

/// Settings of `logs`, `traces` and `metrics` monitors: every interval the worker measures
/// `measure` over the last `window_secs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TelemetrySettings {
    /// `logs` and `traces`: a search in the explorer's language (`severity:>=error
    /// service:checkout`); empty: every record.
    #[serde(default)]
    pub query: String,
    /// `metrics`: the metric's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// `metrics`: only this service's points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// `logs`: `count`. `traces`: `count`, `error_rate` (% of spans with status error), or the
    /// spans' duration in ms: `avg`, `p50`, `p95`, `p99`. `metrics`: `avg`, `sum`, `min`,
    /// `max` of gauges and sums, `rate` (per second) of sums, `p50`, `p95`, `p99` of
    /// histograms (from their buckets; a cumulative histogram counts since its sender started).
    /// Default: the kind's first (`count`, or `avg` for metrics).
    #[serde(default)]
    pub measure: String,
    /// How far back each evaluation looks: 10 to 86400 seconds (default 300).
    #[serde(default = "five_minutes")]
    pub window_secs: u32,
}

fn five_minutes() -> u32 {
    300
}

const LOG_MEASURES: [&str; 1] = ["count"];
const SPAN_MEASURES: [&str; 6] = ["count", "error_rate", "avg", "p50", "p95", "p99"];
const METRIC_MEASURES: [&str; 8] = ["avg", "sum", "min", "max", "rate", "p50", "p95", "p99"];

/// The measures a telemetry kind offers.
pub(crate) fn measures(kind: MonitorKind) -> &'static [&'static str] {
    match kind {
        MonitorKind::Logs => &LOG_MEASURES,
        MonitorKind::Traces => &SPAN_MEASURES,
        _ => &METRIC_MEASURES,
    }
}

impl TelemetrySettings {
    /// Checks the settings of a telemetry `kind`: the query parses, the measure fits the kind.
    pub(crate) fn check(mut self, kind: MonitorKind) -> Result<Self, SettingsError> {
        let refuse = |m: String| Err(SettingsError(format!("settings: {m}")));
        self.query = self.query.trim().to_owned();
        self.measure = self.measure.trim().to_ascii_lowercase();
        if !(10..=86_400).contains(&self.window_secs) {
            return refuse("window_secs is 10 to 86400".into());
        }
        let offered = measures(kind);
        if self.measure.is_empty() {
            self.measure = offered[0].to_owned();
        }
        if !offered.contains(&self.measure.as_str()) {
            return refuse(format!(
                "measure of a {} monitor is one of {}",
                kind.as_str(),
                offered.join(", ")
            ));
        }
        if kind == MonitorKind::Metrics {
            let name = self.metric.as_deref().map(str::trim).unwrap_or("");
            if name.is_empty() || name.len() > 255 {
                return refuse("metric: the name of a metric, at most 255 bytes".into());
            }
            self.metric = Some(name.to_owned());
            self.service = self
                .service
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty());
            if self.service.as_ref().is_some_and(|s| s.len() > 255) {
                return refuse("service has at most 255 bytes".into());
            }
            if !self.query.is_empty() {
                return refuse("a metrics monitor takes metric and service, not query".into());
            }
        } else {
            if self.metric.is_some() || self.service.is_some() {
                return refuse(
                    "metric and service belong to metrics monitors; search with query \
                     (service:checkout)"
                        .into(),
                );
            }
            let expr =
                parse(&self.query).map_err(|e| SettingsError(format!("settings: query {e}")))?;
            condition(&expr, signal(kind))
                .map_err(|e| SettingsError(format!("settings: query {}", e.message)))?;
        }
        Ok(self)
    }

    /// What is measured, for people: `count of logs matching "severity:>=error" over 5 min`.
    pub(crate) fn describe(&self, kind: MonitorKind) -> String {
        let window = window_text(self.window_secs);
        let matching = if self.query.is_empty() {
            String::new()
        } else {
            format!(" matching \"{}\"", self.query)
        };
        match kind {
            MonitorKind::Logs => format!("count of logs{matching} over {window}"),
            MonitorKind::Traces => {
                let what = match self.measure.as_str() {
                    "count" => "count of spans".to_owned(),
                    "error_rate" => "error rate (%) of spans".to_owned(),
                    m => format!("{m} duration (ms) of spans"),
                };
                format!("{what}{matching} over {window}")
            }
            _ => {
                let service = self
                    .service
                    .as_deref()
                    .map(|s| format!(" of service {s}"))
                    .unwrap_or_default();
                format!(
                    "{} of {}{service} over {window}",
                    self.measure,
                    self.metric.as_deref().unwrap_or("")
                )
            }
        }
    }

    /// The explorer page showing what was measured over `(from, to)` (Unix seconds), under
    /// `base` (the public URL).
    pub(crate) fn explore_url(
        &self,
        kind: MonitorKind,
        base: &str,
        project_id: Uuid,
        (from, to): (i64, i64),
    ) -> String {
        let at = |t: i64| {
            DateTime::<Utc>::from_timestamp(t, 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        let (page, mut params) = match kind {
            MonitorKind::Logs => ("logs", vec![("q", self.query.clone())]),
            MonitorKind::Traces => ("traces", vec![("q", self.query.clone())]),
            _ => (
                "metrics",
                vec![
                    ("name", self.metric.clone().unwrap_or_default()),
                    ("service", self.service.clone().unwrap_or_default()),
                    ("agg", self.measure.clone()),
                ],
            ),
        };
        params.push(("from", at(from)));
        params.push(("to", at(to)));
        let query = serde_urlencoded::to_string(&params).unwrap_or_default();
        format!(
            "{}/projects/{project_id}/{page}?{query}",
            base.trim_end_matches('/')
        )
    }

    /// The SQL measuring the settings over `(from, to)` in the project's slice of the table:
    /// one row, `n` (records seen) then `v` (the value), or `bounds` and `counts` of a
    /// histogram as JSON.
    fn sql(
        &self,
        kind: MonitorKind,
        database: &str,
        project_id: Uuid,
        (from, to): (i64, i64),
    ) -> Result<String, SettingsError> {
        let slice = format!(
            "project_id = '{project_id}' AND time >= toDateTime({from}) AND time < toDateTime({to})"
        );
        if kind != MonitorKind::Metrics {
            let signal = signal(kind);
            let expr = parse(&self.query).map_err(|e| SettingsError(format!("query {e}")))?;
            let cond = condition(&expr, signal).map_err(|e| SettingsError(e.message))?;
            let table = match signal {
                Signal::Logs => Table::Logs,
                Signal::Spans => Table::Spans,
            };
            let value = match self.measure.as_str() {
                "count" => "count()".to_owned(),
                "error_rate" => "100 * countIf(status_code = 2) / count()".to_owned(),
                "avg" => "avg(duration_ns) / 1e6".to_owned(),
                m => format!(
                    "quantileExact({})(duration_ns) / 1e6",
                    percentile(m).unwrap_or(0.5)
                ),
            };
            return Ok(format!(
                "SELECT count() AS n, toFloat64({value}) AS v FROM {database}.{} \
                 WHERE {slice} AND ({cond}) FORMAT TabSeparated",
                table.name()
            ));
        }
        let table = format!("{database}.{}", Table::Metrics.name());
        let service = self
            .service
            .as_deref()
            .map(|s| format!(" AND service_name = {}", quote(s)))
            .unwrap_or_default();
        let slice = format!(
            "{slice} AND name = {}{service}",
            quote(self.metric.as_deref().unwrap_or(""))
        );
        // Each point's own series (its attributes): rates and cumulative histograms are per
        // series before they add up (as in the explorer's charts).
        let own = "cityHash64(attributes_keys, attributes_values, resource_attributes_values)";
        let window = to - from;
        Ok(match self.measure.as_str() {
            m @ ("avg" | "sum" | "min" | "max") => format!(
                "SELECT count() AS n, toFloat64({m}(value)) AS v FROM {table} WHERE {slice} \
                 AND metric_type IN ('gauge', 'sum') FORMAT TabSeparated"
            ),
            "rate" => format!(
                "SELECT sum(k) AS n, toFloat64(sum(d) / {window}) AS v FROM (\
                   SELECT {own} AS s, count() AS k, \
                     if(any(aggregation_temporality) = 1, sum(value), max(value) - min(value)) AS d \
                   FROM {table} WHERE {slice} AND metric_type = 'sum' GROUP BY s) \
                 FORMAT TabSeparated"
            ),
            _ => format!(
                "SELECT any(b) AS bounds, sumForEach(c) AS counts FROM (\
                   SELECT {own} AS s, any(explicit_bounds) AS b, \
                     if(any(aggregation_temporality) = 1, sumForEach(bucket_counts), \
                        argMax(bucket_counts, time_unix_nano)) AS c \
                   FROM {table} WHERE {slice} AND metric_type = 'histogram' GROUP BY s) \
                 FORMAT JSONEachRow"
            ),
        })
    }
}

/// A window for people: `5 min`, `90 s`, `2 h`.
fn window_text(secs: u32) -> String {
    match secs {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn signal(kind: MonitorKind) -> Signal {
    if kind == MonitorKind::Logs {
        Signal::Logs
    } else {
        Signal::Spans
    }
}

/// Why a telemetry monitor could not be measured.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MeasureError {
    #[error("the monitor's settings cannot be measured: {0}")]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    ClickHouse(#[from] ClickHouseError),
}

/// Measures `settings` of a `kind` monitor over `window` (Unix seconds, end excluded):
/// `None` when nothing was recorded that the measure needs (no spans for an error rate, no
/// points for an average; a count is then 0). One bounded, read-only query that gives up
/// after `timeout`.
pub(crate) async fn measure(
    clickhouse: &ClickHouse,
    database: &str,
    project_id: Uuid,
    kind: MonitorKind,
    settings: &TelemetrySettings,
    window: (i64, i64),
    timeout: std::time::Duration,
) -> Result<Option<f64>, MeasureError> {
    let sql = settings.sql(kind, database, project_id, window)?;
    let secs = timeout.as_secs().max(1).to_string();
    let mut limits: Vec<(&str, &str)> = READ_LIMITS
        .iter()
        .copied()
        .filter(|(name, _)| *name != "max_execution_time")
        .collect();
    limits.push(("max_execution_time", &secs));
    let text = match clickhouse.select(&sql, &limits).await {
        Ok(text) => text,
        // UNKNOWN_TABLE, UNKNOWN_DATABASE: nothing was ever stored.
        Err(ClickHouseError::Server {
            code: Some(60 | 81),
            ..
        }) => String::new(),
        Err(e) => return Err(e.into()),
    };
    if let Some(q) = percentile(&settings.measure).filter(|_| kind == MonitorKind::Metrics) {
        let Some(row) = text
            .lines()
            .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        else {
            return Ok(None);
        };
        return Ok(quantile(
            q,
            &floats(&row["bounds"]),
            &floats(&row["counts"]),
        ));
    }
    let mut fields = text.trim().split('\t');
    let seen: u64 = fields.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let value: Option<f64> = fields.next().and_then(|v| v.parse().ok());
    Ok(match (settings.measure == "count", seen) {
        (true, _) => Some(seen as f64),
        (false, 0) => None,
        (false, _) => value.filter(|v| v.is_finite()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(v: serde_json::Value) -> TelemetrySettings {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn settings_fit_their_kind() {
        let ok = settings(json!({"query": " severity:>=error ", "window_secs": 60}))
            .check(MonitorKind::Logs)
            .unwrap();
        assert_eq!(ok.query, "severity:>=error");
        assert_eq!(ok.measure, "count");
        let ok = settings(json!({"metric": "latency", "measure": "P95"}))
            .check(MonitorKind::Metrics)
            .unwrap();
        assert_eq!((ok.measure.as_str(), ok.window_secs), ("p95", 300));
        for (kind, bad) in [
            (MonitorKind::Logs, json!({"measure": "p95"})),
            (MonitorKind::Logs, json!({"query": "(a"})),
            (MonitorKind::Logs, json!({"window_secs": 5})),
            (MonitorKind::Traces, json!({"metric": "x"})),
            (MonitorKind::Traces, json!({"measure": "rate"})),
            (MonitorKind::Metrics, json!({"measure": "avg"})),
            (
                MonitorKind::Metrics,
                json!({"metric": "x", "query": "a", "measure": "avg"}),
            ),
        ] {
            assert!(settings(bad.clone()).check(kind).is_err(), "{kind:?} {bad}");
        }
    }

    #[test]
    fn the_query_reaches_sql_escaped_and_scoped() {
        let s = settings(json!({"query": "body:\"x' OR 1=1 --\"", "measure": "count"}))
            .check(MonitorKind::Logs)
            .unwrap();
        let project = Uuid::nil();
        let sql = s.sql(MonitorKind::Logs, "db", project, (100, 400)).unwrap();
        assert!(sql.contains(&format!("project_id = '{project}'")), "{sql}");
        assert!(sql.contains("time >= toDateTime(100) AND time < toDateTime(400)"));
        assert!(sql.contains("x\\' OR 1=1 --"), "{sql}");
        assert_eq!(
            s.describe(MonitorKind::Logs),
            "count of logs matching \"body:\"x' OR 1=1 --\"\" over 5 min"
        );
        let url = s.explore_url(MonitorKind::Logs, "https://v.test/", project, (0, 60));
        assert_eq!(
            url,
            format!(
                "https://v.test/projects/{project}/logs?q=body%3A%22x%27+OR+1%3D1+--%22\
                 &from=1970-01-01T00%3A00%3A00Z&to=1970-01-01T00%3A01%3A00Z"
            )
        );
    }
}
