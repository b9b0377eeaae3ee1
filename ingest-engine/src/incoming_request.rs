//! Incoming requests (heartbeats, inbound webhooks) → one `incoming_requests` row and one event
//! for the worker. Credentials a sender passes in headers are redacted before anything is
//! stored; the key in the path never is stored.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, Request as HttpRequest, State};
use axum::response::Response;
use http::{HeaderMap, Method};

use crate::auth::MonitorRef;
use crate::engine::{Decoded, Engine, Item};
use crate::error::IngestError;
use crate::otlp::now_unix_nano;
use crate::pipeline::Target;
use crate::wire::body::read_encoded;
use crate::wire::json_answer;
use proto::events::{Event, field};
use storage::compression::Compression;
use storage::native::put_bytes;
use storage::tables::IncomingRequestsBlock;

/// Headers whose values are credentials: stored as `[redacted]`.
const REDACTED: [&str; 8] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-vigil-token",
    "x-oneuptime-token",
    "x-oneuptime-service-token",
    "x-oneuptime-ingestion-key",
];

/// What was received.
pub(crate) struct Request<'a> {
    /// `GET` or `POST` (HEAD arrives here as GET).
    pub(crate) method: &'a str,
    /// The path with the key masked, and the query string.
    pub(crate) path: &'a str,
    pub(crate) headers: &'a HeaderMap,
    /// Decompressed, within `monitors.max_request_body_bytes`.
    pub(crate) body: &'a [u8],
    pub(crate) peer: Option<SocketAddr>,
}

/// One request's row (framed Native) and event.
pub(crate) struct Encoded {
    pub(crate) framed: Vec<u8>,
    pub(crate) raw_len: usize,
    pub(crate) event: Vec<u8>,
}

fn header_value<'h>(name: &str, value: &'h [u8]) -> &'h [u8] {
    if REDACTED.contains(&name) {
        b"[redacted]"
    } else {
        value
    }
}

/// Encodes `request` for `monitor`, received at `now` (ns).
pub(crate) fn encode(
    request: &Request<'_>,
    monitor: &MonitorRef,
    now: u64,
    compression: Compression,
) -> Encoded {
    let source = request.peer.map(|p| p.to_string()).unwrap_or_default();
    let probe = ["x-vigil-probe-id", "oneuptime-probe-id"]
        .into_iter()
        .find_map(|name| request.headers.get(name))
        .map_or(&b""[..], |v| v.as_bytes());
    let mut b = IncomingRequestsBlock::default();
    b.project_id.push(monitor.project.as_bytes());
    b.monitor_id.push(monitor.monitor.as_bytes());
    b.time.push(crate::otlp::seconds(now));
    b.time_unix_nano.push(now);
    b.method.push(request.method.as_bytes());
    b.path.push(request.path.as_bytes());
    b.source_addr.push(source.as_bytes());
    b.probe_id.push(probe);
    let mut headers = serde_json::Map::new();
    for (name, value) in request.headers {
        let value = header_value(name.as_str(), value.as_bytes());
        put_bytes(&mut b.header_names.values, name.as_str().as_bytes());
        put_bytes(&mut b.header_values.values, value);
        let text = String::from_utf8_lossy(value).into_owned();
        // Repeated headers are joined as HTTP allows.
        headers
            .entry(name.as_str())
            .and_modify(|v| {
                if let serde_json::Value::String(s) = v {
                    s.push_str(", ");
                    s.push_str(&text);
                }
            })
            .or_insert(serde_json::Value::String(text.clone()));
    }
    let n = request.headers.len() as u64;
    b.header_names.offsets.close_row(n);
    b.header_values.offsets.close_row(n);
    b.body.push(request.body);
    b.rows = 1;
    let mut raw = Vec::with_capacity(b.byte_len() + 256);
    b.encode(&mut raw);
    let framed = storage::compression::framed(&raw, compression);

    let mut event = Event::new(&monitor.project, &monitor.monitor, now);
    event
        .field(field::METHOD, request.method.as_bytes())
        .field(field::SOURCE_ADDR, source.as_bytes())
        .field(field::PROBE_ID, probe)
        .field(
            field::HEADERS,
            serde_json::Value::Object(headers).to_string().as_bytes(),
        )
        .field(field::BODY, request.body);
    Encoded {
        framed,
        raw_len: raw.len(),
        event: event.finish(),
    }
}

/// `GET`/`POST /heartbeat/{key}` (and its aliases): an incoming request for a monitor.
pub(crate) async fn handle(
    State(engine): State<Arc<Engine>>,
    Path(key): Path<String>,
    request: HttpRequest,
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
        let timeout = Duration::from_millis(engine.limits.request_timeout_ms);
        let (payload, encoding) = read_encoded(&headers, body, limit, timeout).await?;
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
            .ingest("incoming_requests", payload, encoding, limit, move |raw| {
                let request = Request {
                    method,
                    path: &path,
                    headers: &headers,
                    body: raw,
                    peer,
                };
                let encoded = encode(&request, &monitor, now_unix_nano(), compression);
                Ok(Decoded {
                    items: vec![
                        Item {
                            target: Target::IncomingRequests,
                            data: encoded.framed,
                            raw_len: encoded.raw_len,
                            rows: 1,
                        },
                        Item::event(Target::IncomingRequestEvents, encoded.event),
                    ],
                    ..Decoded::default()
                })
            })
            .await
    }
    .await;
    json_answer(engine.conclude("incoming_request", "http", result))
}
