//! The OTLP input's entry points: `Export` over OTLP/HTTP (`/v1/{logs,traces,metrics}`,
//! protobuf or JSON) and over gRPC, both through the engine's one request path.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::response::export_response;
use super::{Signal, decode_framed, json};
use crate::engine::{Decoded, Engine, Item, Stored};
use crate::error::IngestError;
use crate::pipeline::Target;
use crate::wire::body::{ContentEncoding, read_limited};
use crate::wire::rpc_status::{self, Encoding};
use crate::wire::{grpc, media_type, set_retry_after};

impl From<Signal> for Target {
    fn from(signal: Signal) -> Self {
        match signal {
            Signal::Logs => Target::Logs,
            Signal::Traces => Target::Spans,
            Signal::Metrics => Target::Metrics,
        }
    }
}

/// Decodes one export request of `project` and returns once its rows are safe.
async fn export(
    engine: &Engine,
    signal: Signal,
    project: Arc<str>,
    payload: Bytes,
    content_encoding: ContentEncoding,
    encoding: Encoding,
) -> Result<Stored, IngestError> {
    let compression = engine.compression;
    let limit = engine.limits.max_body_bytes;
    engine
        .ingest(
            signal.as_str(),
            payload,
            content_encoding,
            limit,
            move |raw| {
                let decoded = match encoding {
                    Encoding::Protobuf => decode_framed(signal, raw, &project, compression)?,
                    Encoding::Json => {
                        let protobuf = json::to_protobuf(signal, raw)?;
                        decode_framed(signal, &protobuf, &project, compression)?
                    }
                };
                Ok(Decoded {
                    items: vec![Item {
                        target: signal.into(),
                        data: decoded.native,
                        raw_len: decoded.native_len,
                        rows: decoded.rows,
                    }],
                    rejected: decoded.rejected,
                    reason: decoded.reject_reason,
                })
            },
        )
        .await
}

fn request_encoding(headers: &HeaderMap) -> Result<Encoding, IngestError> {
    let media = media_type(headers);
    match media.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        _ => Err(IngestError::UnsupportedMediaType {
            media: media.chars().take(100).collect(),
            accepted: "application/x-protobuf or application/json",
        }),
    }
}

fn content_type(encoding: Encoding) -> HeaderValue {
    HeaderValue::from_static(match encoding {
        Encoding::Protobuf => "application/x-protobuf",
        Encoding::Json => "application/json",
    })
}

/// `POST /v1/{signal}`: OTLP/HTTP.
pub(crate) async fn http_export(
    signal: Signal,
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Error bodies use the request's encoding when it is known, JSON otherwise.
    let encoding_for_errors = request_encoding(&headers).unwrap_or(Encoding::Json);
    let result = async {
        let project = engine.authenticate(&headers)?;
        let encoding = request_encoding(&headers)?;
        let content_encoding = ContentEncoding::from_headers(&headers, "content-encoding")?;
        let limits = &engine.limits;
        let timeout = Duration::from_millis(limits.request_timeout_ms);
        let payload = read_limited(&headers, body, limits.max_body_bytes, timeout).await?;
        let stored = export(
            &engine,
            signal,
            project,
            payload,
            content_encoding,
            encoding,
        )
        .await?;
        Ok::<_, IngestError>((stored, encoding))
    }
    .await;
    match engine.conclude(signal.as_str(), "http", result) {
        Ok((stored, encoding)) => {
            let body = export_response(signal, stored.rejected, stored.reason, encoding);
            let mut r = Response::new(Body::from(body));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, content_type(encoding));
            r
        }
        Err((error, wire)) => {
            let body = rpc_status::status(
                wire.grpc as i32,
                &error.client_message(),
                wire.retry_after,
                encoding_for_errors,
            );
            let mut r = Response::new(Body::from(body));
            *r.status_mut() =
                StatusCode::from_u16(wire.http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            r.headers_mut()
                .insert(header::CONTENT_TYPE, content_type(encoding_for_errors));
            set_retry_after(&mut r, &wire);
            r
        }
    }
}

/// The `Export` method of a collector service over gRPC.
pub(crate) async fn grpc_export(
    signal: Signal,
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(refused) = grpc::not_grpc(&headers) {
        return refused;
    }
    let result = async {
        let project = engine.authenticate(&headers)?;
        let limits = &engine.limits;
        let timeout = Duration::from_millis(limits.request_timeout_ms);
        let (message, encoding) =
            grpc::message(&headers, body, limits.max_body_bytes, timeout).await?;
        let stored = export(
            &engine,
            signal,
            project,
            message,
            encoding,
            Encoding::Protobuf,
        )
        .await?;
        Ok(export_response(
            signal,
            stored.rejected,
            stored.reason,
            Encoding::Protobuf,
        ))
    }
    .await;
    grpc::reply(engine.conclude(signal.as_str(), "grpc", result))
}
