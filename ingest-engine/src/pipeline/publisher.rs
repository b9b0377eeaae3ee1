//! A Redis stream's publisher: takes batches of events (from the stream's WAL, or from
//! in-memory batches with the WAL off), appends them with one pipelined `XADD` per event, and
//! tells each batch's origin the outcome.
//!
//! Like ClickHouse inserts, failed publishes are retried with backoff — without limit for WAL
//! batches (a Redis outage delays events, the WAL pushes back when full), else up to
//! `clickhouse.max_attempts`. Every connect and command has `redis.timeout_ms`. A replayed
//! batch may publish an event twice; each carries an `event_id` for the worker to deduplicate.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::delivery::backoff;
use super::{Batch, Block, MemoryBudget, Origin, conclude};
use crate::config::{ClickHouseConfig, RedisConfig};
use crate::error::IngestError;
use crate::telemetry::{TableLabel, Telemetry};

/// What every stream's publisher shares.
#[derive(Clone)]
pub(crate) struct Settings {
    client: redis::Client,
    prefix: String,
    max_len: u64,
    timeout: Duration,
    retry_base: Duration,
    retry_max: Duration,
    max_attempts: u32,
    telemetry: Arc<Telemetry>,
    abandon: CancellationToken,
}

/// One stream's publisher settings.
pub(crate) struct Stream {
    key: String,
    settings: Settings,
}

impl Settings {
    /// `None` when events are off (`redis.url` empty) or the URL is unusable (logged; the
    /// configuration check refuses such URLs before start).
    pub(crate) fn new(
        redis: &RedisConfig,
        retries: &ClickHouseConfig,
        telemetry: Arc<Telemetry>,
        abandon: CancellationToken,
    ) -> Option<Self> {
        if !redis.enabled() {
            tracing::warn!("redis.url is empty: no events are published for the worker");
            return None;
        }
        let client = match redis::Client::open(redis.url.trim()) {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "redis.url is not usable: no events are published");
                return None;
            }
        };
        Some(Self {
            client,
            prefix: redis.stream_prefix.clone(),
            max_len: redis.stream_max_len,
            timeout: Duration::from_millis(redis.timeout_ms),
            retry_base: Duration::from_millis(retries.retry_base_ms),
            retry_max: Duration::from_millis(retries.retry_max_ms.max(retries.retry_base_ms)),
            max_attempts: retries.max_attempts,
            telemetry,
            abandon,
        })
    }

    pub(crate) fn for_stream(&self, stream: &str) -> Stream {
        Stream {
            key: format!("{}{stream}", self.prefix),
            settings: self.clone(),
        }
    }
}

/// Publishes the batches of `rx` to `stream`, one batch at a time.
pub(crate) async fn run(
    mut rx: mpsc::Receiver<Batch>,
    table: &'static str,
    stream: Stream,
    memory: Arc<MemoryBudget>,
) {
    let mut connection = None;
    while let Some(batch) = rx.recv().await {
        let (blocks, done) = batch.split();
        let patient = matches!(done.origin, Origin::Wal { .. });
        let result = publish(&stream, &mut connection, &blocks, patient, table).await;
        conclude(done, table, result, &memory, &stream.settings.telemetry);
    }
}

/// Appends every event of `blocks`; returns how many were published.
async fn publish(
    stream: &Stream,
    connection: &mut Option<MultiplexedConnection>,
    blocks: &[Block],
    patient: bool,
    table: &'static str,
) -> Result<u64, IngestError> {
    let s = &stream.settings;
    let mut pipe = redis::pipe();
    let mut events = 0u64;
    for block in blocks {
        let fields = match proto::events::fields(&block.framed) {
            Ok(fields) => fields,
            Err(error) => {
                // Only a bug writes such a record; it must not block the stream.
                tracing::error!(table, %error, "malformed event skipped");
                s.telemetry
                    .dead_lettered
                    .get_or_create(&TableLabel { table })
                    .inc();
                continue;
            }
        };
        let cmd = pipe
            .cmd("XADD")
            .arg(&stream.key)
            .arg("MAXLEN")
            .arg("~")
            .arg(s.max_len)
            .arg("*");
        for (name, value) in fields {
            cmd.arg(name).arg(value);
        }
        cmd.ignore();
        events += 1;
    }
    if events == 0 {
        return Ok(0);
    }
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let error = match try_publish(s, connection, &pipe).await {
            Ok(()) => return Ok(events),
            Err(error) => error,
        };
        // A failed connection is rebuilt on the next attempt.
        *connection = None;
        if attempt >= s.max_attempts && !patient {
            return Err(IngestError::StorageUnavailable {
                retry_after: Duration::from_secs(5),
            });
        }
        s.telemetry
            .retried
            .get_or_create(&TableLabel { table })
            .inc();
        let delay = backoff(attempt, s.retry_base, s.retry_max);
        tracing::warn!(table, attempt, ?delay, %error, "publishing events failed, retrying");
        tokio::select! {
            _ = s.abandon.cancelled() => return Err(IngestError::ShuttingDown),
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// Why one publish attempt failed.
#[derive(Debug, thiserror::Error)]
enum PublishError {
    #[error("redis {what} timed out after {after:?}")]
    Timeout {
        what: &'static str,
        after: std::time::Duration,
    },
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

async fn try_publish(
    s: &Settings,
    connection: &mut Option<MultiplexedConnection>,
    pipe: &redis::Pipeline,
) -> Result<(), PublishError> {
    let timed_out = |what| PublishError::Timeout {
        what,
        after: s.timeout,
    };
    let conn = match connection {
        Some(conn) => conn,
        None => {
            let conn = tokio::time::timeout(s.timeout, s.client.get_multiplexed_async_connection())
                .await
                .map_err(|_| timed_out("connect"))??;
            connection.insert(conn)
        }
    };
    tokio::time::timeout(s.timeout, pipe.query_async::<()>(conn))
        .await
        .map_err(|_| timed_out("XADD"))??;
    Ok(())
}
