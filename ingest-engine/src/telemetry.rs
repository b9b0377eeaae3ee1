//! Self-telemetry: the Prometheus metrics the engine exports on `/metrics`.
//!
//! Metric names live here only. `received = accepted + rejected` per signal; `flushed` counts
//! rows ClickHouse confirmed.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label set for per-signal counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignalLabel {
    /// `logs`, `traces` or `metrics`.
    pub signal: &'static str,
}

/// Label set for request outcomes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabel {
    /// `logs`, `traces` or `metrics`.
    pub signal: &'static str,
    /// `grpc` or `http`.
    pub protocol: &'static str,
    /// The HTTP status returned (gRPC requests use the equivalent HTTP status).
    pub status: u16,
}

/// Label set for per-table counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabel {
    /// ClickHouse table.
    pub table: &'static str,
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
    /// Requests refused because the buffer was full.
    pub throttled: Counter,
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
            throttled: Counter::default(),
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
            "Requests refused with 429: buffer full",
            t.throttled.clone(),
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

    /// Records whether the last ClickHouse call succeeded (drives `/readyz`).
    pub fn set_clickhouse_ok(&self, ok: bool) {
        self.clickhouse_ok.store(ok, Ordering::Relaxed);
    }

    /// Whether the last ClickHouse call succeeded.
    pub fn clickhouse_ok(&self) -> bool {
        self.clickhouse_ok.load(Ordering::Relaxed)
    }
}
