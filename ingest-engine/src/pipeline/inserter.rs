//! A table's inserter: takes batches, runs a bounded number of deliveries at once, and tells
//! each batch's origin the outcome (waiting requests, or the WAL's confirmations).

use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc};

use super::delivery::{self, Delivered};
use super::{Batch, InsertSettings, Origin};
use crate::error::IngestError;
use crate::telemetry::TableLabel;

pub(crate) async fn run(
    mut rx: mpsc::Receiver<Batch>,
    table: &'static str,
    insert_query: String,
    settings: InsertSettings,
    max_concurrent: usize,
) {
    let slots = Arc::new(Semaphore::new(max_concurrent));
    let insert_query: Arc<str> = Arc::from(insert_query);
    let mut running = tokio::task::JoinSet::new();
    while let Some(batch) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let (settings, query) = (settings.clone(), insert_query.clone());
        running.spawn(async move {
            insert_batch(batch, table, &query, &settings).await;
            drop(permit);
        });
        // Reap finished inserts so the set stays small.
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}

async fn insert_batch(batch: Batch, table: &'static str, query: &str, settings: &InsertSettings) {
    let Batch {
        blocks,
        rows,
        reserved,
        started,
        origin,
    } = batch;
    let label = TableLabel { table };
    let telemetry = &settings.telemetry;
    let (token, patient) = match &origin {
        Origin::Wal { token, .. } => (Some(token.as_str()), true),
        Origin::Requests(_) => (None, false),
    };
    let job = delivery::Job {
        table,
        query,
        token,
        patient,
        settings,
    };
    let result = delivery::deliver(&job, blocks).await;
    match &result {
        Ok(Delivered { stored, .. }) => {
            telemetry.flushed.get_or_create(&label).inc_by(*stored);
            telemetry
                .batch_latency
                .get_or_create(&label)
                .observe(started.elapsed().as_secs_f64());
        }
        Err(IngestError::ShuttingDown) => {
            tracing::info!(table, rows, "shutdown: batch left for the next start");
        }
        Err(e) => {
            telemetry.failed.get_or_create(&label).inc();
            tracing::error!(table, rows, error = %e, "batch not stored; its requests fail and will be retried by clients");
        }
    }
    settings.memory.release(reserved);
    origin.settle(result.as_ref().map(|_| ()));
}
