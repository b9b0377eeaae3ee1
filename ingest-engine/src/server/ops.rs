//! The operational endpoints on the OTLP/HTTP listener: `/metrics` (Prometheus text) and
//! `/readyz` (whether exports are taken, with the WAL backlog).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::engine::Engine;

pub(super) async fn metrics(State(engine): State<Arc<Engine>>) -> Response {
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
pub(super) async fn readyz(State(engine): State<Arc<Engine>>) -> Response {
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
