//! A table's inserter: takes batches, runs a bounded number of deliveries at once, and tells
//! each batch's origin the outcome (waiting requests, or the WAL's confirmations).

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

use super::delivery::{self, Delivered};
use super::{Batch, InsertSettings, Origin, conclude};

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
    let (blocks, done) = batch.split();
    let (token, patient) = match &done.origin {
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
    let result = delivery::deliver(&job, blocks)
        .await
        .map(|Delivered { stored, .. }| stored);
    conclude(done, table, result, &settings.memory, &settings.telemetry);
}
