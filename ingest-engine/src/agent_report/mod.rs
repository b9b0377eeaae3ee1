//! The server-agent input, with OneUptime's paths and answers: reports
//! (`POST /server-monitor/response/ingest/{key}`) become `server_metrics` rows and one event
//! for the worker (`decode.rs`); `GET /server-monitor/secret-key/verify/{key}` checks a key.

mod decode;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use http::HeaderMap;

use crate::engine::{Decoded, Engine, Item};
use crate::error::IngestError;
use crate::otlp::now_unix_nano;
use crate::pipeline::Target;
use crate::wire::body::read_encoded;
use crate::wire::json_answer;

/// A report from the agent of the monitor whose key is in the path.
pub(crate) async fn report(
    State(engine): State<Arc<Engine>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        engine.keys_loaded()?;
        let monitor = engine
            .keys
            .agent(&key)
            .ok_or(IngestError::UnknownKey("server-agent"))?;
        let limit = engine.monitors.max_report_bytes;
        let timeout = Duration::from_millis(engine.limits.request_timeout_ms);
        let (payload, encoding) = read_encoded(&headers, body, limit, timeout).await?;
        let (compression, max_processes) = (engine.compression, engine.monitors.max_processes);
        engine
            .ingest("server_metrics", payload, encoding, limit, move |raw| {
                let report =
                    decode::decode(raw, &monitor, now_unix_nano(), max_processes, compression)?;
                Ok(Decoded {
                    items: vec![
                        Item {
                            target: Target::ServerMetrics,
                            data: report.framed,
                            raw_len: report.raw_len,
                            rows: report.rows,
                        },
                        Item::event(Target::ServerReportEvents, report.event),
                    ],
                    ..Decoded::default()
                })
            })
            .await
    }
    .await;
    json_answer(engine.conclude("server_agent", "http", result))
}

/// Whether the key in the path is a server monitor's: `200 {}` or 404.
pub(crate) async fn verify(State(engine): State<Arc<Engine>>, Path(key): Path<String>) -> Response {
    let result = engine
        .keys_loaded()
        .and_then(|()| match engine.keys.agent(&key) {
            Some(_) => Ok(()),
            None => Err(IngestError::UnknownKey("server-agent")),
        });
    json_answer(engine.conclude("server_agent_verify", "http", result))
}
