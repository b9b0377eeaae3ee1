//! OTLP/HTTP (`/v1/{logs,traces,metrics}`, also under `/otlp`) and the operational endpoints
//! (`/metrics`, `/healthz`, `/readyz`); the other HTTP inputs are added from `inputs.rs`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::body::{ContentEncoding, read_limited};
use crate::engine::Engine;
use crate::error::IngestError;
use crate::otlp::Signal;
use crate::otlp::response::{self, Encoding};
use crate::telemetry::RequestLabel;

/// The OTLP/HTTP router (also the operational endpoints).
pub(crate) fn router(engine: Arc<Engine>) -> Router {
    let mut router = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz));
    for prefix in ["", "/otlp"] {
        router = router
            .route(
                &format!("{prefix}/v1/logs"),
                post(|s, h, b| export(Signal::Logs, s, h, b)),
            )
            .route(
                &format!("{prefix}/v1/traces"),
                post(|s, h, b| export(Signal::Traces, s, h, b)),
            )
            .route(
                &format!("{prefix}/v1/metrics"),
                post(|s, h, b| export(Signal::Metrics, s, h, b)),
            );
    }
    super::inputs::routes(router).with_state(engine)
}

async fn metrics(State(engine): State<Arc<Engine>>) -> Response {
    // Refreshes the WAL gauges.
    engine.pipeline.backlog();
    let mut response = engine.telemetry.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

/// 200 when exports are being taken, 503 otherwise; the body reports the backlog.
async fn readyz(State(engine): State<Arc<Engine>>) -> Response {
    let ready = engine.is_ready();
    let tables: serde_json::Map<String, serde_json::Value> = engine
        .pipeline
        .backlog()
        .into_iter()
        .map(|(table, b)| {
            let v = serde_json::json!({
                "bytes": b.bytes,
                "segments": b.segments,
                "oldest_unflushed_seconds": b.oldest_unflushed_seconds,
            });
            (table.to_owned(), v)
        })
        .collect();
    let body = serde_json::json!({
        "ready": ready,
        "clickhouse_ok": engine.telemetry.clickhouse_ok(),
        "schema_applied": engine.schema_ready.load(std::sync::atomic::Ordering::Acquire),
        "wal": engine.pipeline.wal_usage().map(|(used, max)| serde_json::json!({
            "bytes": used,
            "max_bytes": max,
            "write_failing": engine.pipeline.wal_write_failing(),
            "tables": tables,
        })),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut r = (status, format!("{body}\n")).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The request's media type, lowercase, without parameters (`""` when absent).
pub(super) fn media_type(headers: &HeaderMap) -> String {
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

async fn export(
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
        let summary = engine
            .export(signal, project, payload, content_encoding, encoding)
            .await?;
        Ok::<_, IngestError>((summary, encoding))
    }
    .await;
    let (status, response) = match result {
        Ok((summary, encoding)) => {
            let body =
                response::export_response(signal, summary.rejected, summary.reason, encoding);
            let mut r = Response::new(Body::from(body));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, content_type(encoding));
            (200, r)
        }
        Err(error) => {
            let wire = error.status();
            if wire.http >= 500 && error.throttle_reason().is_none() {
                tracing::warn!(signal = signal.as_str(), %error, "export failed");
            } else {
                tracing::debug!(signal = signal.as_str(), %error, "export refused");
            }
            engine.telemetry.count_throttled(&error);
            let body = response::status(
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
            if let Some(after) = wire.retry_after {
                r.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(after.as_secs().max(1)),
                );
            }
            (wire.http, r)
        }
    };
    let label = RequestLabel {
        signal: signal.as_str(),
        protocol: "http",
        status,
    };
    engine.telemetry.requests.get_or_create(&label).inc();
    response
}
