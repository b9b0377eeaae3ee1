//! Self-telemetry: the Prometheus metrics the engine exports on `/metrics`.
//!
//! Metric names live here only. `received = accepted + rejected` per signal; `flushed` counts
//! rows ClickHouse confirmed.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label set for per-signal counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignalLabel {
    /// `logs`, `traces`, `metrics`, `server_metrics` or `incoming_requests`.
    pub signal: &'static str,
}

/// Label set for request outcomes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabel {
    /// `logs`, `traces` or `metrics`; for the other inputs `fluentd`, `server_agent`,
    /// `server_agent_verify` or `incoming_request`.
    pub signal: &'static str,
    /// `grpc`, `http` or `forward`.
    pub protocol: &'static str,
    /// The HTTP status returned (gRPC requests use the equivalent HTTP status).
    pub status: u16,
}

/// Label set for per-table counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabel {
    /// ClickHouse table, or the WAL name of an event stream (`events-server_report`…).
    pub table: &'static str,
}

/// Label set for back-pressure refusals.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// `buffer_full` (429), `wal_full` or `wal_unwritable` (503).
    pub reason: &'static str,
}

type HistogramFamily = Family<TableLabel, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.002, 2.0, 14))
}

/// Every metric of the engine.
pub struct Telemetry {
    registry: Registry,
    /// Requests by signal, protocol and returned status.
    pub requests: Family<RequestLabel, Counter>,
    /// Records decoded from requests.
    pub received: Family<SignalLabel, Counter>,
    /// Records accepted (acknowledged once stored).
    pub accepted: Family<SignalLabel, Counter>,
    /// Records refused and reported in `partial_success`.
    pub rejected: Family<SignalLabel, Counter>,
    /// Rows ClickHouse confirmed.
    pub flushed: Family<TableLabel, Counter>,
    /// INSERT attempts that failed and were retried.
    pub retried: Family<TableLabel, Counter>,
    /// Batches that failed after every attempt (their requests got 503).
    pub failed: Family<TableLabel, Counter>,
    /// Requests refused by back-pressure, by reason.
    pub throttled: Family<ReasonLabel, Counter>,
    /// Rows ClickHouse refused as invalid, written to the dead-letter files.
    pub dead_lettered: Family<TableLabel, Counter>,
    /// Poison rows not written to a dead-letter file because it was full (counted, logged).
    pub dead_letter_overflow: Family<TableLabel, Counter>,
    /// Rows sent again from the WAL after a restart.
    pub wal_replayed: Family<TableLabel, Counter>,
    /// Torn or corrupt WAL regions found (and skipped).
    pub wal_corruptions: Family<TableLabel, Counter>,
    /// WAL bytes on disk, per table (refreshed when scraped).
    pub wal_bytes: Family<TableLabel, Gauge>,
    /// WAL segment files, per table (refreshed when scraped).
    pub wal_segments: Family<TableLabel, Gauge>,
    /// Age of the oldest record ClickHouse has not confirmed, per table (refreshed when scraped).
    pub wal_oldest_unflushed_seconds: Family<TableLabel, Gauge<f64, AtomicU64>>,
    /// Decoded bytes waiting for ClickHouse.
    pub buffered_bytes: Gauge<i64, AtomicI64>,
    /// Seconds from a batch's first row to ClickHouse's confirmation.
    pub batch_latency: HistogramFamily,
    clickhouse_ok: AtomicBool,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let mut t = Self {
            registry: Registry::with_prefix("vigil_ingest"),
            requests: Family::default(),
            received: Family::default(),
            accepted: Family::default(),
            rejected: Family::default(),
            flushed: Family::default(),
            retried: Family::default(),
            failed: Family::default(),
            throttled: Family::default(),
            dead_lettered: Family::default(),
            dead_letter_overflow: Family::default(),
            wal_replayed: Family::default(),
            wal_corruptions: Family::default(),
            wal_bytes: Family::default(),
            wal_segments: Family::default(),
            wal_oldest_unflushed_seconds: Family::default(),
            buffered_bytes: Gauge::default(),
            batch_latency: Family::new_with_constructor(latency_histogram),
            clickhouse_ok: AtomicBool::new(false),
        };
        let r = &mut t.registry;
        r.register(
            "requests",
            "Export requests by signal, protocol and status",
            t.requests.clone(),
        );
        r.register(
            "records_received",
            "Records decoded from requests",
            t.received.clone(),
        );
        r.register(
            "records_accepted",
            "Records accepted and stored",
            t.accepted.clone(),
        );
        r.register(
            "records_rejected",
            "Records refused (partial success)",
            t.rejected.clone(),
        );
        r.register(
            "rows_flushed",
            "Rows confirmed by ClickHouse",
            t.flushed.clone(),
        );
        r.register(
            "inserts_retried",
            "INSERT attempts retried",
            t.retried.clone(),
        );
        r.register(
            "batches_failed",
            "Batches failed after every attempt",
            t.failed.clone(),
        );
        r.register(
            "requests_throttled",
            "Requests refused by back-pressure (429 buffer_full, 503 wal_full or wal_unwritable)",
            t.throttled.clone(),
        );
        r.register(
            "rows_dead_lettered",
            "Rows ClickHouse refused as invalid, written to the dead-letter files",
            t.dead_lettered.clone(),
        );
        r.register(
            "rows_dead_letter_overflow",
            "Poison rows not written because the dead-letter files were full",
            t.dead_letter_overflow.clone(),
        );
        r.register(
            "wal_replayed_rows",
            "Rows sent again from the WAL after a restart",
            t.wal_replayed.clone(),
        );
        r.register(
            "wal_corruptions",
            "Torn or corrupt WAL regions found and skipped",
            t.wal_corruptions.clone(),
        );
        r.register("wal_bytes", "WAL bytes on disk", t.wal_bytes.clone());
        r.register("wal_segments", "WAL segment files", t.wal_segments.clone());
        r.register(
            "wal_oldest_unflushed_seconds",
            "Age of the oldest record ClickHouse has not confirmed",
            t.wal_oldest_unflushed_seconds.clone(),
        );
        r.register(
            "buffered_bytes",
            "Decoded bytes waiting for ClickHouse",
            t.buffered_bytes.clone(),
        );
        r.register(
            "batch_latency_seconds",
            "First row to ClickHouse confirmation",
            t.batch_latency.clone(),
        );
        t
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ignored = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts a back-pressure refusal (no-op for other errors).
    pub fn count_throttled(&self, error: &crate::error::IngestError) {
        if let Some(reason) = error.throttle_reason() {
            self.throttled.get_or_create(&ReasonLabel { reason }).inc();
        }
    }

    /// Records whether the last ClickHouse call succeeded (drives `/readyz`).
    pub fn set_clickhouse_ok(&self, ok: bool) {
        self.clickhouse_ok.store(ok, Ordering::Relaxed);
    }

    /// Whether the last ClickHouse call succeeded.
    pub fn clickhouse_ok(&self) -> bool {
        self.clickhouse_ok.load(Ordering::Relaxed)
    }
}
