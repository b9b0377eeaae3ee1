//! OTLP decoding: protobuf (and OTLP/JSON, transcoded to protobuf) straight into Native blocks.
//!
//! Owns the request → rows mapping for logs, traces and metrics. It never does IO and never
//! allocates per record beyond the column buffers it appends to. What it rejects and why is
//! reported per request ([`Decoded::rejected`]) for OTLP's `partial_success`.

pub(crate) mod anyvalue;
mod envelope;
pub(crate) mod handlers;
pub mod json;
mod logs;
mod metrics;
pub(crate) mod response;
mod traces;
mod wire;

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

pub use anyvalue::ValueType;

use storage::compression::Compression;
use storage::tables::{LogsBlock, MetricsBlock, SpansBlock};

pub use crate::error::DecodeError;

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
    /// The rows as one Native block (empty when no row was accepted); framed for ClickHouse's
    /// `decompress=1` when decoded with [`decode_framed`].
    pub native: Vec<u8>,
    /// Size of the unframed Native block (batch sizing counts this).
    pub native_len: usize,
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

/// Column buffers a thread keeps between requests are dropped above this size, so one huge
/// request does not pin its memory for good.
const MAX_KEPT_BLOCK_BYTES: usize = 32 << 20;

thread_local! {
    // Column buffers reused across requests: in steady state decoding allocates nothing but
    // the encoded block it returns.
    static NATIVE: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    static LOGS: RefCell<LogsBlock> = RefCell::new(LogsBlock::default());
    static SPANS: RefCell<SpansBlock> = RefCell::new(SpansBlock::default());
    static METRICS: RefCell<MetricsBlock> = RefCell::new(MetricsBlock::default());
}

/// Runs `body` on this thread's reusable block, then encodes what it appended.
macro_rules! with_block {
    ($cell:ident, $ty:ty, $decoded:ident, $compression:ident, |$block:ident| $body:expr) => {
        $cell.with(|cell| {
            let mut guard = cell.borrow_mut();
            let $block: &mut $ty = &mut guard;
            $block.clear();
            let result = $body;
            if result.is_ok() && $block.rows > 0 {
                match $compression {
                    None => {
                        $block.encode(&mut $decoded.native);
                        $decoded.native_len = $decoded.native.len();
                    }
                    // Frame while the block is still in cache, through reused scratch
                    // buffers; the block returned is allocated at its exact framed size (it
                    // may wait a while in the WAL cache or a batch).
                    Some(compression) => NATIVE.with(|scratch| {
                        let mut guard = scratch.borrow_mut();
                        let (native, framed) = &mut *guard;
                        native.clear();
                        framed.clear();
                        $block.encode(native);
                        $decoded.native_len = native.len();
                        storage::compression::frame(native, compression, framed);
                        $decoded.native = framed.to_vec();
                        if native.capacity() > MAX_KEPT_BLOCK_BYTES {
                            *native = Vec::new();
                        }
                        if framed.capacity() > MAX_KEPT_BLOCK_BYTES {
                            *framed = Vec::new();
                        }
                    }),
                }
            }
            $decoded.rows = $block.rows;
            if $block.capacity() > MAX_KEPT_BLOCK_BYTES {
                *$block = <$ty>::default();
            }
            result
        })
    };
}

/// Decodes an OTLP protobuf export request of `signal` for `project` into Native rows.
pub fn decode(signal: Signal, payload: &[u8], project: &str) -> Result<Decoded, DecodeError> {
    decode_with(signal, payload, project, None)
}

/// As [`decode`], with the block already framed for an INSERT with `decompress=1`.
pub fn decode_framed(
    signal: Signal,
    payload: &[u8],
    project: &str,
    compression: Compression,
) -> Result<Decoded, DecodeError> {
    decode_with(signal, payload, project, Some(compression))
}

/// Rows another protocol (Forward, Fluentd HTTP) appends to this thread's reusable `logs`
/// block, encoded and framed like an OTLP request's.
pub(crate) fn encode_logs<E>(
    compression: Compression,
    fill: impl FnOnce(&mut LogsBlock) -> Result<(), E>,
) -> Result<Decoded, E> {
    let mut decoded = Decoded::default();
    let compression = Some(compression);
    with_block!(LOGS, LogsBlock, decoded, compression, |block| fill(block))?;
    Ok(decoded)
}

fn decode_with(
    signal: Signal,
    payload: &[u8],
    project: &str,
    compression: Option<Compression>,
) -> Result<Decoded, DecodeError> {
    let mut decoded = Decoded::default();
    let now = now_unix_nano();
    let project = project.as_bytes();
    match signal {
        Signal::Logs => with_block!(LOGS, LogsBlock, decoded, compression, |block| {
            logs::decode(payload, project, now, block, &mut decoded)
        })?,
        Signal::Traces => with_block!(SPANS, SpansBlock, decoded, compression, |block| {
            traces::decode(payload, project, block, &mut decoded)
        })?,
        Signal::Metrics => with_block!(METRICS, MetricsBlock, decoded, compression, |block| {
            metrics::decode(payload, project, now, block, &mut decoded)
        })?,
    }
    Ok(decoded)
}

/// Now, in ns since the epoch: the receive time of every input.
pub(crate) fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Nanoseconds to the `DateTime` partition column (clamped to its range).
#[inline]
pub(crate) fn seconds(ns: u64) -> u32 {
    (ns / 1_000_000_000).min(u64::from(u32::MAX)) as u32
}
