//! The HTTP inputs besides OTLP, with OneUptime's paths and answers: Fluentd HTTP logs,
//! server-agent reports and key checks, and incoming requests (heartbeats). Success is
//! `200 {}`; errors are `{"message": …}` with the status from `IngestError::status` (and
//! `Retry-After` when retryable).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use super::body::{self, ContentEncoding, read_limited};
use super::http::media_type;
use crate::engine::{Engine, Item, decodes_inline};
use crate::error::IngestError;
use crate::fluentd::{self, BodyFormat};
use crate::otlp::now_unix_nano;
use crate::pipeline::Target;
use crate::telemetry::RequestLabel;
use crate::{agent_report, incoming_request};

/// Adds the routes to `router`.
pub(crate) fn routes(router: Router<Arc<Engine>>) -> Router<Arc<Engine>> {
    let mut router = router;
    for path in [
        "/fluentd/v1/logs",
        "/fluentd/logs",
        "/telemetry/fluentd/v1/logs",
    ] {
        router = router.route(path, post(fluentd_logs));
    }
    for prefix in ["", "/server-monitor-ingest"] {
        router = router
            .route(
                &format!("{prefix}/server-monitor/response/ingest/{{key}}"),
                post(agent_report),
            )
            .route(
                &format!("{prefix}/server-monitor/secret-key/verify/{{key}}"),
                get(agent_verify),
            );
    }
    for prefix in [
        "/heartbeat",
        "/incoming-request",
        "/incoming-request-ingest/incoming-request",
    ] {
        // `get` also answers HEAD, which OneUptime records as GET.
        router = router.route(&format!("{prefix}/{{key}}"), get(incoming).post(incoming));
    }
    router
}

/// `200 {}` or the error as `{"message": …}`; counts the request.
fn answer<T>(engine: &Engine, input: &'static str, result: Result<T, IngestError>) -> Response {
    let (status, body, retry_after) = match &result {
        Ok(_) => (200, "{}".to_owned(), None),
        Err(error) => {
            let wire = error.status();
            if wire.http >= 500 && error.throttle_reason().is_none() {
                tracing::warn!(input, %error, "request failed");
            } else {
                tracing::debug!(input, %error, "request refused");
            }
            engine.telemetry.count_throttled(error);
            let body = serde_json::json!({ "message": error.client_message() }).to_string();
            (wire.http, body, wire.retry_after)
        }
    };
    engine
        .telemetry
        .requests
        .get_or_create(&RequestLabel {
            signal: input,
            protocol: "http",
            status,
        })
        .inc();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(after) = retry_after {
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(after.as_secs().max(1)),
        );
    }
    r
}

/// Reads and decompresses a body within `limit` bytes (both before and after).
async fn read_body(
    engine: &Engine,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<(Bytes, ContentEncoding), IngestError> {
    let encoding = ContentEncoding::from_headers(headers, "content-encoding")?;
    let timeout = Duration::from_millis(engine.limits.request_timeout_ms);
    Ok((read_limited(headers, body, limit, timeout).await?, encoding))
}

async fn fluentd_logs(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let project = engine.authenticate(&headers)?;
        let media = media_type(&headers);
        let format = BodyFormat::from_media_type(&media).ok_or_else(|| {
            IngestError::UnsupportedMediaType {
                media: media.chars().take(100).collect(),
                accepted: "application/json, application/x-ndjson or text/plain",
            }
        })?;
        let service = ["x-vigil-service-name", "x-oneuptime-service-name"]
            .into_iter()
            .find_map(|n| headers.get(n).and_then(|v| v.to_str().ok()))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("Fluentd")
            .to_owned();
        let limit = engine.limits.max_body_bytes;
        let (payload, encoding) = read_body(&engine, &headers, body, limit).await?;
        let compression = engine.compression;
        let inline = decodes_inline(payload.len(), encoding);
        engine
            .ingest("logs", payload.len(), inline, move || {
                let raw = body::decompress(encoding, payload, limit)?;
                let decoded = fluentd::decode(
                    &raw,
                    format,
                    &project,
                    &service,
                    now_unix_nano(),
                    compression,
                )?;
                Ok(vec![Item {
                    target: Target::Logs,
                    data: decoded.native,
                    raw_len: decoded.native_len,
                    rows: decoded.rows,
                }])
            })
            .await
    }
    .await;
    answer(&engine, "fluentd", result)
}

async fn agent_report(
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
        let (payload, encoding) = read_body(&engine, &headers, body, limit).await?;
        let (compression, max_processes) = (engine.compression, engine.monitors.max_processes);
        let inline = decodes_inline(payload.len(), encoding);
        engine
            .ingest("server_metrics", payload.len(), inline, move || {
                let raw = body::decompress(encoding, payload, limit)?;
                let report = agent_report::decode(
                    &raw,
                    &monitor,
                    now_unix_nano(),
                    max_processes,
                    compression,
                )?;
                Ok(vec![
                    Item {
                        target: Target::ServerMetrics,
                        data: report.framed,
                        raw_len: report.raw_len,
                        rows: report.rows,
                    },
                    event(Target::ServerReportEvents, report.event),
                ])
            })
            .await
    }
    .await;
    answer(&engine, "server_agent", result)
}

fn event(target: Target, record: Vec<u8>) -> Item {
    Item {
        target,
        raw_len: record.len(),
        data: record,
        rows: 1,
    }
}

async fn agent_verify(State(engine): State<Arc<Engine>>, Path(key): Path<String>) -> Response {
    let result = engine
        .keys_loaded()
        .and_then(|()| match engine.keys.agent(&key) {
            Some(_) => Ok(()),
            None => Err(IngestError::UnknownKey("server-agent")),
        });
    answer(&engine, "server_agent_verify", result)
}

async fn incoming(
    State(engine): State<Arc<Engine>>,
    Path(key): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(p)| *p);
    let result = async {
        engine.keys_loaded()?;
        let monitor = engine
            .keys
            .heartbeat(&key)
            .ok_or(IngestError::UnknownKey("heartbeat"))?;
        let limit = engine.monitors.max_request_body_bytes;
        let (payload, encoding) = read_body(&engine, &headers, body, limit).await?;
        let compression = engine.compression;
        // The key (the last segment) is a credential: the stored path masks it.
        let prefix = uri.path().rsplit_once('/').map_or("", |(p, _)| p);
        let path = match uri.query() {
            Some(q) => format!("{prefix}/***?{q}"),
            None => format!("{prefix}/***"),
        };
        let method = if method == Method::POST {
            "POST"
        } else {
            "GET"
        };
        engine
            .ingest(
                "incoming_requests",
                payload.len(),
                decodes_inline(payload.len(), encoding),
                move || {
                    let raw = body::decompress(encoding, payload, limit)?;
                    let request = incoming_request::Request {
                        method,
                        path: &path,
                        headers: &headers,
                        body: &raw,
                        peer,
                    };
                    let encoded =
                        incoming_request::encode(&request, &monitor, now_unix_nano(), compression);
                    Ok(vec![
                        Item {
                            target: Target::IncomingRequests,
                            data: encoded.framed,
                            raw_len: encoded.raw_len,
                            rows: 1,
                        },
                        event(Target::IncomingRequestEvents, encoded.event),
                    ])
                },
            )
            .await
    }
    .await;
    answer(&engine, "incoming_request", result)
}
