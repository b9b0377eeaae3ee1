//! The telemetry monitors' job: every `logs`, `traces` and `metrics` monitor whose interval
//! has passed since its last result is measured in ClickHouse over its window
//! (`monitor::telemetry`), and the value is judged like any other result — criteria, status,
//! incidents, notifications. The incident's cause says what was measured and links the same
//! query in the explorer. Monitors are taken oldest result first, a bounded number per run and
//! a few at a time, so a slow query delays only its own monitor.

use chrono::Utc;
use futures_util::StreamExt;
use sqlx::PgPool;
use storage::client::ClickHouse;
use uuid::Uuid;

use super::entry::{MonitorResult, Source};
use super::processor::Processor;
use crate::monitor::MonitorKind;
use crate::monitor::observation::Observation;
use crate::monitor::telemetry::{TelemetrySettings, measure};

/// Most monitors measured per run (the rest wait for the next run, oldest first).
const PER_RUN: i64 = 200;
/// Most measurements in flight at once.
const IN_FLIGHT: usize = 4;

/// Where the job reads and what it links to.
pub(crate) struct Telemetry<'a> {
    pub(crate) pool: &'a PgPool,
    pub(crate) processor: &'a Processor,
    pub(crate) clickhouse: &'a ClickHouse,
    pub(crate) database: &'a str,
    /// The base of the explorer links in causes.
    pub(crate) public_url: &'a str,
}

type DueRow = (Uuid, Uuid, String, serde_json::Value, i32);

impl Telemetry<'_> {
    /// Measures every due telemetry monitor and processes the results; how many were judged.
    pub(crate) async fn run(&self) -> anyhow::Result<usize> {
        let due: Vec<DueRow> = sqlx::query_as(
            "SELECT id, project_id, kind, settings, timeout_ms FROM monitors \
             WHERE enabled AND kind IN ('logs', 'traces', 'metrics') \
             AND (last_result_at IS NULL \
                  OR last_result_at <= now() - make_interval(secs => interval_secs)) \
             ORDER BY last_result_at NULLS FIRST LIMIT $1",
        )
        .bind(PER_RUN)
        .fetch_all(self.pool)
        .await?;
        let results: Vec<MonitorResult> = futures_util::stream::iter(due)
            .map(|row| self.measured(row))
            .buffer_unordered(IN_FLIGHT)
            .filter_map(|r| async move { r })
            .collect()
            .await;
        if results.is_empty() {
            return Ok(0);
        }
        Ok(self.processor.process(&results).await?)
    }

    /// One monitor's result; `None` (logged) when it cannot be measured now — its status
    /// stays as it was rather than moving on a value nobody read.
    async fn measured(&self, row: DueRow) -> Option<MonitorResult> {
        let (monitor_id, project_id, kind, settings, timeout_ms) = row;
        let kind = MonitorKind::parse(&kind)?;
        let settings: TelemetrySettings = match serde_json::from_value(settings) {
            Ok(s) => s,
            Err(error) => {
                tracing::warn!(%monitor_id, %error, "a telemetry monitor's settings do not read");
                return None;
            }
        };
        let now = Utc::now();
        // The window ends after the second under way, so it includes it.
        let to = now.timestamp() + 1;
        let window = (to - i64::from(settings.window_secs), to);
        let timeout = std::time::Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(10_000));
        let value = match measure(
            self.clickhouse,
            self.database,
            project_id,
            kind,
            &settings,
            window,
            timeout,
        )
        .await
        {
            Ok(value) => value,
            Err(error) => {
                tracing::warn!(%monitor_id, %error, "a telemetry monitor was not measured");
                return None;
            }
        };
        let measured = settings.describe(kind);
        let explore = settings.explore_url(kind, self.public_url, project_id, window);
        let shown = value.map_or_else(|| "no data".to_owned(), |v| format!("{}", round(v)));
        Some(MonitorResult {
            // One id per monitor and second: two workers measuring together store one row.
            event_id: format!("telemetry:{monitor_id}:{}", now.timestamp()),
            project_id,
            monitor_id,
            probe_id: None,
            at: now,
            source: Source::Telemetry,
            observation: Observation {
                is_online: true,
                telemetry_value: value.map(round),
                ..Observation::default()
            },
            detail: serde_json::json!({
                "cause": format!("{measured}: {shown} — {explore}"),
                "measured": measured,
                "explore": explore,
            }),
        })
    }
}

/// To six decimal places: values are compared as people read them.
fn round(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}
