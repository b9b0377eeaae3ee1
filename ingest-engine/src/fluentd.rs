//! Fluentd HTTP (`POST /fluentd/v1/logs`, `/fluentd/logs`): OneUptime's normalisation of a body
//! into records, which then become `logs` rows by the Forward path's record rules
//! (`forward::record`: body, severity, ids, typed attributes).
//!
//! Normalisation: a JSON array → each element; an object with a `json` or `entries` key → that
//! value, normalised again; any other object → one record; a string → one `{message: line}`
//! per non-empty line. NDJSON (one JSON value per line, Fluentd `out_http`'s default) and
//! `text/plain` (one message per line) are taken too. Elements that are not objects become
//! `{message: element}`. The time of every record is the receive time, as in OneUptime.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;
use serde_json::Value;

use crate::engine::{self, Engine, Item};
use crate::error::IngestError;
use crate::forward::msgpack::Reader;
use crate::forward::msgpack::{
    write_array_len, write_bool, write_f64, write_i64, write_map_len, write_nil, write_str,
    write_u64,
};
use crate::forward::record::{self, Origin};
use crate::otlp::{self, DecodeError, Decoded};
use crate::pipeline::Target;
use crate::wire::body::read_encoded;
use crate::wire::{json_answer, media_type};
use storage::compression::Compression;

/// How the body is to be read, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFormat {
    /// `application/json` (or none): JSON, else NDJSON.
    Json,
    /// `application/x-ndjson`, `application/jsonl`: one JSON value per line.
    Ndjson,
    /// `text/plain`: one message per line.
    Text,
}

impl BodyFormat {
    /// The format of a media type (`None` when not accepted).
    pub(crate) fn from_media_type(media: &str) -> Option<Self> {
        match media {
            "" | "application/json" => Some(Self::Json),
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines" => Some(Self::Ndjson),
            "text/plain" => Some(Self::Text),
            _ => None,
        }
    }
}

/// Nesting beyond this is refused (serde_json's own limit is 128).
const MAX_DEPTH: usize = 64;

/// Decodes a Fluentd HTTP body into framed `logs` rows of `project`; records that name no
/// service get `service`.
pub(crate) fn decode(
    body: &[u8],
    format: BodyFormat,
    project: &str,
    service: &str,
    now: u64,
    compression: Compression,
) -> Result<Decoded, DecodeError> {
    let mut entries = Vec::new();
    match format {
        BodyFormat::Text => lines(body, &mut entries)?,
        BodyFormat::Json => match serde_json::from_slice::<Value>(body) {
            Ok(value) => normalise(value, &mut entries),
            // Not one JSON value: perhaps NDJSON sent as application/json.
            Err(whole) => ndjson(body, &mut entries).map_err(|line_error| {
                DecodeError::new(format!(
                    "invalid JSON body: {whole} (nor NDJSON: {line_error})"
                ))
            })?,
        },
        BodyFormat::Ndjson => ndjson(body, &mut entries)?,
    }
    if entries.is_empty() {
        return Err(DecodeError::new("empty batch: no log entries in the body"));
    }
    // Every record encoded as msgpack into one buffer, then appended as rows.
    let mut packed = Vec::with_capacity(body.len() + entries.len() * 8);
    let mut bounds = Vec::with_capacity(entries.len());
    for entry in &entries {
        let start = packed.len();
        write_record(entry, &mut packed)?;
        bounds.push(start..packed.len());
    }
    let origin = Origin {
        project: project.as_bytes(),
        service: service.as_bytes(),
        tag: None,
        scope: b"fluentd-http",
        now,
    };
    otlp::encode_logs(compression, |block| {
        let (mut fields, mut scratch) = (record::Fields::default(), Vec::new());
        for range in bounds {
            record::push_record(
                block,
                &origin,
                now,
                &mut Reader::new(&packed[range]),
                &[],
                &mut fields,
                &mut scratch,
            )
            .map_err(|e| DecodeError::new(format!("invalid record: {e}")))?;
        }
        Ok(())
    })
}

/// One record: an object, or anything else as its `message`.
enum Entry {
    Object(serde_json::Map<String, Value>),
    Message(Value),
}

fn normalise(value: Value, out: &mut Vec<Entry>) {
    match value {
        Value::Array(items) => out.extend(items.into_iter().map(entry)),
        Value::Object(mut map) => {
            let wrapped = ["json", "entries"]
                .into_iter()
                .find_map(|key| map.remove(key).filter(|_| map.is_empty()));
            match wrapped {
                Some(inner) => normalise(inner, out),
                None => out.push(Entry::Object(map)),
            }
        }
        Value::String(text) => out.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| Entry::Message(Value::String(l.to_owned()))),
        ),
        Value::Null => {}
        other => out.push(Entry::Message(other)),
    }
}

fn entry(value: Value) -> Entry {
    match value {
        Value::Object(map) => Entry::Object(map),
        other => Entry::Message(other),
    }
}

fn ndjson(body: &[u8], out: &mut Vec<Entry>) -> Result<(), DecodeError> {
    for (n, line) in body.split(|b| *b == b'\n').enumerate() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_slice(line)
            .map_err(|e| DecodeError::new(format!("line {}: {e}", n + 1)))?;
        out.push(entry(value));
    }
    Ok(())
}

fn lines(body: &[u8], out: &mut Vec<Entry>) -> Result<(), DecodeError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| DecodeError::new(format!("text body is not UTF-8: {e}")))?;
    normalise(Value::String(text.to_owned()), out);
    Ok(())
}

fn write_record(entry: &Entry, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    match entry {
        Entry::Object(map) => write_object(map, out, 0),
        Entry::Message(value) => {
            write_map_len(out, 1);
            write_str(out, b"message");
            write_value(value, out, 0)
        }
    }
}

fn write_object(
    map: &serde_json::Map<String, Value>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), DecodeError> {
    write_map_len(out, len32(map.len())?);
    for (key, value) in map {
        write_str(out, key.as_bytes());
        write_value(value, out, depth + 1)?;
    }
    Ok(())
}

fn len32(n: usize) -> Result<u32, DecodeError> {
    u32::try_from(n).map_err(|_| DecodeError::new("too many elements"))
}

fn write_value(value: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::new(format!(
            "record nested deeper than {MAX_DEPTH} levels"
        )));
    }
    match value {
        Value::Null => write_nil(out),
        Value::Bool(b) => write_bool(out, *b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => write_i64(out, i),
            (None, Some(u), _) => write_u64(out, u),
            (None, None, Some(f)) => write_f64(out, f),
            (None, None, None) => write_str(out, n.to_string().as_bytes()),
        },
        Value::String(s) => write_str(out, s.as_bytes()),
        Value::Array(items) => {
            write_array_len(out, len32(items.len())?);
            for item in items {
                write_value(item, out, depth + 1)?;
            }
        }
        Value::Object(map) => write_object(map, out, depth)?,
    }
    Ok(())
}

/// `POST /fluentd/v1/logs` (and its aliases).
pub(crate) async fn handle(
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
        let timeout = Duration::from_millis(engine.limits.request_timeout_ms);
        let (payload, encoding) = read_encoded(&headers, body, limit, timeout).await?;
        let compression = engine.compression;
        engine
            .ingest("logs", payload, encoding, limit, move |raw| {
                let decoded = decode(
                    raw,
                    format,
                    &project,
                    &service,
                    otlp::now_unix_nano(),
                    compression,
                )?;
                Ok(engine::Decoded {
                    items: vec![Item {
                        target: Target::Logs,
                        data: decoded.native,
                        raw_len: decoded.native_len,
                        rows: decoded.rows,
                    }],
                    ..engine::Decoded::default()
                })
            })
            .await
    }
    .await;
    json_answer(engine.conclude("fluentd", "http", result))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(body: &str, format: BodyFormat) -> Result<u64, String> {
        decode(
            body.as_bytes(),
            format,
            "p",
            "Fluentd",
            1,
            Compression::None,
        )
        .map(|d| d.rows)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn oneuptime_shapes_normalise() {
        use BodyFormat::*;
        assert_eq!(count(r#"[{"message":"a"},{"log":"b"},"c"]"#, Json), Ok(3));
        assert_eq!(
            count(r#"{"json":[{"message":"a"},{"message":"b"}]}"#, Json),
            Ok(2)
        );
        assert_eq!(count(r#"{"entries":{"message":"a"}}"#, Json), Ok(1));
        // `json` next to other fields is an ordinary field.
        assert_eq!(count(r#"{"json":"x","level":"info"}"#, Json), Ok(1));
        assert_eq!(count(r#"{"message":"a","level":"warn"}"#, Json), Ok(1));
        assert_eq!(count("\"one\\ntwo\\n\\nthree\"", Json), Ok(3));
        assert_eq!(
            count("{\"message\":\"a\"}\n{\"message\":\"b\"}\n", Json),
            Ok(2)
        );
        assert_eq!(count("{\"message\":\"a\"}\n\n[1]\n", Ndjson), Ok(2));
        assert_eq!(count("line one\r\nline two\n", Text), Ok(2));
        for empty in ["[]", "{\"json\":[]}", "\"\"", "null"] {
            let e = count(empty, Json).unwrap_err();
            assert!(e.contains("empty batch"), "{empty}: {e}");
        }
        let e = count("{\"message\":", Json).unwrap_err();
        assert!(e.starts_with("invalid JSON body"), "{e}");
        let e = count("{}\nnot json\n", Ndjson).unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!("{}1{}", "[".repeat(70), "]".repeat(70));
        let body = format!("{{\"message\":\"m\",\"deep\":{deep}}}");
        assert!(
            count(&body, BodyFormat::Json)
                .unwrap_err()
                .contains("nested")
        );
    }
}
