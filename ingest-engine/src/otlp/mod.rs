//! OTLP decoding: protobuf (and OTLP/JSON, transcoded to protobuf) straight into Native blocks.
//!
//! Owns the request → rows mapping for logs, traces and metrics. It never does IO and never
//! allocates per record beyond the column buffers it appends to. What it rejects and why is
//! reported per request ([`Decoded::rejected`]) for OTLP's `partial_success`.

mod anyvalue;
mod envelope;
pub mod json;
mod logs;
mod metrics;
pub mod response;
mod traces;
mod wire;

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

pub use anyvalue::ValueType;

use crate::clickhouse::tables::{LogsBlock, MetricsBlock, SpansBlock};

/// A payload that is not valid OTLP; the whole request is refused with this message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    message: Cow<'static, str>,
}

impl DecodeError {
    pub(crate) fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
        }
    }

    pub(crate) fn truncated() -> Self {
        Self::new("invalid protobuf: message truncated")
    }

    pub(crate) fn wire_type(what: &'static str) -> Self {
        Self::new(format!("invalid protobuf: wrong wire type for `{what}`"))
    }
}

/// The three OTLP signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `ExportLogsServiceRequest` → `logs`.
    Logs,
    /// `ExportTraceServiceRequest` → `spans`.
    Traces,
    /// `ExportMetricsServiceRequest` → `metrics`.
    Metrics,
}

impl Signal {
    /// All signals, in a fixed order.
    pub const ALL: [Signal; 3] = [Signal::Logs, Signal::Traces, Signal::Metrics];

    /// The ClickHouse table this signal's rows go to.
    pub fn table(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Traces => "spans",
            Signal::Metrics => "metrics",
        }
    }

    /// The label used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }
}

/// One decoded request: a Native block for the signal's table and what was rejected.
#[derive(Debug, Default)]
pub struct Decoded {
    /// The rows as one Native block (empty when no row was accepted).
    pub native: Vec<u8>,
    /// Rows in `native`.
    pub rows: u64,
    /// Records refused (reported in `partial_success`).
    pub rejected: u64,
    /// Why the first refused record was refused.
    pub reject_reason: Option<&'static str>,
}

impl Decoded {
    pub(crate) fn reject(&mut self, n: u64, reason: &'static str) {
        self.rejected += n;
        self.reject_reason.get_or_insert(reason);
    }
}

/// Decodes an OTLP protobuf export request of `signal` for `project` into Native rows.
pub fn decode(signal: Signal, payload: &[u8], project: &str) -> Result<Decoded, DecodeError> {
    let mut decoded = Decoded::default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let project = project.as_bytes();
    match signal {
        Signal::Logs => {
            let mut block = LogsBlock::default();
            logs::decode(payload, project, now, &mut block, &mut decoded)?;
            if block.rows > 0 {
                block.encode(&mut decoded.native);
            }
            decoded.rows = block.rows;
        }
        Signal::Traces => {
            let mut block = SpansBlock::default();
            traces::decode(payload, project, &mut block, &mut decoded)?;
            if block.rows > 0 {
                block.encode(&mut decoded.native);
            }
            decoded.rows = block.rows;
        }
        Signal::Metrics => {
            let mut block = MetricsBlock::default();
            metrics::decode(payload, project, now, &mut block, &mut decoded)?;
            if block.rows > 0 {
                block.encode(&mut decoded.native);
            }
            decoded.rows = block.rows;
        }
    }
    Ok(decoded)
}

/// Nanoseconds to the `DateTime` partition column (clamped to its range).
#[inline]
pub(crate) fn seconds(ns: u64) -> u32 {
    (ns / 1_000_000_000).min(u64::from(u32::MAX)) as u32
}
