//! From decoded Native blocks to ClickHouse: the write-ahead log (or, with it off, in-memory
//! batches whose requests wait), bounded concurrent INSERTs with retries, poison isolation and
//! acknowledgements.
//!
//! Invariant: `submit` resolves `Ok` only once the data cannot be lost by this process — with
//! the WAL on, when it is committed to the WAL (fsync per policy); with it off, when ClickHouse
//! confirmed the INSERT that carried it. Every byte held is bounded: the append queue and
//! `limits.max_buffered_bytes` (429), the WAL by `wal.max_bytes` (503), batches by `batch.*`.

mod batcher;
mod conclude;
mod dead_letter;
mod delivery;
mod inserter;
mod publisher;
mod target;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::budget::ByteBudget;
use crate::config::Config;
use crate::error::IngestError;
use crate::telemetry::{TableLabel, Telemetry};
use crate::wal;
use storage::client::ClickHouse;
use storage::compression::Compression;

use crate::batch::{AckSender, Batch, Block, Origin};
use batcher::TableBatcher;
use conclude::conclude;
pub(crate) use dead_letter::DeadLetter;
use target::Destination;
pub(crate) use target::Target;

/// What a target's queue feeds.
enum Out {
    Insert(storage::tables::Table),
    Publish(Box<publisher::Stream>),
}

/// Bytes of request bodies and encoded blocks held in memory, mirrored in the
/// `buffered_bytes` gauge.
pub(crate) struct MemoryBudget {
    bytes: ByteBudget,
    telemetry: Arc<Telemetry>,
}

impl MemoryBudget {
    fn try_reserve(&self, n: usize) -> bool {
        let reserved = self.bytes.try_reserve(n as u64);
        if reserved {
            self.telemetry.buffered_bytes.inc_by(n as i64);
        }
        reserved
    }

    pub(crate) fn release(&self, n: usize) {
        self.bytes.release(n as u64);
        self.telemetry.buffered_bytes.dec_by(n as i64);
    }
}

/// Bytes of a request held in the memory budget while it is decoded; released on drop.
pub(crate) struct Held {
    memory: Arc<MemoryBudget>,
    bytes: usize,
}

impl Held {
    /// Holds `bytes` instead: growing reserves the difference (refused when the budget has no
    /// room, and nothing changes), shrinking releases it.
    pub(crate) fn resize(&mut self, bytes: usize) -> Result<(), IngestError> {
        if bytes > self.bytes {
            if !self.memory.try_reserve(bytes - self.bytes) {
                return Err(IngestError::Overloaded {
                    retry_after: Duration::from_secs(1),
                });
            }
        } else {
            self.memory.release(self.bytes - bytes);
        }
        self.bytes = bytes;
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.memory.release(self.bytes);
    }
}

/// What the inserters need.
#[derive(Clone)]
pub(crate) struct InsertSettings {
    pub(crate) client: ClickHouse,
    pub(crate) max_attempts: u32,
    pub(crate) retry_base: Duration,
    pub(crate) retry_max: Duration,
    pub(crate) compression: Compression,
    /// Set once the server is known to support `insert_deduplication_token`.
    pub(crate) dedup_tokens: Arc<AtomicBool>,
    pub(crate) dead_letter: Arc<DeadLetter>,
    pub(crate) memory: Arc<MemoryBudget>,
    pub(crate) telemetry: Arc<Telemetry>,
    /// Cancelled after the shutdown deadline: retries stop, unconfirmed data stays in the WAL.
    pub(crate) abandon: CancellationToken,
}

enum Sink {
    /// WAL off: in-memory batches; requests wait for ClickHouse.
    Direct(Arc<TableBatcher>),
    /// WAL on.
    Wal(Arc<wal::Log>),
}

/// How long after a failed WAL write (with none succeeding since) the engine says it is not
/// ready; clients are told to retry after 5 s, so a disk with room again is found by them.
const WAL_FAILURE_NOT_READY: Duration = Duration::from_secs(10);

/// The batching and delivery pipeline of every target.
pub(crate) struct Pipeline {
    /// Indexed by [`Target::index`]; `None` for the event streams when Redis is off.
    sinks: Vec<Option<Sink>>,
    memory: Arc<MemoryBudget>,
    stop: CancellationToken,
    abandon: CancellationToken,
    tracker: TaskTracker,
    pub(crate) dedup_tokens: Arc<AtomicBool>,
    telemetry: Arc<Telemetry>,
    wal_budget: Option<Arc<ByteBudget>>,
}

/// Why the pipeline could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the write-ahead log in `{dir}`: {source}")]
pub struct WalOpenError {
    dir: String,
    source: std::io::Error,
}

impl Pipeline {
    /// Opens the WAL (replaying what it holds) or the in-memory batchers, and starts one
    /// inserter per table.
    pub(crate) fn start(
        client: ClickHouse,
        config: &Config,
        telemetry: Arc<Telemetry>,
    ) -> Result<Self, WalOpenError> {
        let ch = &config.clickhouse;
        let memory = Arc::new(MemoryBudget {
            bytes: ByteBudget::new(config.limits.max_buffered_bytes as u64),
            telemetry: telemetry.clone(),
        });
        let wal_error = |source| WalOpenError {
            dir: config.wal.dir.display().to_string(),
            source,
        };
        let dedup_tokens = Arc::new(AtomicBool::new(false));
        let abandon = CancellationToken::new();
        let settings = InsertSettings {
            client,
            max_attempts: ch.max_attempts,
            retry_base: Duration::from_millis(ch.retry_base_ms),
            retry_max: Duration::from_millis(ch.retry_max_ms.max(ch.retry_base_ms)),
            compression: ch.compression,
            dedup_tokens: dedup_tokens.clone(),
            dead_letter: Arc::new(DeadLetter::new(
                config.wal.dir.join("dead-letter"),
                config.wal.dead_letter_max_bytes,
            )),
            memory: memory.clone(),
            telemetry: telemetry.clone(),
            abandon: abandon.clone(),
        };
        let wal_id = if config.wal.enabled {
            Some(wal::wal_id(&config.wal.dir).map_err(wal_error)?)
        } else {
            None
        };
        let budget = Arc::new(ByteBudget::new(config.wal.max_bytes));
        let stop = CancellationToken::new();
        let tracker = TaskTracker::new();
        let publish =
            publisher::Settings::new(&config.redis, ch, telemetry.clone(), abandon.clone());
        let mut sinks = Vec::with_capacity(Target::ALL.len());
        for target in Target::ALL {
            let table = target.name();
            let out = match (target.destination(), &publish) {
                (Destination::Table(t), _) => Out::Insert(t),
                (Destination::Stream(stream), Some(publish)) => {
                    Out::Publish(Box::new(publish.for_stream(stream.name())))
                }
                // Events are off (no Redis configured): the target has no sink.
                (Destination::Stream(_), None) => {
                    sinks.push(None);
                    continue;
                }
            };
            // Enough queued batches to keep every insert slot busy; bytes are bounded anyway.
            let (tx, rx) = mpsc::channel(ch.max_concurrent_inserts * 2);
            let sink = match &wal_id {
                Some(wal_id) => Sink::Wal(
                    wal::Log::start(
                        wal::LogSettings {
                            table,
                            wal: &config.wal,
                            batch: &config.batch,
                            wal_id,
                            budget: budget.clone(),
                            telemetry: telemetry.clone(),
                        },
                        tx,
                    )
                    .map_err(wal_error)?,
                ),
                None => {
                    let batcher = Arc::new(TableBatcher::new(table, config.batch.clone(), tx));
                    tracker.spawn(batcher::run_age_flusher(batcher.clone(), stop.clone()));
                    Sink::Direct(batcher)
                }
            };
            match out {
                Out::Publish(publish) => {
                    tracker.spawn(publisher::run(rx, table, *publish, settings.memory.clone()));
                }
                Out::Insert(t) => {
                    tracker.spawn(inserter::run(
                        rx,
                        table,
                        storage::schema::insert_query(&ch.database, t),
                        settings.clone(),
                        ch.max_concurrent_inserts,
                    ));
                }
            }
            sinks.push(Some(sink));
        }
        tracker.close();
        if wal_id.is_some() {
            wal::report_room(&config.wal.dir, budget.used(), config.wal.max_bytes);
        }
        Ok(Self {
            sinks,
            memory,
            stop,
            abandon,
            tracker,
            dedup_tokens,
            telemetry,
            wal_budget: wal_id.is_some().then_some(budget),
        })
    }

    fn sink(&self, target: Target) -> Result<&Sink, IngestError> {
        self.sinks
            .get(target.index())
            .and_then(Option::as_ref)
            .ok_or_else(|| IngestError::Internal(format!("no sink for {}", target.name())))
    }

    /// Whether `target` takes data (event streams do only when Redis is configured).
    pub(crate) fn accepts(&self, target: Target) -> bool {
        self.sink(target).is_ok()
    }

    /// Counts a request body of `bytes` against the memory budget while it is decoded, so
    /// that in-flight requests are bounded in bytes too (429 beyond).
    pub(crate) fn hold(&self, bytes: usize) -> Result<Held, IngestError> {
        if !self.memory.try_reserve(bytes) {
            return Err(IngestError::Overloaded {
                retry_after: Duration::from_secs(1),
            });
        }
        Ok(Held {
            memory: self.memory.clone(),
            bytes,
        })
    }

    /// `(bytes used, wal.max_bytes)` of the WAL, when it is on.
    pub(crate) fn wal_usage(&self) -> Option<(u64, u64)> {
        self.wal_budget.as_ref().map(|b| (b.used(), b.limit()))
    }

    /// Whether a WAL write failed lately with none succeeding since (a full disk).
    pub(crate) fn wal_write_failing(&self) -> bool {
        self.sinks.iter().flatten().any(|sink| match sink {
            Sink::Wal(log) => log.write_failing(WAL_FAILURE_NOT_READY),
            Sink::Direct(_) => false,
        })
    }

    /// Whether acknowledgements come from the WAL (and ClickHouse outages are absorbed).
    pub(crate) fn has_wal(&self) -> bool {
        matches!(self.sinks.first(), Some(Some(Sink::Wal(_))))
    }

    /// Whether [`Pipeline::submit`] of `bytes` would find room now: `Err` is the back-pressure
    /// error it would give. A hint (another request may take the room first).
    pub(crate) fn room_for(&self, target: Target, bytes: usize) -> Result<(), IngestError> {
        let memory = &self.memory.bytes;
        if memory.used().saturating_add(bytes as u64) > memory.limit() {
            return Err(IngestError::Overloaded {
                retry_after: Duration::from_secs(1),
            });
        }
        match self.sink(target)? {
            Sink::Wal(log) if !log.has_room(bytes) => Err(IngestError::WalFull {
                retry_after: Duration::from_secs(5),
            }),
            _ => Ok(()),
        }
    }

    /// Takes one framed Native block (`raw_len` bytes before framing); returns once it is safe
    /// (see the module invariant).
    pub(crate) async fn submit(
        &self,
        target: Target,
        framed: Vec<u8>,
        raw_len: usize,
        rows: u64,
    ) -> Result<(), IngestError> {
        let bytes = framed.len();
        let sink = self.sink(target)?;
        if !self.memory.try_reserve(bytes) {
            return Err(IngestError::Overloaded {
                retry_after: Duration::from_secs(1),
            });
        }
        match sink {
            Sink::Wal(log) => {
                let result = log.append(framed, rows, raw_len).await;
                self.memory.release(bytes);
                result
            }
            Sink::Direct(batcher) => {
                let (ack, done) = oneshot::channel();
                let block = Block {
                    framed: Bytes::from(framed),
                    rows,
                };
                if let Err(e) = batcher.push(block, raw_len, bytes, ack).await {
                    self.memory.release(bytes);
                    return Err(e);
                }
                // A dropped sender means the batch was discarded at shutdown: nothing stored.
                done.await.unwrap_or(Err(IngestError::ShuttingDown))
            }
        }
    }

    /// WAL backlog (bytes, segments, oldest unconfirmed age) for `/readyz`; also refreshes
    /// the WAL gauges of `/metrics`.
    pub(crate) fn backlog(&self) -> Vec<(&'static str, wal::Backlog)> {
        let mut out = Vec::new();
        for (target, sink) in Target::ALL.iter().zip(&self.sinks) {
            let Some(Sink::Wal(log)) = sink else { continue };
            let b = log.backlog();
            let label = TableLabel {
                table: target.name(),
            };
            let t = &self.telemetry;
            t.wal_bytes.get_or_create(&label).set(b.bytes as i64);
            t.wal_segments.get_or_create(&label).set(b.segments as i64);
            t.wal_oldest_unflushed_seconds
                .get_or_create(&label)
                .set(b.oldest_unflushed_seconds);
            out.push((target.name(), b));
        }
        out
    }

    /// Refuses new data, flushes what it can within `deadline` and leaves the rest in the WAL
    /// (WAL off: requests whose data could not be stored in time get 503).
    pub(crate) async fn close(&self, deadline: Duration) {
        self.stop.cancel();
        for sink in self.sinks.iter().flatten() {
            match sink {
                Sink::Wal(log) => log.close(),
                Sink::Direct(batcher) => batcher.close().await,
            }
        }
        let flushed = tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok();
        if !flushed {
            tracing::warn!(
                ?deadline,
                "shutdown deadline reached; unconfirmed data stays in the WAL for the next start"
            );
        }
        self.abandon.cancel();
        for sink in self.sinks.iter().flatten() {
            if let Sink::Wal(log) = sink {
                let log = log.clone();
                let joined = tokio::task::spawn_blocking(move || log.abandon_and_join()).await;
                if joined.is_err() {
                    tracing::error!("WAL threads could not be joined");
                }
            }
        }
        // Inserters see their channels close once the readers are gone.
        let _ignored = tokio::time::timeout(Duration::from_secs(5), self.tracker.wait()).await;
    }
}
