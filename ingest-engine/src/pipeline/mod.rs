//! From decoded Native blocks to ClickHouse: per-table batching, a byte budget for everything
//! not yet stored, bounded concurrent INSERTs with retries, and acknowledgements.
//!
//! Invariant: a request's `submit` resolves `Ok` only after ClickHouse confirmed the INSERT that
//! carried its rows. Until the write-ahead log exists (issue 3) this is how Vigil never
//! acknowledges data it could still lose; a failed batch fails its requests with 503 so clients
//! retry. Memory is bounded by `limits.max_buffered_bytes` (counted as the framed, usually
//! LZ4-compressed, bytes held): beyond it `submit` fails at once with 429 instead of queueing.

mod batcher;
mod inserter;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clickhouse::client::ClickHouse;
use crate::config::{BatchConfig, ClickHouseConfig};
use crate::error::IngestError;
use crate::otlp::Signal;
use crate::telemetry::Telemetry;

pub(crate) use batcher::Batch;
use batcher::TableBatcher;

/// The outcome a request waits for.
pub(crate) type AckSender = oneshot::Sender<Result<(), IngestError>>;

/// Bytes reserved by data that ClickHouse has not confirmed yet.
pub(crate) struct MemoryBudget {
    used: AtomicUsize,
    limit: usize,
    telemetry: Arc<Telemetry>,
}

impl MemoryBudget {
    fn try_reserve(&self, n: usize) -> bool {
        let reserved = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used + n <= self.limit).then_some(used + n)
            })
            .is_ok();
        if reserved {
            self.telemetry.buffered_bytes.inc_by(n as i64);
        }
        reserved
    }

    pub(crate) fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
        self.telemetry.buffered_bytes.dec_by(n as i64);
    }
}

/// Settings the inserters need.
#[derive(Clone)]
pub(crate) struct InsertSettings {
    pub(crate) client: ClickHouse,
    pub(crate) max_attempts: u32,
    pub(crate) retry_base: Duration,
    pub(crate) retry_max: Duration,
}

/// The batching and insert pipeline of all tables.
pub(crate) struct Pipeline {
    tables: [Arc<TableBatcher>; 3],
    memory: Arc<MemoryBudget>,
    stop: CancellationToken,
    tracker: TaskTracker,
}

impl Pipeline {
    /// Starts one batcher and one inserter per table.
    pub(crate) fn start(
        client: ClickHouse,
        database: &str,
        ch: &ClickHouseConfig,
        batch: &BatchConfig,
        max_buffered_bytes: usize,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        let memory = Arc::new(MemoryBudget {
            used: AtomicUsize::new(0),
            limit: max_buffered_bytes,
            telemetry: telemetry.clone(),
        });
        let settings = InsertSettings {
            client,
            max_attempts: ch.max_attempts,
            retry_base: Duration::from_millis(ch.retry_base_ms),
            retry_max: Duration::from_millis(ch.retry_max_ms.max(ch.retry_base_ms)),
        };
        let stop = CancellationToken::new();
        let tracker = TaskTracker::new();
        let tables = Signal::ALL.map(|signal| {
            // Enough queued batches to keep every insert slot busy; memory is bounded anyway.
            let (tx, rx) = mpsc::channel(ch.max_concurrent_inserts * 2);
            let table = Arc::new(TableBatcher::new(signal.table(), batch.clone(), tx));
            tracker.spawn(inserter::run(
                rx,
                signal.table(),
                crate::clickhouse::schema::insert_query(database, signal.table()),
                settings.clone(),
                ch.max_concurrent_inserts,
                memory.clone(),
                telemetry.clone(),
            ));
            tracker.spawn(batcher::run_age_flusher(table.clone(), stop.clone()));
            table
        });
        tracker.close();
        Self {
            tables,
            memory,
            stop,
            tracker,
        }
    }

    fn table(&self, signal: Signal) -> &Arc<TableBatcher> {
        match signal {
            Signal::Logs => &self.tables[0],
            Signal::Traces => &self.tables[1],
            Signal::Metrics => &self.tables[2],
        }
    }

    /// Queues one framed Native block (`raw_len` bytes before framing) and waits until
    /// ClickHouse has stored it.
    pub(crate) async fn submit(
        &self,
        signal: Signal,
        framed: Vec<u8>,
        raw_len: usize,
        rows: u64,
    ) -> Result<(), IngestError> {
        let bytes = framed.len();
        if !self.memory.try_reserve(bytes) {
            return Err(IngestError::Overloaded {
                retry_after: Duration::from_secs(1),
            });
        }
        let (ack, done) = oneshot::channel();
        if let Err(e) = self
            .table(signal)
            .push(framed, raw_len, rows, bytes, ack)
            .await
        {
            self.memory.release(bytes);
            return Err(e);
        }
        // A dropped sender means the batch was discarded at shutdown: nothing was stored.
        done.await.unwrap_or(Err(IngestError::ShuttingDown))
    }

    /// Flushes everything pending, refuses new data, and waits for in-flight inserts (at most
    /// `deadline`). Requests whose data could not be stored in time get 503.
    pub(crate) async fn close(&self, deadline: Duration) {
        self.stop.cancel();
        for table in &self.tables {
            table.close().await;
        }
        if tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                ?deadline,
                "shutdown deadline reached with inserts still running"
            );
        }
    }
}
