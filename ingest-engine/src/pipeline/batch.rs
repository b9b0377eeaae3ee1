//! What travels from a sink (the WAL reader, or the in-memory batcher) to a deliverer (an
//! inserter or a publisher): a batch of blocks with its origin, and how its delivery ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::MemoryBudget;
use crate::error::IngestError;
use crate::telemetry::{TableLabel, Telemetry};
use crate::wal;

/// The outcome a request waits for (WAL off).
pub(crate) type AckSender = oneshot::Sender<Result<(), IngestError>>;

/// One request's rows as a framed Native block.
pub(crate) struct Block {
    pub(crate) framed: Bytes,
    pub(crate) rows: u64,
}

/// Who is told when a batch is stored.
pub(crate) enum Origin {
    /// WAL off: the requests waiting for this INSERT.
    Requests(Vec<AckSender>),
    /// WAL on: a range of the table's log, confirmed once stored.
    Wal {
        log: Arc<wal::Shared>,
        first: u64,
        last: u64,
        /// `insert_deduplication_token` (used where the server supports it).
        token: String,
    },
}

impl Origin {
    /// Tells the origin how its batch ended: confirms the WAL range when stored (else it is
    /// sent again), or answers the waiting requests.
    pub(crate) fn settle(self, result: Result<(), &IngestError>) {
        match self {
            Origin::Wal {
                log, first, last, ..
            } => {
                if result.is_ok() {
                    log.confirm(first, last);
                }
            }
            Origin::Requests(acks) => {
                for ack in acks {
                    let outcome = match result {
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
        }
    }
}

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

/// What is left of a batch once its blocks went to delivery.
pub(crate) struct BatchDone {
    rows: u64,
    reserved: usize,
    started: Instant,
    pub(crate) origin: Origin,
}

/// One INSERT's worth of rows.
pub(crate) struct Batch {
    pub(crate) blocks: Vec<Block>,
    pub(crate) rows: u64,
    /// Memory-budget bytes to release once the batch is done (WAL off).
    pub(crate) reserved: usize,
    pub(crate) started: Instant,
    pub(crate) origin: Origin,
}

impl Batch {
    /// Its blocks, and the rest for [`conclude`].
    pub(crate) fn split(self) -> (Vec<Block>, BatchDone) {
        let Batch {
            blocks,
            rows,
            reserved,
            started,
            origin,
        } = self;
        let done = BatchDone {
            rows,
            reserved,
            started,
            origin,
        };
        (blocks, done)
    }
}
