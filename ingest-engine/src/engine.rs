//! The engine's request path, shared by every protocol: authenticate, decompress, decode, hand
//! the rows to the pipeline and wait until they are safe (in the WAL, or stored).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use crate::auth::KeyStore;
use crate::config::{LimitsConfig, MonitorsConfig};
use crate::error::IngestError;
use crate::otlp::response::Encoding;
use crate::otlp::{self, Signal};
use crate::pipeline::{Pipeline, Target};
use crate::server::body::{self, ContentEncoding};
use crate::telemetry::{SignalLabel, Telemetry};
use storage::compression::Compression;

/// Payloads above this size are decoded on the blocking pool so they never stall the async
/// workers (decoding runs at roughly 1 GB/s, so this is well under 0.1 ms inline).
pub(crate) const INLINE_DECODE_BYTES: usize = 64 << 10;

/// Whether a request body of `len` bytes sent with `encoding` is decoded on its own task
/// (small and uncompressed) rather than on the decoder pool.
pub(crate) fn decodes_inline(len: usize, encoding: ContentEncoding) -> bool {
    len <= INLINE_DECODE_BYTES && encoding == ContentEncoding::Identity
}

/// What a client is told about an accepted request.
#[derive(Debug, Default)]
pub struct ExportSummary {
    /// Records refused (reported in `partial_success`).
    pub rejected: u64,
    /// Why they were refused.
    pub reason: Option<&'static str>,
}

/// One part of a decoded non-OTLP request: rows for a table, or an event for a stream.
pub(crate) struct Item {
    pub(crate) target: Target,
    /// A framed Native block, or an event record.
    pub(crate) data: Vec<u8>,
    /// Unframed size (batch sizing counts this).
    pub(crate) raw_len: usize,
    pub(crate) rows: u64,
}

/// Shared state of a running engine.
pub(crate) struct Engine {
    pub(crate) keys: KeyStore,
    pub(crate) pipeline: Pipeline,
    pub(crate) telemetry: Arc<Telemetry>,
    pub(crate) limits: LimitsConfig,
    pub(crate) monitors: MonitorsConfig,
    /// Bounds decodes running on the blocking pool: more than one per core only adds threads,
    /// each warming its own scratch buffers, and context switches.
    pub(crate) decoders: tokio::sync::Semaphore,
    pub(crate) compression: Compression,
    pub(crate) schema_ready: AtomicBool,
}

impl Engine {
    /// The project named by the request's token.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<str>, IngestError> {
        self.keys_loaded()?;
        self.keys
            .project_for(headers)
            .ok_or(IngestError::Unauthenticated)
    }

    /// Refuses (503) while the key store waits for its first load: an unknown key cannot be
    /// told from one not read yet.
    pub(crate) fn keys_loaded(&self) -> Result<(), IngestError> {
        match self.keys.is_loaded() {
            true => Ok(()),
            false => Err(IngestError::KeysUnavailable {
                retry_after: Duration::from_secs(2),
            }),
        }
    }

    /// Whether the engine takes exports now: once its keys are loaded, and with the WAL while
    /// it has room and can be written (a ClickHouse outage is absorbed); without, when the
    /// schema is applied and ClickHouse answers.
    pub(crate) fn is_ready(&self) -> bool {
        if !self.keys.is_loaded() {
            return false;
        }
        match self.pipeline.wal_usage() {
            Some((used, max)) => used < max / 10 * 9 && !self.pipeline.wal_write_failing(),
            None => self.schema_ready.load(Ordering::Acquire) && self.telemetry.clickhouse_ok(),
        }
    }

    /// Runs CPU-heavy decoding `work`: on this task when `inline` (small inputs), else on the
    /// blocking pool, at most `limits.decode_threads` at once, so it never stalls the async
    /// workers.
    pub(crate) async fn decode<T: Send + 'static>(
        &self,
        inline: bool,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, IngestError> {
        if inline {
            return Ok(work());
        }
        let _permit = self
            .decoders
            .acquire()
            .await
            .map_err(|_| IngestError::Internal("decoder pool closed".into()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| IngestError::Internal(format!("decode task failed: {e}")))
    }

    /// With the WAL off, nothing is taken before the schema is applied (with it on, data waits
    /// in the WAL).
    fn check_schema(&self) -> Result<(), IngestError> {
        if !self.pipeline.has_wal() && !self.schema_ready.load(Ordering::Acquire) {
            return Err(IngestError::StorageUnavailable {
                retry_after: Duration::from_secs(2),
            });
        }
        Ok(())
    }

    /// The request path of the inputs other than OTLP (Fluentd HTTP, server agent, incoming
    /// requests, probe results): holds the `held` body bytes in the memory budget, runs `work`
    /// (inline or on the decoder pool), and returns once every item is safe, with the number
    /// of items taken. Records are counted under `label`: a request's table rows, or, for a
    /// request of events only (probe results), its events. Event items are skipped when events
    /// are off.
    pub(crate) async fn ingest(
        &self,
        label: &'static str,
        held: usize,
        inline: bool,
        work: impl FnOnce() -> Result<Vec<Item>, IngestError> + Send + 'static,
    ) -> Result<usize, IngestError> {
        self.check_schema()?;
        let _held = self.pipeline.hold(held)?;
        let items = self.decode(inline, work).await??;
        let label = SignalLabel { signal: label };
        let has_rows = items.iter().any(|i| i.target.stream().is_none());
        let records: u64 = items
            .iter()
            .filter(|i| !has_rows || i.target.stream().is_none())
            .map(|i| i.rows)
            .sum();
        self.telemetry
            .received
            .get_or_create(&label)
            .inc_by(records);
        let mut taken = 0;
        for item in items {
            if item.rows == 0 || !self.pipeline.accepts(item.target) {
                continue;
            }
            self.pipeline
                .submit(item.target, item.data, item.raw_len, item.rows)
                .await?;
            taken += 1;
        }
        self.telemetry
            .accepted
            .get_or_create(&label)
            .inc_by(records);
        Ok(taken)
    }

    /// Decodes one export request and returns once its rows are safe.
    pub(crate) async fn export(
        &self,
        signal: Signal,
        project: Arc<str>,
        payload: Bytes,
        content_encoding: ContentEncoding,
        encoding: Encoding,
    ) -> Result<ExportSummary, IngestError> {
        self.check_schema()?;
        // The body counts against the memory budget until its rows are handed on.
        let _held = self.pipeline.hold(payload.len())?;
        let limit = self.limits.max_body_bytes;
        let compression = self.compression;
        let inline = decodes_inline(payload.len(), content_encoding);
        let work = move || -> Result<otlp::Decoded, IngestError> {
            let raw = body::decompress(content_encoding, payload, limit)?;
            let decoded = match encoding {
                Encoding::Protobuf => otlp::decode_framed(signal, &raw, &project, compression)?,
                Encoding::Json => {
                    let protobuf = otlp::json::to_protobuf(signal, &raw)?;
                    otlp::decode_framed(signal, &protobuf, &project, compression)?
                }
            };
            Ok(decoded)
        };
        let decoded = self.decode(inline, work).await??;
        let label = SignalLabel {
            signal: signal.as_str(),
        };
        self.telemetry
            .received
            .get_or_create(&label)
            .inc_by(decoded.rows + decoded.rejected);
        if decoded.rejected > 0 {
            self.telemetry
                .rejected
                .get_or_create(&label)
                .inc_by(decoded.rejected);
        }
        if decoded.rows > 0 {
            self.pipeline
                .submit(
                    signal.into(),
                    decoded.native,
                    decoded.native_len,
                    decoded.rows,
                )
                .await?;
            self.telemetry
                .accepted
                .get_or_create(&label)
                .inc_by(decoded.rows);
        }
        Ok(ExportSummary {
            rejected: decoded.rejected,
            reason: decoded.reject_reason,
        })
    }
}
