//! Unary gRPC over HTTP/2, written by hand instead of with tonic so that the request message
//! arrives as one zero-copy `Bytes` for the wire walker (no prost object tree), and so that
//! size caps apply before and after `grpc-encoding` decompression with RESOURCE_EXHAUSTED, as
//! the OTLP spec asks. Replies are one data frame and trailers; errors are "trailers-only"
//! responses carrying `grpc-status`, `grpc-message` and, for retryable ones, a
//! `google.rpc.Status` with `RetryInfo` in `grpc-status-details-bin`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use bytes::{Buf, Bytes};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body::Frame;

use super::body::{ContentEncoding, read_limited};
use super::rpc_status::{self, Encoding};
use crate::error::{DecodeError, GrpcCode, IngestError, WireStatus};

/// The answer to a call: its reply message, or the error (already counted) as trailers-only.
pub(crate) fn reply(outcome: Result<Vec<u8>, (IngestError, WireStatus)>) -> Response {
    match outcome {
        Ok(reply) => ok_response(reply),
        Err((error, wire)) => trailers_only(wire.grpc, &error.client_message(), wire.retry_after),
    }
}

/// The answer to a method this server does not have.
pub(crate) async fn unimplemented() -> Response {
    trailers_only(GrpcCode::Unimplemented, "unknown method", None)
}

/// One unary message: `flag u8 | length u32 BE | message`.
fn unframe(mut body: Bytes, limit: usize) -> Result<(bool, Bytes), IngestError> {
    if body.len() < 5 {
        return Err(IngestError::InvalidPayload(DecodeError::new(
            "invalid gRPC frame: shorter than its 5-byte header",
        )));
    }
    let compressed = body.get_u8() == 1;
    let len = body.get_u32() as usize;
    if len > limit {
        return Err(IngestError::PayloadTooLarge { limit });
    }
    if body.len() != len {
        return Err(IngestError::InvalidPayload(DecodeError::new(
            "invalid gRPC frame: length does not match the body (one message per call)",
        )));
    }
    Ok((compressed, body))
}

/// 415 for a call that is not gRPC (nothing else can be said in gRPC terms).
pub(crate) fn not_grpc(headers: &HeaderMap) -> Option<Response> {
    let is_grpc = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if is_grpc {
        return None;
    }
    let mut r = Response::new(Body::from("expected content-type application/grpc\n"));
    *r.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    Some(r)
}

/// The call's one message, read within the engine's size and time limits, and how it is
/// compressed.
pub(crate) async fn message(
    headers: &HeaderMap,
    body: Body,
    max_bytes: usize,
    timeout: Duration,
) -> Result<(Bytes, ContentEncoding), IngestError> {
    let raw = read_limited(headers, body, max_bytes + 5, timeout).await?;
    let (compressed, message) = unframe(raw, max_bytes)?;
    let encoding = if compressed {
        ContentEncoding::from_headers(headers, "grpc-encoding")?
    } else {
        ContentEncoding::Identity
    };
    Ok((message, encoding))
}

fn grpc_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(
        "grpc-accept-encoding",
        HeaderValue::from_static("gzip,zstd,deflate,identity"),
    );
}

pub(crate) fn ok_response(reply: Vec<u8>) -> Response {
    let mut framed = Vec::with_capacity(reply.len() + 5);
    framed.push(0);
    framed.extend_from_slice(&(reply.len() as u32).to_be_bytes());
    framed.extend_from_slice(&reply);
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let mut r = Response::new(Body::new(UnaryBody {
        data: Some(Bytes::from(framed)),
        trailers: Some(trailers),
    }));
    grpc_headers(r.headers_mut());
    r
}

/// An error as a trailers-only response (HTTP 200, status in the headers, empty body).
pub(crate) fn trailers_only(
    code: GrpcCode,
    message: &str,
    retry_after: Option<Duration>,
) -> Response {
    let mut r = Response::new(Body::empty());
    let h = r.headers_mut();
    grpc_headers(h);
    h.insert("grpc-status", HeaderValue::from(code as i32));
    if let Ok(v) = HeaderValue::from_str(&percent_encode(message)) {
        h.insert("grpc-message", v);
    }
    if retry_after.is_some() {
        let details = rpc_status::status(code as i32, message, retry_after, Encoding::Protobuf);
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(details);
        if let Ok(v) = HeaderValue::from_str(&b64) {
            h.insert("grpc-status-details-bin", v);
        }
    }
    r
}

/// gRPC's `grpc-message` encoding: bytes outside printable ASCII, and `%`, as `%XX`.
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A body of one data frame followed by trailers (a unary gRPC reply).
struct UnaryBody {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl http_body::Body for UnaryBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_checked() {
        assert!(unframe(Bytes::from_static(&[0, 0, 0]), 10).is_err());
        assert!(matches!(
            unframe(Bytes::from_static(&[0, 0, 0, 0, 20]), 10),
            Err(IngestError::PayloadTooLarge { .. })
        ));
        assert!(unframe(Bytes::from_static(&[0, 0, 0, 0, 2, 1]), 10).is_err());
        let (c, m) = unframe(Bytes::from_static(&[1, 0, 0, 0, 1, 9]), 10).unwrap();
        assert!(c);
        assert_eq!(&m[..], &[9]);
        assert_eq!(percent_encode("a%b\né"), "a%25b%0A%C3%A9");
    }
}
