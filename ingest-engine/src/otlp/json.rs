//! OTLP/JSON → OTLP protobuf, driven by a table of the OTLP messages.
//!
//! Transcoding keeps one decoder (the protobuf walker) between the wire and the columns. It
//! follows the OTLP/JSON rules: lowerCamelCase field names (snake_case also accepted), trace and
//! span ids as case-insensitive hex, other bytes base64, 64-bit integers as strings or numbers,
//! enums as integers or names, doubles also as `"NaN"`/`"Infinity"`, unknown fields ignored.

use base64::Engine as _;
use serde_json::Value as Json;

use super::{DecodeError, Signal};
use crate::clickhouse::native::put_varint;

#[derive(Clone, Copy)]
enum Kind {
    Msg(&'static Msg),
    Str,
    HexId,
    Base64,
    Fixed64,
    Sfixed64,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Enum(fn(&str) -> Option<i32>),
    Double,
    Bool,
    Fixed32,
}

struct Field {
    name: &'static str,
    number: u32,
    kind: Kind,
}

struct Msg {
    fields: &'static [Field],
}

const fn f(name: &'static str, number: u32, kind: Kind) -> Field {
    Field { name, number, kind }
}

fn severity(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("SEVERITY_NUMBER_")?;
    if rest == "UNSPECIFIED" {
        return Some(0);
    }
    let (base, step) = match rest.as_bytes().last() {
        Some(d @ b'2'..=b'4') => (&rest[..rest.len() - 1], i32::from(d - b'1')),
        _ => (rest, 0),
    };
    let level = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
        .iter()
        .position(|l| *l == base)?;
    Some(level as i32 * 4 + 1 + step)
}

fn span_kind(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("SPAN_KIND_")?;
    [
        "UNSPECIFIED",
        "INTERNAL",
        "SERVER",
        "CLIENT",
        "PRODUCER",
        "CONSUMER",
    ]
    .iter()
    .position(|k| *k == rest)
    .map(|p| p as i32)
}

fn status_code(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("STATUS_CODE_")?;
    ["UNSET", "OK", "ERROR"]
        .iter()
        .position(|k| *k == rest)
        .map(|p| p as i32)
}

fn temporality(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("AGGREGATION_TEMPORALITY_")?;
    ["UNSPECIFIED", "DELTA", "CUMULATIVE"]
        .iter()
        .position(|k| *k == rest)
        .map(|p| p as i32)
}

static ANY_VALUE: Msg = Msg {
    fields: &[
        f("stringValue", 1, Kind::Str),
        f("boolValue", 2, Kind::Bool),
        f("intValue", 3, Kind::Int64),
        f("doubleValue", 4, Kind::Double),
        f("arrayValue", 5, Kind::Msg(&ARRAY_VALUE)),
        f("kvlistValue", 6, Kind::Msg(&KV_LIST)),
        f("bytesValue", 7, Kind::Base64),
    ],
};
static ARRAY_VALUE: Msg = Msg {
    fields: &[f("values", 1, Kind::Msg(&ANY_VALUE))],
};
static KV_LIST: Msg = Msg {
    fields: &[f("values", 1, Kind::Msg(&KEY_VALUE))],
};
static KEY_VALUE: Msg = Msg {
    fields: &[f("key", 1, Kind::Str), f("value", 2, Kind::Msg(&ANY_VALUE))],
};
static RESOURCE: Msg = Msg {
    fields: &[
        f("attributes", 1, Kind::Msg(&KEY_VALUE)),
        f("droppedAttributesCount", 2, Kind::Uint32),
    ],
};
static SCOPE: Msg = Msg {
    fields: &[
        f("name", 1, Kind::Str),
        f("version", 2, Kind::Str),
        f("attributes", 3, Kind::Msg(&KEY_VALUE)),
        f("droppedAttributesCount", 4, Kind::Uint32),
    ],
};

static LOGS_REQUEST: Msg = Msg {
    fields: &[f("resourceLogs", 1, Kind::Msg(&RESOURCE_LOGS))],
};
static RESOURCE_LOGS: Msg = Msg {
    fields: &[
        f("resource", 1, Kind::Msg(&RESOURCE)),
        f("scopeLogs", 2, Kind::Msg(&SCOPE_LOGS)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static SCOPE_LOGS: Msg = Msg {
    fields: &[
        f("scope", 1, Kind::Msg(&SCOPE)),
        f("logRecords", 2, Kind::Msg(&LOG_RECORD)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static LOG_RECORD: Msg = Msg {
    fields: &[
        f("timeUnixNano", 1, Kind::Fixed64),
        f("severityNumber", 2, Kind::Enum(severity)),
        f("severityText", 3, Kind::Str),
        f("body", 5, Kind::Msg(&ANY_VALUE)),
        f("attributes", 6, Kind::Msg(&KEY_VALUE)),
        f("droppedAttributesCount", 7, Kind::Uint32),
        f("flags", 8, Kind::Fixed32),
        f("traceId", 9, Kind::HexId),
        f("spanId", 10, Kind::HexId),
        f("observedTimeUnixNano", 11, Kind::Fixed64),
        f("eventName", 12, Kind::Str),
    ],
};

static TRACES_REQUEST: Msg = Msg {
    fields: &[f("resourceSpans", 1, Kind::Msg(&RESOURCE_SPANS))],
};
static RESOURCE_SPANS: Msg = Msg {
    fields: &[
        f("resource", 1, Kind::Msg(&RESOURCE)),
        f("scopeSpans", 2, Kind::Msg(&SCOPE_SPANS)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static SCOPE_SPANS: Msg = Msg {
    fields: &[
        f("scope", 1, Kind::Msg(&SCOPE)),
        f("spans", 2, Kind::Msg(&SPAN)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static SPAN: Msg = Msg {
    fields: &[
        f("traceId", 1, Kind::HexId),
        f("spanId", 2, Kind::HexId),
        f("traceState", 3, Kind::Str),
        f("parentSpanId", 4, Kind::HexId),
        f("name", 5, Kind::Str),
        f("kind", 6, Kind::Enum(span_kind)),
        f("startTimeUnixNano", 7, Kind::Fixed64),
        f("endTimeUnixNano", 8, Kind::Fixed64),
        f("attributes", 9, Kind::Msg(&KEY_VALUE)),
        f("droppedAttributesCount", 10, Kind::Uint32),
        f("events", 11, Kind::Msg(&SPAN_EVENT)),
        f("droppedEventsCount", 12, Kind::Uint32),
        f("links", 13, Kind::Msg(&SPAN_LINK)),
        f("droppedLinksCount", 14, Kind::Uint32),
        f("status", 15, Kind::Msg(&STATUS)),
        f("flags", 16, Kind::Fixed32),
    ],
};
static SPAN_EVENT: Msg = Msg {
    fields: &[
        f("timeUnixNano", 1, Kind::Fixed64),
        f("name", 2, Kind::Str),
        f("attributes", 3, Kind::Msg(&KEY_VALUE)),
        f("droppedAttributesCount", 4, Kind::Uint32),
    ],
};
static SPAN_LINK: Msg = Msg {
    fields: &[
        f("traceId", 1, Kind::HexId),
        f("spanId", 2, Kind::HexId),
        f("traceState", 3, Kind::Str),
        f("attributes", 4, Kind::Msg(&KEY_VALUE)),
        f("droppedAttributesCount", 5, Kind::Uint32),
        f("flags", 6, Kind::Fixed32),
    ],
};
static STATUS: Msg = Msg {
    fields: &[
        f("message", 2, Kind::Str),
        f("code", 3, Kind::Enum(status_code)),
    ],
};

static METRICS_REQUEST: Msg = Msg {
    fields: &[f("resourceMetrics", 1, Kind::Msg(&RESOURCE_METRICS))],
};
static RESOURCE_METRICS: Msg = Msg {
    fields: &[
        f("resource", 1, Kind::Msg(&RESOURCE)),
        f("scopeMetrics", 2, Kind::Msg(&SCOPE_METRICS)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static SCOPE_METRICS: Msg = Msg {
    fields: &[
        f("scope", 1, Kind::Msg(&SCOPE)),
        f("metrics", 2, Kind::Msg(&METRIC)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static METRIC: Msg = Msg {
    fields: &[
        f("name", 1, Kind::Str),
        f("description", 2, Kind::Str),
        f("unit", 3, Kind::Str),
        f("gauge", 5, Kind::Msg(&GAUGE)),
        f("sum", 7, Kind::Msg(&SUM)),
        f("histogram", 9, Kind::Msg(&HISTOGRAM)),
        f("exponentialHistogram", 10, Kind::Msg(&EXP_HISTOGRAM)),
        f("summary", 11, Kind::Msg(&SUMMARY)),
        f("metadata", 12, Kind::Msg(&KEY_VALUE)),
    ],
};
static GAUGE: Msg = Msg {
    fields: &[f("dataPoints", 1, Kind::Msg(&NUMBER_POINT))],
};
static SUM: Msg = Msg {
    fields: &[
        f("dataPoints", 1, Kind::Msg(&NUMBER_POINT)),
        f("aggregationTemporality", 2, Kind::Enum(temporality)),
        f("isMonotonic", 3, Kind::Bool),
    ],
};
static HISTOGRAM: Msg = Msg {
    fields: &[
        f("dataPoints", 1, Kind::Msg(&HISTOGRAM_POINT)),
        f("aggregationTemporality", 2, Kind::Enum(temporality)),
    ],
};
static EXP_HISTOGRAM: Msg = Msg {
    fields: &[
        f("dataPoints", 1, Kind::Msg(&EXP_HISTOGRAM_POINT)),
        f("aggregationTemporality", 2, Kind::Enum(temporality)),
    ],
};
static SUMMARY: Msg = Msg {
    fields: &[f("dataPoints", 1, Kind::Msg(&SUMMARY_POINT))],
};
static NUMBER_POINT: Msg = Msg {
    fields: &[
        f("startTimeUnixNano", 2, Kind::Fixed64),
        f("timeUnixNano", 3, Kind::Fixed64),
        f("asDouble", 4, Kind::Double),
        f("exemplars", 5, Kind::Msg(&EXEMPLAR)),
        f("asInt", 6, Kind::Sfixed64),
        f("attributes", 7, Kind::Msg(&KEY_VALUE)),
        f("flags", 8, Kind::Uint32),
    ],
};
static HISTOGRAM_POINT: Msg = Msg {
    fields: &[
        f("startTimeUnixNano", 2, Kind::Fixed64),
        f("timeUnixNano", 3, Kind::Fixed64),
        f("count", 4, Kind::Fixed64),
        f("sum", 5, Kind::Double),
        f("bucketCounts", 6, Kind::Fixed64),
        f("explicitBounds", 7, Kind::Double),
        f("exemplars", 8, Kind::Msg(&EXEMPLAR)),
        f("attributes", 9, Kind::Msg(&KEY_VALUE)),
        f("flags", 10, Kind::Uint32),
        f("min", 11, Kind::Double),
        f("max", 12, Kind::Double),
    ],
};
static EXP_HISTOGRAM_POINT: Msg = Msg {
    fields: &[
        f("attributes", 1, Kind::Msg(&KEY_VALUE)),
        f("startTimeUnixNano", 2, Kind::Fixed64),
        f("timeUnixNano", 3, Kind::Fixed64),
        f("count", 4, Kind::Fixed64),
        f("sum", 5, Kind::Double),
        f("scale", 6, Kind::Sint32),
        f("zeroCount", 7, Kind::Fixed64),
        f("positive", 8, Kind::Msg(&BUCKETS)),
        f("negative", 9, Kind::Msg(&BUCKETS)),
        f("flags", 10, Kind::Uint32),
        f("exemplars", 11, Kind::Msg(&EXEMPLAR)),
        f("min", 12, Kind::Double),
        f("max", 13, Kind::Double),
        f("zeroThreshold", 14, Kind::Double),
    ],
};
static BUCKETS: Msg = Msg {
    fields: &[
        f("offset", 1, Kind::Sint32),
        f("bucketCounts", 2, Kind::Uint64),
    ],
};
static SUMMARY_POINT: Msg = Msg {
    fields: &[
        f("startTimeUnixNano", 2, Kind::Fixed64),
        f("timeUnixNano", 3, Kind::Fixed64),
        f("count", 4, Kind::Fixed64),
        f("sum", 5, Kind::Double),
        f("quantileValues", 6, Kind::Msg(&QUANTILE)),
        f("attributes", 7, Kind::Msg(&KEY_VALUE)),
        f("flags", 8, Kind::Uint32),
    ],
};
static QUANTILE: Msg = Msg {
    fields: &[f("quantile", 1, Kind::Double), f("value", 2, Kind::Double)],
};
static EXEMPLAR: Msg = Msg {
    fields: &[
        f("timeUnixNano", 2, Kind::Fixed64),
        f("asDouble", 3, Kind::Double),
        f("spanId", 4, Kind::HexId),
        f("traceId", 5, Kind::HexId),
        f("asInt", 6, Kind::Sfixed64),
        f("filteredAttributes", 7, Kind::Msg(&KEY_VALUE)),
    ],
};

/// Deepest message nesting accepted (OTLP itself needs about 10; the rest is for AnyValue).
const MAX_DEPTH: usize = 64;

/// Transcodes an OTLP/JSON export request of `signal` to its protobuf encoding.
pub fn to_protobuf(signal: Signal, json: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let value: Json =
        serde_json::from_slice(json).map_err(|e| DecodeError::new(format!("invalid JSON: {e}")))?;
    let root = match signal {
        Signal::Logs => &LOGS_REQUEST,
        Signal::Traces => &TRACES_REQUEST,
        Signal::Metrics => &METRICS_REQUEST,
    };
    let mut out = Vec::with_capacity(json.len() / 2);
    message(root, &value, &mut out, 0)?;
    Ok(out)
}

fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn message(desc: &Msg, value: &Json, out: &mut Vec<u8>, depth: usize) -> Result<(), DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::new("invalid OTLP/JSON: nested too deeply"));
    }
    let object = match value {
        Json::Object(o) => o,
        Json::Null => return Ok(()),
        _ => return Err(DecodeError::new("invalid OTLP/JSON: expected an object")),
    };
    for (key, v) in object {
        let found = desc.fields.iter().find(|f| f.name == key.as_str());
        let field = match found {
            Some(field) => field,
            None if key.contains('_') => {
                let name = camel(key);
                match desc.fields.iter().find(|f| f.name == name) {
                    Some(field) => field,
                    None => continue,
                }
            }
            None => continue,
        };
        match v {
            Json::Null => {}
            Json::Array(items) => {
                for item in items {
                    scalar_or_message(field, item, out, depth)?;
                }
            }
            _ => scalar_or_message(field, v, out, depth)?,
        }
    }
    Ok(())
}

fn bad(field: &Field, what: &str) -> DecodeError {
    DecodeError::new(format!("invalid OTLP/JSON: `{}` {what}", field.name))
}

fn key(out: &mut Vec<u8>, number: u32, wire_type: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire_type));
}

fn as_u64(field: &Field, v: &Json) -> Result<u64, DecodeError> {
    match v {
        Json::Number(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .ok_or_else(|| bad(field, "is not an unsigned integer")),
        Json::String(s) => s
            .parse()
            .map_err(|_| bad(field, "is not an unsigned integer")),
        _ => Err(bad(field, "is not an unsigned integer")),
    }
}

fn as_i64(field: &Field, v: &Json) -> Result<i64, DecodeError> {
    match v {
        Json::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| bad(field, "is not an integer")),
        Json::String(s) => s.parse().map_err(|_| bad(field, "is not an integer")),
        _ => Err(bad(field, "is not an integer")),
    }
}

fn as_f64(field: &Field, v: &Json) -> Result<f64, DecodeError> {
    match v {
        Json::Number(n) => n.as_f64().ok_or_else(|| bad(field, "is not a number")),
        Json::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other.parse().map_err(|_| bad(field, "is not a number")),
        },
        _ => Err(bad(field, "is not a number")),
    }
}

fn scalar_or_message(
    field: &Field,
    v: &Json,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), DecodeError> {
    let n = field.number;
    match field.kind {
        Kind::Msg(desc) => {
            let mut child = Vec::new();
            message(desc, v, &mut child, depth + 1)?;
            key(out, n, 2);
            put_varint(out, child.len() as u64);
            out.extend_from_slice(&child);
        }
        Kind::Str => {
            let Json::String(s) = v else {
                return Err(bad(field, "is not a string"));
            };
            key(out, n, 2);
            put_varint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Kind::HexId => {
            let Json::String(s) = v else {
                return Err(bad(field, "is not a hex string"));
            };
            let bytes = decode_hex(s).ok_or_else(|| bad(field, "is not a hex string"))?;
            key(out, n, 2);
            put_varint(out, bytes.len() as u64);
            out.extend_from_slice(&bytes);
        }
        Kind::Base64 => {
            let Json::String(s) = v else {
                return Err(bad(field, "is not base64"));
            };
            let engines = [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::URL_SAFE,
            ];
            let bytes = engines
                .iter()
                .find_map(|e| {
                    e.decode(s.trim_end_matches('='))
                        .ok()
                        .or_else(|| e.decode(s).ok())
                })
                .or_else(|| {
                    base64::engine::general_purpose::STANDARD_NO_PAD
                        .decode(s)
                        .ok()
                })
                .or_else(|| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(s)
                        .ok()
                })
                .ok_or_else(|| bad(field, "is not base64"))?;
            key(out, n, 2);
            put_varint(out, bytes.len() as u64);
            out.extend_from_slice(&bytes);
        }
        Kind::Fixed64 => {
            key(out, n, 1);
            out.extend_from_slice(&as_u64(field, v)?.to_le_bytes());
        }
        Kind::Sfixed64 => {
            key(out, n, 1);
            out.extend_from_slice(&as_i64(field, v)?.to_le_bytes());
        }
        Kind::Int64 => {
            key(out, n, 0);
            put_varint(out, as_i64(field, v)? as u64);
        }
        Kind::Uint32 => {
            let x = u32::try_from(as_u64(field, v)?).map_err(|_| bad(field, "is out of range"))?;
            key(out, n, 0);
            put_varint(out, u64::from(x));
        }
        Kind::Uint64 => {
            key(out, n, 0);
            put_varint(out, as_u64(field, v)?);
        }
        Kind::Sint32 => {
            let x = i32::try_from(as_i64(field, v)?).map_err(|_| bad(field, "is out of range"))?;
            key(out, n, 0);
            put_varint(out, u64::from(((x << 1) ^ (x >> 31)) as u32));
        }
        Kind::Enum(by_name) => {
            let x = match v {
                Json::String(s) => match by_name(s) {
                    Some(x) => x,
                    None => s
                        .parse()
                        .map_err(|_| bad(field, "is not a known enum value"))?,
                },
                _ => i32::try_from(as_i64(field, v)?).map_err(|_| bad(field, "is out of range"))?,
            };
            key(out, n, 0);
            put_varint(out, x as i64 as u64);
        }
        Kind::Double => {
            key(out, n, 1);
            out.extend_from_slice(&as_f64(field, v)?.to_le_bytes());
        }
        Kind::Bool => {
            let Json::Bool(b) = v else {
                return Err(bad(field, "is not a boolean"));
            };
            key(out, n, 0);
            out.push(u8::from(*b));
        }
        Kind::Fixed32 => {
            let x = u32::try_from(as_u64(field, v)?).map_err(|_| bad(field, "is out of range"))?;
            key(out, n, 5);
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    Ok(())
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names() {
        assert_eq!(severity("SEVERITY_NUMBER_INFO"), Some(9));
        assert_eq!(severity("SEVERITY_NUMBER_WARN3"), Some(15));
        assert_eq!(severity("SEVERITY_NUMBER_FATAL4"), Some(24));
        assert_eq!(severity("SEVERITY_NUMBER_TRACE"), Some(1));
        assert_eq!(severity("INFO"), None);
        assert_eq!(span_kind("SPAN_KIND_CONSUMER"), Some(5));
        assert_eq!(status_code("STATUS_CODE_ERROR"), Some(2));
        assert_eq!(temporality("AGGREGATION_TEMPORALITY_CUMULATIVE"), Some(2));
    }

    #[test]
    fn snake_case_is_camelised() {
        assert_eq!(camel("time_unix_nano"), "timeUnixNano");
        assert_eq!(camel("resource_logs"), "resourceLogs");
    }

    #[test]
    fn rejects_bad_hex_and_json() {
        let bad_id = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}"#;
        assert!(to_protobuf(Signal::Traces, bad_id).is_err());
        assert!(to_protobuf(Signal::Logs, b"{not json").is_err());
        assert!(to_protobuf(Signal::Logs, b"[1]").is_err());
    }
}
