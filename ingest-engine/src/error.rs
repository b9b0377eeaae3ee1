//! The ingest engine's error type and its one mapping to HTTP statuses and gRPC codes.
//!
//! Every failure a client can see is a variant here; `status()` is the single table from error
//! to wire code. Internal details never reach clients: they are logged where handled.

use std::borrow::Cow;
use std::time::Duration;

/// A payload that cannot be decoded (not valid OTLP, msgpack, JSON, …); the whole request is
/// refused with this message.
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

/// Why a request was not (fully) accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// No token, or a token the key store does not know.
    #[error("missing or unknown ingestion token")]
    Unauthenticated,
    /// Keys come from the control plane's database, and it has not been read yet.
    #[error("ingestion keys are not loaded yet; retry after {}s", retry_after.as_secs())]
    KeysUnavailable {
        /// When the client should try again.
        retry_after: Duration,
    },
    /// A server-agent or heartbeat key no monitor has.
    #[error("unknown {0} key")]
    UnknownKey(&'static str),
    /// The payload is not valid OTLP (protobuf or JSON); nothing of it was stored.
    #[error("{0}")]
    InvalidPayload(#[from] DecodeError),
    /// The body (before or after decompression) is larger than the configured cap.
    #[error("request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The configured cap in bytes.
        limit: usize,
    },
    /// A `Content-Type` the endpoint does not accept.
    #[error("unsupported content type `{media}`; use {accepted}")]
    UnsupportedMediaType {
        /// What the request named (cut to 100 characters).
        media: String,
        /// What the endpoint takes.
        accepted: &'static str,
    },
    /// A `Content-Encoding` (or `grpc-encoding`) the engine does not decode.
    #[error("unsupported content encoding `{0}`; use gzip, zstd, deflate or identity")]
    UnsupportedEncoding(String),
    /// The body is compressed but the compressed data is corrupt.
    #[error("request body could not be decompressed: {0}")]
    BadCompression(String),
    /// The client did not send the body within the request timeout.
    #[error("request body not received within {0:?}")]
    BodyTimeout(Duration),
    /// The buffer for data not yet in ClickHouse is full; retry later.
    #[error("ingest buffer is full; retry after {}s", retry_after.as_secs())]
    Overloaded {
        /// When the client should try again.
        retry_after: Duration,
    },
    /// The write-ahead log reached `wal.max_bytes` (ClickHouse is behind or down); retry later.
    #[error("write-ahead log is full while storage catches up; retry after {}s", retry_after.as_secs())]
    WalFull {
        /// When the client should try again.
        retry_after: Duration,
    },
    /// The write-ahead log could not be written (a full disk, an I/O error); nothing was
    /// acknowledged, and the engine recovers by itself once writes succeed again.
    #[error("the write-ahead log cannot be written now (disk full?); retry after {}s", retry_after.as_secs())]
    WalUnwritable {
        /// When the client should try again.
        retry_after: Duration,
    },
    /// ClickHouse did not take the data after every retry; nothing was acknowledged.
    #[error("storage is unavailable; retry after {}s", retry_after.as_secs())]
    StorageUnavailable {
        /// When the client should try again.
        retry_after: Duration,
    },
    /// The engine is shutting down and takes no new data.
    #[error("the engine is shutting down")]
    ShuttingDown,
    /// A bug or an unexpected server answer; the detail is logged, not sent.
    #[error("internal error")]
    Internal(String),
}

/// gRPC status codes used by the engine (numbering from `google.rpc.Code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum GrpcCode {
    /// 0
    Ok = 0,
    /// 3
    InvalidArgument = 3,
    /// 4
    DeadlineExceeded = 4,
    /// 5
    NotFound = 5,
    /// 8
    ResourceExhausted = 8,
    /// 12
    Unimplemented = 12,
    /// 13
    Internal = 13,
    /// 14
    Unavailable = 14,
    /// 16
    Unauthenticated = 16,
}

/// How an error goes on the wire.
#[derive(Debug, Clone, Copy)]
pub struct WireStatus {
    /// HTTP status code.
    pub http: u16,
    /// gRPC status code.
    pub grpc: GrpcCode,
    /// `Retry-After` / `RetryInfo`, for retryable errors only.
    pub retry_after: Option<Duration>,
}

impl IngestError {
    /// The one error → HTTP/gRPC table.
    pub fn status(&self) -> WireStatus {
        use GrpcCode as G;
        let (http, grpc, retry_after) = match self {
            IngestError::Unauthenticated => (401, G::Unauthenticated, None),
            IngestError::UnknownKey(_) => (404, G::NotFound, None),
            IngestError::InvalidPayload(_) | IngestError::BadCompression(_) => {
                (400, G::InvalidArgument, None)
            }
            IngestError::PayloadTooLarge { .. } => (413, G::ResourceExhausted, None),
            IngestError::UnsupportedMediaType { .. } | IngestError::UnsupportedEncoding(_) => {
                (415, G::InvalidArgument, None)
            }
            IngestError::BodyTimeout(_) => (408, G::DeadlineExceeded, None),
            IngestError::Overloaded { retry_after } => (429, G::Unavailable, Some(*retry_after)),
            IngestError::StorageUnavailable { retry_after }
            | IngestError::WalFull { retry_after }
            | IngestError::WalUnwritable { retry_after }
            | IngestError::KeysUnavailable { retry_after } => {
                (503, G::Unavailable, Some(*retry_after))
            }
            IngestError::ShuttingDown => (503, G::Unavailable, Some(Duration::from_secs(1))),
            IngestError::Internal(_) => (500, G::Internal, None),
        };
        WireStatus {
            http,
            grpc,
            retry_after,
        }
    }

    /// Why the engine pushed back, for the `requests_throttled` counter; `None` for other errors.
    pub fn throttle_reason(&self) -> Option<&'static str> {
        match self {
            IngestError::Overloaded { .. } => Some("buffer_full"),
            IngestError::WalFull { .. } => Some("wal_full"),
            IngestError::WalUnwritable { .. } => Some("wal_unwritable"),
            _ => None,
        }
    }

    /// The message a client sees (internal details are hidden).
    pub fn client_message(&self) -> String {
        self.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors_carry_a_delay_and_final_ones_do_not() {
        let d = Duration::from_secs(2);
        for e in [
            IngestError::Overloaded { retry_after: d },
            IngestError::WalFull { retry_after: d },
            IngestError::WalUnwritable { retry_after: d },
            IngestError::ShuttingDown,
        ] {
            let s = e.status();
            assert!(matches!(s.http, 429 | 503) && s.retry_after.is_some());
            assert_eq!(s.grpc, GrpcCode::Unavailable);
        }
        let s = IngestError::PayloadTooLarge { limit: 1 }.status();
        assert_eq!(
            (s.http, s.grpc, s.retry_after),
            (413, GrpcCode::ResourceExhausted, None)
        );
        assert_eq!(
            IngestError::Internal("secret".into()).client_message(),
            "internal error"
        );
    }
}
