//! The end of a batch's delivery, the one place where it is counted and told.

use super::MemoryBudget;
use crate::batch::BatchDone;
use crate::error::IngestError;
use crate::telemetry::{TableLabel, Telemetry};

/// Ends a batch's delivery to `table` (an INSERT or a publish): counts it, returns its memory
/// and tells its origin. `result` is how many rows (or events) arrived.
pub(crate) fn conclude(
    batch: BatchDone,
    table: &'static str,
    result: Result<u64, IngestError>,
    memory: &MemoryBudget,
    telemetry: &Telemetry,
) {
    let label = TableLabel { table };
    let rows = batch.rows;
    match &result {
        Ok(delivered) => {
            telemetry.flushed.get_or_create(&label).inc_by(*delivered);
            telemetry
                .batch_latency
                .get_or_create(&label)
                .observe(batch.started.elapsed().as_secs_f64());
        }
        Err(IngestError::ShuttingDown) => {
            tracing::info!(table, rows, "shutdown: batch left for the next start");
        }
        Err(error) => {
            telemetry.failed.get_or_create(&label).inc();
            tracing::error!(table, rows, %error, "batch not delivered; its requests fail and will be retried by clients");
        }
    }
    memory.release(batch.reserved);
    batch.origin.settle(result.as_ref().map(|_| ()));
}
