//! The protocol plumbing every input shares, and nothing input-specific: the connection table
//! of a listener (`connections`), capped body reads and
//! decompression (`body`, with its recycled buffers), unary gRPC framing and replies (`grpc`),
//! `google.rpc.Status` (`rpc_status`), media types, and the JSON answers of OneUptime's
//! HTTP inputs. This module knows neither the engine nor any input.

pub(crate) mod body;
pub(crate) mod buffers;
pub(crate) mod connections;
pub(crate) mod grpc;
pub(crate) mod rpc_status;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::error::{IngestError, WireStatus};

/// The request's media type, lowercase, without parameters (`""` when absent).
pub(crate) fn media_type(headers: &HeaderMap) -> String {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    raw.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// `Retry-After` in whole seconds (at least 1), for retryable errors.
pub(crate) fn set_retry_after(response: &mut Response, wire: &WireStatus) {
    if let Some(after) = wire.retry_after {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(after.as_secs().max(1)),
        );
    }
}

/// The answer of OneUptime's HTTP inputs: `200 {}`, or the error as `{"message": …}` with its
/// status (and `Retry-After` when retryable).
pub(crate) fn json_answer<T>(outcome: Result<T, (IngestError, WireStatus)>) -> Response {
    let (status, body) = match &outcome {
        Ok(_) => (StatusCode::OK, "{}".to_owned()),
        Err((error, wire)) => (
            StatusCode::from_u16(wire.http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            serde_json::json!({ "message": error.client_message() }).to_string(),
        ),
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Err((_, wire)) = &outcome {
        set_retry_after(&mut r, wire);
    }
    r
}
