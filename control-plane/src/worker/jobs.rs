//! The worker's periodic jobs, every `jobs_interval_secs`: push monitors whose pushes are
//! overdue (heartbeats not received, server agents silent) get a "missing" result evaluated like
//! any other; telemetry monitors whose interval has passed are measured (`telemetry.rs`); probes not heard from for `probe_offline_secs` are marked offline; telemetry
//! partitions older than `retention_days` are dropped; once a minute the per-day status
//! rollups of status pages are brought up to date (`rollups.rs`); status page subscribers are
//! told of new incidents and maintenance (`page_events.rs`). Scheduled maintenance is not a job of
//! its own: incidents are not opened while a window is on (`processor.rs`).
//!
//! Every worker runs them; that is safe (each is idempotent) and needs no leader.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use storage::client::ClickHouse;
use storage::tables::Table;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::entry::{MonitorResult, Source};
use super::processor::Processor;
use super::telemetry::Telemetry;
use super::{page_events, rollups};
use crate::config::WorkerConfig;
use crate::monitor::observation::Observation;

/// Runs the jobs until `shutdown`.
pub(crate) async fn run(
    pool: PgPool,
    processor: Arc<Processor>,
    clickhouse: ClickHouse,
    config: WorkerConfig,
    public_url: String,
    shutdown: CancellationToken,
) {
    let every = Duration::from_secs(config.jobs_interval_secs.max(1));
    let mut rolled_up: Option<std::time::Instant> = None;
    loop {
        if rolled_up.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            // The first run fills the whole window; later ones today and yesterday.
            let days = if rolled_up.is_some() {
                2
            } else {
                rollups::DAYS
            };
            match rollups::roll_up(&pool, days).await {
                Ok(_) => rolled_up = Some(std::time::Instant::now()),
                Err(error) => tracing::warn!(%error, "rollup job failed"),
            }
        }
        if let Err(error) = missing_pushes(&pool, &processor).await {
            tracing::warn!(%error, "missing-push job failed");
        }
        let measuring = Telemetry {
            pool: &pool,
            processor: &processor,
            clickhouse: &clickhouse,
            database: &config.clickhouse_database,
            public_url: &public_url,
        };
        if let Err(error) = measuring.run().await {
            tracing::warn!(%error, "telemetry monitor job failed");
        }
        if let Err(error) = offline_probes(&pool, config.probe_offline_secs).await {
            tracing::warn!(%error, "offline-probe job failed");
        }
        if let Err(error) = page_events::tell_subscribers(&pool, &public_url).await {
            tracing::warn!(%error, "status page subscriber job failed");
        }
        if config.retention_days > 0
            && let Err(error) = retention(
                &clickhouse,
                &config.clickhouse_database,
                config.retention_days,
            )
            .await
        {
            tracing::warn!(%error, "retention job failed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Evaluates a "missing" result for every enabled push monitor whose last push (or creation)
/// is older than its interval.
pub(crate) async fn missing_pushes(pool: &PgPool, processor: &Processor) -> anyhow::Result<usize> {
    let now = Utc::now();
    let overdue: Vec<(Uuid, Uuid, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, project_id, kind, COALESCE(last_push_at, created_at) FROM monitors \
         WHERE enabled AND kind IN ('heartbeat', 'server') \
         AND COALESCE(last_push_at, created_at) < $1 - make_interval(secs => interval_secs)",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    let results: Vec<MonitorResult> = overdue
        .into_iter()
        .map(|(monitor_id, project_id, kind, last)| {
            let minutes = (now - last).num_milliseconds() as f64 / 60_000.0;
            MonitorResult {
                // One id per monitor and second: a job run twice in a second stores one row.
                event_id: format!("missing:{monitor_id}:{}", now.timestamp()),
                project_id,
                monitor_id,
                probe_id: None,
                at: now,
                source: Source::Missing,
                observation: Observation {
                    is_online: false,
                    minutes_since_last_push: Some((minutes * 100.0).round() / 100.0),
                    error: Some(match kind.as_str() {
                        "server" => "the server agent has not reported".into(),
                        _ => "no heartbeat received".into(),
                    }),
                    ..Observation::default()
                },
                detail: serde_json::json!({}),
            }
        })
        .collect();
    if results.is_empty() {
        return Ok(0);
    }
    Ok(processor.process(&results).await?)
}

async fn offline_probes(pool: &PgPool, after_secs: u64) -> Result<(), sqlx::Error> {
    let done = sqlx::query(
        "UPDATE probes SET is_online = false WHERE is_online \
         AND (last_seen_at IS NULL OR last_seen_at < now() - make_interval(secs => $1))",
    )
    .bind(after_secs as f64)
    .execute(pool)
    .await?;
    if done.rows_affected() > 0 {
        tracing::info!(probes = done.rows_affected(), "probes marked offline");
    }
    Ok(())
}

/// Drops the daily partitions older than `days` of every telemetry table (works on every
/// ClickHouse version, unlike TTL). On a cluster the old days are found through the
/// Distributed table (every shard's) and dropped from the local tables `ON CLUSTER` (every
/// node's; a replica that is down drops them when the DDL queue reaches it).
async fn retention(client: &ClickHouse, database: &str, days: u32) -> anyhow::Result<()> {
    for table in Table::ALL.map(Table::name) {
        let (old, drop_from) = match client.cluster() {
            None => (
                format!(
                    "SELECT DISTINCT partition FROM system.parts WHERE database = '{database}' \
                     AND table = '{table}' AND active AND toDate(partition) < today() - {days} \
                     FORMAT TabSeparated"
                ),
                format!("{database}.{table}"),
            ),
            Some(cluster) => (
                format!(
                    "SELECT DISTINCT toDate(time) FROM {database}.{table} \
                     WHERE time < toDateTime(today() - {days}) FORMAT TabSeparated"
                ),
                format!("{database}.{table}_local ON CLUSTER {cluster}"),
            ),
        };
        let old = match client.query(&old).await {
            Ok(old) => old,
            // A table not made yet (UNKNOWN_TABLE) holds nothing to drop.
            Err(storage::client::ClickHouseError::Server { code: Some(60), .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        for partition in old.lines().map(str::trim).filter(|p| !p.is_empty()) {
            // Partitions are dates (`toDate(time)`): nothing to escape.
            if !partition.chars().all(|c| c.is_ascii_digit() || c == '-') {
                continue;
            }
            client
                .query(&format!(
                    "ALTER TABLE {drop_from} DROP PARTITION '{partition}'"
                ))
                .await?;
            tracing::info!(table, partition, "retention dropped a partition");
        }
    }
    Ok(())
}
