//! Nested msgpack values (arrays, maps, extension values) as OTLP/JSON `AnyValue`s: the one
//! stored form of type codes 6 (array: `[AnyValue…]`) and 7 (key-value list:
//! `[{"key":…,"value":AnyValue}…]`), the same as an OTLP export's, so that a value reads the
//! same whichever input brought it.

use base64::Engine as _;

use super::msgpack::{Head, MsgpackError, Reader, json_string};
use crate::otlp::ValueType;
use crate::otlp::anyvalue::json_double;

/// Nesting rendered; deeper values are refused (the recursion stays shallow).
const MAX_DEPTH: usize = 64;

/// Appends the container `raw` (one msgpack array, map or extension value) to `out` in its
/// stored form; returns its type code.
pub(crate) fn container(raw: &[u8], out: &mut Vec<u8>) -> Result<ValueType, MsgpackError> {
    let mut r = Reader::new(raw);
    match r.head()? {
        Head::Array(n) => {
            values(&mut r, n, out, 0)?;
            Ok(ValueType::Array)
        }
        Head::Map(n) => {
            entries(&mut r, n, out, 0)?;
            Ok(ValueType::KvList)
        }
        Head::Ext(ty, data) => {
            ext(ty, data, out);
            Ok(ValueType::KvList)
        }
        _ => Err(MsgpackError::Invalid("a container was expected")),
    }
}

/// `[AnyValue…]` of the next `n` values.
fn values(
    r: &mut Reader<'_>,
    n: usize,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), MsgpackError> {
    out.push(b'[');
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        any_value(r, out, depth + 1)?;
    }
    out.push(b']');
    Ok(())
}

/// `[{"key":…,"value":AnyValue}…]` of the next `n` pairs; a key that is not a string is
/// written as its JSON text.
fn entries(
    r: &mut Reader<'_>,
    n: usize,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), MsgpackError> {
    out.push(b'[');
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        match r.head()? {
            Head::Str(k) => json_string(k, out),
            Head::Nil => json_string(b"null", out),
            Head::Bool(b) => json_string(if b { b"true" } else { b"false" }, out),
            Head::Int(k) => json_string(itoa::Buffer::new().format(k).as_bytes(), out),
            Head::Uint(k) => json_string(itoa::Buffer::new().format(k).as_bytes(), out),
            _ => return Err(MsgpackError::Invalid("map key is not a scalar")),
        }
        out.extend_from_slice(b",\"value\":");
        any_value(r, out, depth + 1)?;
        out.push(b'}');
    }
    out.push(b']');
    Ok(())
}

/// An extension value: `[{"key":"ext","value":{"intValue":"<type>"}},{"key":"data",…}]`.
fn ext(ty: i8, data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"[{\"key\":\"ext\",\"value\":{\"intValue\":\"");
    out.extend_from_slice(itoa::Buffer::new().format(ty).as_bytes());
    out.extend_from_slice(b"\"}},{\"key\":\"data\",\"value\":{\"bytesValue\":\"");
    out.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(data)
            .as_bytes(),
    );
    out.extend_from_slice(b"\"}}]");
}

/// One value as an OTLP/JSON `AnyValue` (`nil` is the empty `{}`).
fn any_value(r: &mut Reader<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), MsgpackError> {
    if depth > MAX_DEPTH {
        return Err(MsgpackError::Invalid("nested deeper than 64 levels"));
    }
    match r.head()? {
        Head::Nil => out.extend_from_slice(b"{}"),
        Head::Bool(b) => out.extend_from_slice(if b {
            b"{\"boolValue\":true}"
        } else {
            b"{\"boolValue\":false}"
        }),
        Head::Int(i) => int(itoa::Buffer::new().format(i), out),
        Head::Uint(u) => int(itoa::Buffer::new().format(u), out),
        Head::Float(f) => {
            out.extend_from_slice(b"{\"doubleValue\":");
            json_double(out, f);
            out.push(b'}');
        }
        Head::Str(s) => {
            out.extend_from_slice(b"{\"stringValue\":");
            json_string(s, out);
            out.push(b'}');
        }
        Head::Bin(b) => {
            out.extend_from_slice(b"{\"bytesValue\":\"");
            out.extend_from_slice(
                base64::engine::general_purpose::STANDARD
                    .encode(b)
                    .as_bytes(),
            );
            out.extend_from_slice(b"\"}");
        }
        Head::Array(n) => {
            out.extend_from_slice(b"{\"arrayValue\":{\"values\":");
            values(r, n, out, depth)?;
            out.extend_from_slice(b"}}");
        }
        Head::Map(n) => {
            out.extend_from_slice(b"{\"kvlistValue\":{\"values\":");
            entries(r, n, out, depth)?;
            out.extend_from_slice(b"}}");
        }
        Head::Ext(ty, data) => {
            out.extend_from_slice(b"{\"kvlistValue\":{\"values\":");
            ext(ty, data, out);
            out.extend_from_slice(b"}}");
        }
    }
    Ok(())
}

fn int(digits: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"intValue\":\"");
    out.extend_from_slice(digits.as_bytes());
    out.extend_from_slice(b"\"}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::msgpack::{write_array_len, write_map_len, write_str};

    #[test]
    fn arrays_and_maps_take_the_otlp_json_form() {
        // {"a": [1, "x", true, nil, 1.5], "b": {"c": -2}}
        let mut m = Vec::new();
        write_map_len(&mut m, 2);
        write_str(&mut m, b"a");
        write_array_len(&mut m, 5);
        m.extend_from_slice(&[0x01, 0xa1, b'x', 0xc3, 0xc0, 0xcb]);
        m.extend_from_slice(&1.5f64.to_be_bytes());
        write_str(&mut m, b"b");
        write_map_len(&mut m, 1);
        write_str(&mut m, b"c");
        m.push(0xfe);
        let mut out = Vec::new();
        assert_eq!(container(&m, &mut out).unwrap(), ValueType::KvList);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            r#"[{"key":"a","value":{"arrayValue":{"values":[{"intValue":"1"},{"stringValue":"x"},{"boolValue":true},{},{"doubleValue":1.5}]}}},{"key":"b","value":{"kvlistValue":{"values":[{"key":"c","value":{"intValue":"-2"}}]}}}]"#
        );
        // The same shape an OTLP export's kvlist is stored in.
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed[1]["value"]["kvlistValue"]["values"][0]["key"], "c");
    }
}
