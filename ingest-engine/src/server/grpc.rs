//! gRPC: the three unary OTLP `Export` methods and the probes' `ProbeResults/Report`, served
//! over h2c by the shared accept loop.
//!
//! A minimal gRPC server written by hand instead of tonic so that the request message arrives
//! as one zero-copy `Bytes` for the wire walker (no prost object tree), and so that size caps
//! apply before and after `grpc-encoding` decompression with RESOURCE_EXHAUSTED, as the OTLP
//! spec asks. Errors are "trailers-only" responses carrying `grpc-status`, `grpc-message` and,
//! for retryable ones, a `google.rpc.Status` with `RetryInfo` in `grpc-status-details-bin`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use base64::Engine as _;
use bytes::{Buf, Bytes};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body::Frame;

use super::body::{ContentEncoding, read_limited};
use crate::engine::Engine;
use crate::error::{GrpcCode, IngestError};
use crate::otlp::Signal;
use crate::otlp::response::{self, Encoding};
use crate::telemetry::RequestLabel;

/// The OTLP/gRPC router.
pub(crate) fn router(engine: Arc<Engine>) -> Router {
    use proto::otlp_paths::{LOGS_EXPORT, METRICS_EXPORT, TRACES_EXPORT};
    Router::new()
        .route(LOGS_EXPORT, post(|s, h, b| export(Signal::Logs, s, h, b)))
        .route(
            TRACES_EXPORT,
            post(|s, h, b| export(Signal::Traces, s, h, b)),
        )
        .route(
            METRICS_EXPORT,
            post(|s, h, b| export(Signal::Metrics, s, h, b)),
        )
        .route(proto::probe::REPORT, post(report))
        .fallback(unimplemented)
        .with_state(engine)
}

async fn unimplemented() -> Response {
    trailers_only(GrpcCode::Unimplemented, "unknown method", None)
}

/// One unary message: `flag u8 | length u32 BE | message`.
fn unframe(mut body: Bytes, limit: usize) -> Result<(bool, Bytes), IngestError> {
    if body.len() < 5 {
        return Err(IngestError::InvalidPayload(crate::otlp::DecodeError::new(
            "invalid gRPC frame: shorter than its 5-byte header",
        )));
    }
    let compressed = body.get_u8() == 1;
    let len = body.get_u32() as usize;
    if len > limit {
        return Err(IngestError::PayloadTooLarge { limit });
    }
    if body.len() != len {
        return Err(IngestError::InvalidPayload(crate::otlp::DecodeError::new(
            "invalid gRPC frame: length does not match the body (one message per call)",
        )));
    }
    Ok((compressed, body))
}

async fn export(
    signal: Signal,
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(refused) = not_grpc(&headers) {
        return refused;
    }
    let result = async {
        let project = engine.authenticate(&headers)?;
        let (message, encoding) = message(&engine, &headers, body).await?;
        let summary = engine
            .export(signal, project, message, encoding, Encoding::Protobuf)
            .await?;
        Ok(response::export_response(
            signal,
            summary.rejected,
            summary.reason,
            Encoding::Protobuf,
        ))
    }
    .await;
    reply(&engine, signal.as_str(), result)
}

/// A batch of probe results (`proto::probe`): authenticated by the probe's key, answered once
/// every result is in the WAL as an event for the worker.
async fn report(State(engine): State<Arc<Engine>>, headers: HeaderMap, body: Body) -> Response {
    if let Some(refused) = not_grpc(&headers) {
        return refused;
    }
    let result = async {
        engine.keys_loaded()?;
        let probe = engine
            .keys
            .probe(&headers)
            .ok_or(IngestError::Unauthenticated)?;
        if !engine
            .pipeline
            .accepts(crate::pipeline::Target::ProbeResultEvents)
        {
            // Events are off (no Redis): the results would reach no worker.
            tracing::warn!("probe results refused: redis.url is empty, so events are off");
            return Err(IngestError::StorageUnavailable {
                retry_after: Duration::from_secs(30),
            });
        }
        let (message, encoding) = message(&engine, &headers, body).await?;
        let limit = engine.limits.max_body_bytes;
        let held = message.len();
        let inline = crate::engine::decodes_inline(held, encoding);
        let taken = engine
            .ingest("probe_results", held, inline, move || {
                let raw = super::body::decompress(encoding, message, limit)?;
                let items =
                    crate::probe_results::encode(&raw, &probe, crate::otlp::now_unix_nano())?;
                Ok(items)
            })
            .await?;
        let accepted = u32::try_from(taken).unwrap_or(u32::MAX);
        Ok(prost::Message::encode_to_vec(&proto::probe::ReportReply {
            accepted,
        }))
    }
    .await;
    reply(&engine, "probe_results", result)
}

/// 415 for a call that is not gRPC (nothing else can be said in gRPC terms).
fn not_grpc(headers: &HeaderMap) -> Option<Response> {
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
async fn message(
    engine: &Engine,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, ContentEncoding), IngestError> {
    let limits = &engine.limits;
    let timeout = Duration::from_millis(limits.request_timeout_ms);
    let raw = read_limited(headers, body, limits.max_body_bytes + 5, timeout).await?;
    let (compressed, message) = unframe(raw, limits.max_body_bytes)?;
    let encoding = if compressed {
        ContentEncoding::from_headers(headers, "grpc-encoding")?
    } else {
        ContentEncoding::Identity
    };
    Ok((message, encoding))
}

/// The answer to a call (its reply message, or the error as trailers-only), counted under
/// `signal`.
fn reply(engine: &Engine, signal: &'static str, result: Result<Vec<u8>, IngestError>) -> Response {
    let (status, response) = match result {
        Ok(reply) => (200, ok_response(reply)),
        Err(error) => {
            let wire = error.status();
            if wire.http >= 500 && error.throttle_reason().is_none() {
                tracing::warn!(signal, %error, "grpc call failed");
            }
            engine.telemetry.count_throttled(&error);
            (
                wire.http,
                trailers_only(wire.grpc, &error.client_message(), wire.retry_after),
            )
        }
    };
    let label = RequestLabel {
        signal,
        protocol: "grpc",
        status,
    };
    engine.telemetry.requests.get_or_create(&label).inc();
    response
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

fn ok_response(reply: Vec<u8>) -> Response {
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
fn trailers_only(code: GrpcCode, message: &str, retry_after: Option<Duration>) -> Response {
    let mut r = Response::new(Body::empty());
    let h = r.headers_mut();
    grpc_headers(h);
    h.insert("grpc-status", HeaderValue::from(code as i32));
    if let Ok(v) = HeaderValue::from_str(&percent_encode(message)) {
        h.insert("grpc-message", v);
    }
    if retry_after.is_some() {
        let details = response::status(code as i32, message, retry_after, Encoding::Protobuf);
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
