//! OTLP/JSON → OTLP protobuf, driven by a table of the OTLP messages.
//!
//! Transcoding keeps one decoder (the protobuf walker) between the wire and the columns. It
//! follows the OTLP/JSON rules: lowerCamelCase field names (snake_case also accepted), trace and
//! span ids as case-insensitive hex, other bytes base64, 64-bit integers as strings or numbers,
//! enums as integers or names, doubles also as `"NaN"`/`"Infinity"`, unknown fields ignored.

use base64::Engine as _;
use serde_json::Value as Json;

use super::{DecodeError, Signal};
use storage::native::put_varint;

mod schema;

use schema::{Field, Kind, LOGS_REQUEST, METRICS_REQUEST, Msg, TRACES_REQUEST};
#[cfg(test)]
use schema::{severity, span_kind, status_code, temporality};

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

const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

fn as_u64(field: &Field, v: &Json) -> Result<u64, DecodeError> {
    match v {
        Json::Number(n) => n
            .as_u64()
            .or_else(|| {
                // `1e3` is an integer; `1e100` or `1.5` is not one that fits (a cast would
                // clamp or truncate it silently).
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && (0.0..TWO_POW_64).contains(f))
                    .map(|f| f as u64)
            })
            .ok_or_else(|| bad(field, "is not an unsigned 64-bit integer")),
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
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(f))
                    .map(|f| f as i64)
            })
            .ok_or_else(|| bad(field, "is not a 64-bit integer")),
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
