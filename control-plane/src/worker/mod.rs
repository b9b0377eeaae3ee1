//! `vigil worker`: drains the monitor streams (probe results, heartbeats, agent reports) in a
//! Redis consumer group, evaluates criteria, writes `monitor_results` to ClickHouse and the
//! status timeline, incidents and notifications to PostgreSQL, sends notifications, and runs
//! the periodic jobs. Any number of workers can run side by side.

mod apply;
mod consumer;
pub(crate) mod entry;
pub(crate) mod evaluate;
pub(crate) mod jobs;
pub(crate) mod page_events;
pub(crate) mod processor;
pub(crate) mod results;
pub(crate) mod rollups;
pub(crate) mod telemetry;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::notification::sender;
use consumer::Consumer;
use entry::StreamKind;
use processor::Processor;
use results::ResultRows;

/// Runs the worker until `shutdown` completes; what is in flight is left unacknowledged and
/// taken over by another worker (or this one, restarted).
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let pool = crate::db::connect(&config).await?;
    crate::db::migrate(&pool).await?;
    let w = config.worker.clone();
    let clickhouse = w.clickhouse().context("building the ClickHouse client")?;
    let token = CancellationToken::new();
    let stop = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        stop.cancel();
    });
    // The table's DDL is the ingest engine's schema (one owner for every ClickHouse table).
    loop {
        match storage::schema::ensure(&clickhouse, &w.clickhouse_database, 0).await {
            Ok(_) => break,
            Err(error) => tracing::warn!(%error, "clickhouse schema not ready; retrying"),
        }
        tokio::select! {
            _ = token.cancelled() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
    let processor = Arc::new(Processor::new(
        pool.clone(),
        ResultRows::new(clickhouse.clone(), &w.clickhouse_database),
    ));
    let redis = redis::Client::open(w.redis_url.trim()).context("VIGIL_REDIS_URL")?;
    let tasks = TaskTracker::new();
    for kind in StreamKind::ALL {
        let consumer = Consumer::new(kind, redis.clone(), w.clone(), processor.clone());
        tasks.spawn(consumer.run(token.clone()));
    }
    tasks.spawn(jobs::run(
        pool.clone(),
        processor.clone(),
        clickhouse,
        w.clone(),
        config.public_url.clone(),
        token.clone(),
    ));
    tasks.spawn(sender::run(pool, w.clone(), token.clone()));
    tracing::info!(consumer = %w.consumer, group = %w.group, "worker running");
    tasks.close();
    tasks.wait().await;
    Ok(())
}
