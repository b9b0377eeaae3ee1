//! A table's inserter: INSERTs batches of framed Native blocks with bounded
//! concurrency, exponential backoff with jitter, and a bounded number of attempts.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Semaphore, mpsc};

use super::{Batch, InsertSettings, MemoryBudget};
use crate::error::IngestError;
use crate::telemetry::{TableLabel, Telemetry};

pub(crate) async fn run(
    mut rx: mpsc::Receiver<Batch>,
    table: &'static str,
    insert_query: String,
    settings: InsertSettings,
    max_concurrent: usize,
    memory: Arc<MemoryBudget>,
    telemetry: Arc<Telemetry>,
) {
    let slots = Arc::new(Semaphore::new(max_concurrent));
    let insert_query: Arc<str> = Arc::from(insert_query);
    let mut running = tokio::task::JoinSet::new();
    while let Some(batch) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let (settings, memory, telemetry) = (settings.clone(), memory.clone(), telemetry.clone());
        let query = insert_query.clone();
        running.spawn(async move {
            insert_batch(batch, table, &query, &settings, &memory, &telemetry).await;
            drop(permit);
        });
        // Reap finished inserts so the set stays small.
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}

async fn insert_batch(
    batch: Batch,
    table: &'static str,
    query: &str,
    settings: &InsertSettings,
    memory: &MemoryBudget,
    telemetry: &Telemetry,
) {
    let Batch {
        blocks,
        rows,
        reserved,
        started,
        acks,
    } = batch;
    let label = TableLabel { table };
    // Blocks were framed when decoded; an INSERT body is their concatenation.
    let body: Vec<u8> = blocks.concat();
    drop(blocks);
    let result = insert_with_retries(table, query, Bytes::from(body), settings, telemetry).await;
    match &result {
        Ok(()) => {
            telemetry.flushed.get_or_create(&label).inc_by(rows);
            telemetry
                .batch_latency
                .get_or_create(&label)
                .observe(started.elapsed().as_secs_f64());
        }
        Err(e) => {
            telemetry.failed.get_or_create(&label).inc();
            tracing::error!(table, rows, error = %e, "batch not stored; its requests fail and will be retried by clients");
        }
    }
    memory.release(reserved);
    for ack in acks {
        let outcome = match &result {
            Ok(()) => Ok(()),
            Err(IngestError::Internal(_)) => Err(IngestError::Internal(String::new())),
            Err(_) => Err(IngestError::StorageUnavailable {
                retry_after: Duration::from_secs(5),
            }),
        };
        // The request may have gone away (client timeout); nothing to tell then.
        let _ignored = ack.send(outcome);
    }
}

async fn insert_with_retries(
    table: &'static str,
    query: &str,
    framed: Bytes,
    settings: &InsertSettings,
    telemetry: &Telemetry,
) -> Result<(), IngestError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match settings
            .client
            .insert_native(query, framed.clone(), &[])
            .await
        {
            Ok(()) => {
                telemetry.set_clickhouse_ok(true);
                return Ok(());
            }
            Err(e) if !e.is_retryable() => {
                return Err(IngestError::Internal(format!(
                    "clickhouse refused the batch: {e}"
                )));
            }
            Err(e) => {
                telemetry.set_clickhouse_ok(false);
                if attempt >= settings.max_attempts {
                    return Err(IngestError::StorageUnavailable {
                        retry_after: Duration::from_secs(5),
                    });
                }
                telemetry.retried.get_or_create(&TableLabel { table }).inc();
                let delay = backoff(attempt, settings.retry_base, settings.retry_max);
                tracing::warn!(table, attempt, ?delay, error = %e, "insert failed, retrying");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Exponential backoff with "equal jitter": half fixed, half random, capped at `max`.
fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(max);
    let half = exp / 2;
    half + half.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let (base, max) = (Duration::from_millis(100), Duration::from_secs(2));
        for attempt in 1..40 {
            let d = backoff(attempt, base, max);
            let cap = base.saturating_mul(1 << (attempt - 1).min(16)).min(max);
            assert!(d >= cap / 2 && d <= cap, "attempt {attempt}: {d:?}");
        }
    }
}
