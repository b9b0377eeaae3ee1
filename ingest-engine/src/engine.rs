//! The engine's request path, shared by every input and protocol: authenticate, decompress,
//! decode (inline or on the bounded pool), hand the items to the pipeline and wait until they
//! are safe (in the WAL, or stored), count, and conclude the request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use crate::auth::KeyStore;
use crate::config::{LimitsConfig, MonitorsConfig};
use crate::error::{IngestError, WireStatus};
use crate::pipeline::{Pipeline, Target};
use crate::telemetry::{RequestLabel, SignalLabel, Telemetry};
use crate::wire::body::{self, ContentEncoding};
use storage::compression::Compression;

/// Payloads above this size are decoded on the blocking pool so they never stall the async
/// workers (decoding runs at roughly 1 GB/s, so this is well under 0.1 ms inline).
pub(crate) const INLINE_DECODE_BYTES: usize = 64 << 10;

/// Whether a request body of `len` bytes sent with `encoding` is decoded on its own task
/// (small and uncompressed) rather than on the decoder pool.
fn decodes_inline(len: usize, encoding: ContentEncoding) -> bool {
    len <= INLINE_DECODE_BYTES && encoding == ContentEncoding::Identity
}

/// What a decoder made of one request: items for the pipeline, and the records it refused.
#[derive(Default)]
pub(crate) struct Decoded {
    pub(crate) items: Vec<Item>,
    /// Records refused (reported to OTLP clients in `partial_success`).
    pub(crate) rejected: u64,
    /// Why the first refused record was refused.
    pub(crate) reason: Option<&'static str>,
}

/// What a client is told about an accepted request.
#[derive(Debug, Default)]
pub(crate) struct Stored {
    /// Items handed on (event items are skipped while events are off).
    pub(crate) items: usize,
    /// Records refused.
    pub(crate) rejected: u64,
    /// Why they were refused.
    pub(crate) reason: Option<&'static str>,
}

/// One part of a decoded request: rows for a table, or an event for a stream.
pub(crate) struct Item {
    pub(crate) target: Target,
    /// A framed Native block, or an event record.
    pub(crate) data: Vec<u8>,
    /// Unframed size (batch sizing counts this).
    pub(crate) raw_len: usize,
    pub(crate) rows: u64,
}

impl Item {
    /// An event record for `target`'s stream.
    pub(crate) fn event(target: Target, record: Vec<u8>) -> Self {
        Item {
            target,
            raw_len: record.len(),
            data: record,
            rows: 1,
        }
    }
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

    /// The request path of every HTTP and gRPC input: holds the body in the memory budget,
    /// decompresses it (within `limit`) and runs the input's decoder `work` on it — on this
    /// task when small and uncompressed, else on the decoder pool — and returns once every item
    /// is safe. Records are counted under `label`.
    pub(crate) async fn ingest(
        &self,
        label: &'static str,
        payload: Bytes,
        encoding: ContentEncoding,
        limit: usize,
        work: impl FnOnce(&[u8]) -> Result<Decoded, IngestError> + Send + 'static,
    ) -> Result<Stored, IngestError> {
        self.check_schema()?;
        // The body counts against the memory budget until its rows are handed on.
        let _held = self.pipeline.hold(payload.len())?;
        let inline = decodes_inline(payload.len(), encoding);
        let decoded = self
            .decode(inline, move || {
                let raw = body::decompress(encoding, payload, limit)?;
                work(&raw)
            })
            .await??;
        self.store(label, decoded).await
    }

    /// Hands decoded items to the pipeline and counts them under `label` — the one place where
    /// `received = accepted + rejected` is kept. A request's records are its table rows, or,
    /// for a request of events only (probe results), its events. Event items are skipped when
    /// events are off.
    pub(crate) async fn store(
        &self,
        label: &'static str,
        decoded: Decoded,
    ) -> Result<Stored, IngestError> {
        let Decoded {
            items,
            rejected,
            reason,
        } = decoded;
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
            .inc_by(records + rejected);
        if rejected > 0 {
            self.telemetry
                .rejected
                .get_or_create(&label)
                .inc_by(rejected);
        }
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
        Ok(Stored {
            items: taken,
            rejected,
            reason,
        })
    }

    /// The end of every request, whatever its protocol: logs a failure (a warning when it is
    /// the engine's, not back-pressure), counts throttling and the request under `input` and
    /// `protocol` with its status, and gives the error with its wire status to the
    /// protocol's reply.
    pub(crate) fn conclude<T>(
        &self,
        input: &'static str,
        protocol: &'static str,
        result: Result<T, IngestError>,
    ) -> Result<T, (IngestError, WireStatus)> {
        let (status, outcome) = match result {
            Ok(v) => (200, Ok(v)),
            Err(error) => {
                let wire = error.status();
                if wire.http >= 500 && error.throttle_reason().is_none() {
                    tracing::warn!(input, protocol, %error, "request failed");
                } else {
                    tracing::debug!(input, protocol, %error, "request refused");
                }
                self.telemetry.count_throttled(&error);
                (wire.http, Err((error, wire)))
            }
        };
        self.telemetry
            .requests
            .get_or_create(&RequestLabel {
                signal: input,
                protocol,
                status,
            })
            .inc();
        outcome
    }
}
