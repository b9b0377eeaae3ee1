//! One stream's consumer in the worker group: reads batches (`XREADGROUP`), hands them to the
//! processor, and acknowledges them (`XACK`) only once their effects are committed — at least
//! once. Entries another consumer took and left unacknowledged for `reclaim_idle_ms` (it died
//! or hangs) are claimed (`XPENDING` + `XCLAIM`) and processed here; an entry delivered
//! `max_deliveries` times, or one that cannot be read, goes to the dead-letter stream
//! `<stream>:dead` with the reason, and is acknowledged.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use redis::streams::{
    StreamClaimReply, StreamId, StreamPendingCountReply, StreamReadOptions, StreamReadReply,
};
use tokio_util::sync::CancellationToken;

use super::entry::{self, MonitorResult, StreamKind};
use super::processor::Processor;
use crate::config::WorkerConfig;

/// Why a Redis step failed (the consumer reconnects and goes on).
#[derive(Debug, thiserror::Error)]
pub(crate) enum StreamError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
}

/// A consumer of one stream.
pub(crate) struct Consumer {
    kind: StreamKind,
    key: String,
    dead: String,
    client: redis::Client,
    config: WorkerConfig,
    processor: Arc<Processor>,
}

impl Consumer {
    pub(crate) fn new(
        kind: StreamKind,
        client: redis::Client,
        config: WorkerConfig,
        processor: Arc<Processor>,
    ) -> Self {
        let key = format!("{}{}", config.stream_prefix, kind.name());
        Self {
            kind,
            dead: format!("{key}:dead"),
            key,
            client,
            config,
            processor,
        }
    }

    /// Consumes until `shutdown`; Redis failures are logged and retried with backoff.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        loop {
            let result = tokio::select! {
                _ = shutdown.cancelled() => return,
                result = self.session(&shutdown) => result,
            };
            match result {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(stream = %self.key, %error, retry_in = ?backoff, "stream consumer failed");
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.config.redis_timeout_ms.max(1))
    }

    async fn bounded<T>(
        &self,
        limit: Duration,
        work: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StreamError> {
        tokio::time::timeout(limit, work)
            .await
            .map_err(|_| StreamError::Timeout(limit))?
            .map_err(StreamError::from)
    }

    /// One connection's life: join the group, then read, reclaim and process until an error.
    async fn session(&self, shutdown: &CancellationToken) -> Result<(), StreamError> {
        let block = Duration::from_millis(self.config.block_ms);
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout()))
            .set_response_timeout(Some(block + self.timeout()));
        let mut conn = self
            .bounded(
                self.timeout(),
                self.client
                    .get_multiplexed_async_connection_with_config(&config),
            )
            .await?;
        // The group may exist already (BUSYGROUP): that is the normal case.
        let created: redis::RedisResult<()> = tokio::time::timeout(
            self.timeout(),
            conn.xgroup_create_mkstream(&self.key, &self.config.group, "0"),
        )
        .await
        .map_err(|_| StreamError::Timeout(self.timeout()))?;
        if let Err(e) = created
            && e.code() != Some("BUSYGROUP")
        {
            return Err(e.into());
        }
        let reclaim_every = Duration::from_millis((self.config.reclaim_idle_ms / 2).max(100));
        let mut last_reclaim = Instant::now() - reclaim_every;
        while !shutdown.is_cancelled() {
            if last_reclaim.elapsed() >= reclaim_every {
                self.reclaim(&mut conn, shutdown).await?;
                last_reclaim = Instant::now();
            }
            let options = StreamReadOptions::default()
                .group(&self.config.group, &self.config.consumer)
                .count(self.config.batch_size)
                .block(self.config.block_ms as usize);
            let reply: StreamReadReply = self
                .bounded(
                    block + self.timeout(),
                    conn.xread_options(&[&self.key], &[">"], &options),
                )
                .await?;
            let entries: Vec<StreamId> = reply.keys.into_iter().flat_map(|k| k.ids).collect();
            if !entries.is_empty() {
                self.handle(&mut conn, entries, shutdown).await?;
            }
        }
        Ok(())
    }

    /// Takes over entries idle for `reclaim_idle_ms`; dead-letters those delivered too often.
    async fn reclaim(
        &self,
        conn: &mut MultiplexedConnection,
        shutdown: &CancellationToken,
    ) -> Result<(), StreamError> {
        let idle = self.config.reclaim_idle_ms as usize;
        let pending: StreamPendingCountReply = self
            .bounded(
                self.timeout(),
                conn.xpending_count(
                    &self.key,
                    &self.config.group,
                    "-",
                    "+",
                    self.config.batch_size,
                ),
            )
            .await?;
        let stale: Vec<_> = pending
            .ids
            .into_iter()
            .filter(|p| p.last_delivered_ms >= idle)
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = stale.iter().map(|p| p.id.as_str()).collect();
        // Only entries still idle that long are claimed: two reclaimers never both get one.
        let claimed: StreamClaimReply = self
            .bounded(
                self.timeout(),
                conn.xclaim(
                    &self.key,
                    &self.config.group,
                    &self.config.consumer,
                    idle,
                    &ids,
                ),
            )
            .await?;
        let deliveries: HashMap<&str, usize> = stale
            .iter()
            .map(|p| (p.id.as_str(), p.times_delivered))
            .collect();
        let (poison, retry): (Vec<StreamId>, Vec<StreamId>) =
            claimed.ids.into_iter().partition(|e| {
                deliveries.get(e.id.as_str()).copied().unwrap_or(0) >= self.config.max_deliveries
            });
        tracing::info!(stream = %self.key, claimed = retry.len(), dead = poison.len(), "reclaimed stale entries");
        for entry in &poison {
            let reason = format!(
                "delivered {} times without success",
                self.config.max_deliveries
            );
            self.dead_letter(conn, entry, &reason).await?;
        }
        if !retry.is_empty() {
            self.handle(conn, retry, shutdown).await?;
        }
        Ok(())
    }

    /// Processes `entries` (retrying the processor until it succeeds or the worker stops),
    /// dead-letters unreadable ones, and acknowledges them all.
    async fn handle(
        &self,
        conn: &mut MultiplexedConnection,
        entries: Vec<StreamId>,
        shutdown: &CancellationToken,
    ) -> Result<(), StreamError> {
        let mut results: Vec<MonitorResult> = Vec::with_capacity(entries.len());
        let mut ids: Vec<&str> = Vec::with_capacity(entries.len());
        for e in &entries {
            match entry::parse(self.kind, &e.map) {
                Ok(result) => {
                    results.push(result);
                    ids.push(&e.id);
                }
                Err(reason) => self.dead_letter(conn, e, &reason.to_string()).await?,
            }
        }
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.processor.process(&results).await {
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(stream = %self.key, %error, retry_in = ?backoff, "batch not processed; retrying");
                }
            }
            tokio::select! {
                // Unacknowledged: another worker (or this one, restarted) reclaims them.
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
        if !ids.is_empty() {
            let _acked: usize = self
                .bounded(
                    self.timeout(),
                    conn.xack(&self.key, &self.config.group, &ids),
                )
                .await?;
        }
        Ok(())
    }

    /// Copies `entry` to the dead-letter stream with `reason`, then acknowledges it.
    async fn dead_letter(
        &self,
        conn: &mut MultiplexedConnection,
        entry: &StreamId,
        reason: &str,
    ) -> Result<(), StreamError> {
        tracing::warn!(stream = %self.key, id = %entry.id, reason, "entry dead-lettered");
        let mut fields: Vec<(String, Vec<u8>)> = vec![
            ("dead_reason".into(), reason.as_bytes().to_vec()),
            ("dead_stream".into(), self.key.as_bytes().to_vec()),
            ("dead_id".into(), entry.id.as_bytes().to_vec()),
        ];
        for (name, value) in &entry.map {
            if let redis::Value::BulkString(bytes) = value {
                fields.push((name.clone(), bytes.clone()));
            }
        }
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("XADD")
            .arg(&self.dead)
            .arg("MAXLEN")
            .arg("~")
            .arg(100_000)
            .arg("*")
            .arg(&fields)
            .ignore()
            .xack(&self.key, &self.config.group, &[&entry.id])
            .ignore();
        self.bounded(self.timeout(), pipe.query_async::<()>(conn))
            .await
    }
}
