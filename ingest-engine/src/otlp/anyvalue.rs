//! OTLP `AnyValue` and `KeyValue` lists into ClickHouse attribute columns.
//!
//! Every attribute becomes `(key, value as text, type)`: strings are stored as sent, ints in
//! decimal, doubles in shortest round-trip form (`NaN`, `Infinity`, `-Infinity` as in OTLP/JSON),
//! bools as `true`/`false`, bytes in base64, and arrays and key-value lists as their OTLP/JSON
//! encoding — so the value and its OTLP type can always be recovered exactly.

use base64::Engine as _;

use super::DecodeError;
use super::wire::{Fields, Value};
use storage::native::{PreparedAttrs, put_bytes};

/// The OTLP type of a stored value (the `*_types` columns and `body_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ValueType {
    /// No value set.
    Empty = 0,
    /// `string_value`.
    String = 1,
    /// `bool_value`.
    Bool = 2,
    /// `int_value`.
    Int = 3,
    /// `double_value`.
    Double = 4,
    /// `bytes_value` (stored base64).
    Bytes = 5,
    /// `array_value` (stored as OTLP/JSON `[AnyValue…]`).
    Array = 6,
    /// `kvlist_value` (stored as OTLP/JSON `[{"key":…,"value":AnyValue}…]`).
    KvList = 7,
}

/// Nesting allowed inside arrays and key-value lists; deeper values are rejected as invalid.
const MAX_DEPTH: usize = 32;

/// The last-set member of an `AnyValue` oneof.
fn any_value_member(v: &[u8]) -> Result<Option<(u32, Value<'_>)>, DecodeError> {
    let mut fields = Fields::new(v);
    let mut last = None;
    while let Some((n, val)) = fields.next_field()? {
        if (1..=7).contains(&n) {
            last = Some((n, val));
        }
    }
    Ok(last)
}

/// Appends the `AnyValue` message `v` to `out` as a length-prefixed string and returns its type.
pub(crate) fn put_any_value(
    v: &[u8],
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<ValueType, DecodeError> {
    let Some((n, val)) = any_value_member(v)? else {
        put_bytes(out, b"");
        return Ok(ValueType::Empty);
    };
    Ok(match n {
        1 => {
            put_bytes(out, val.bytes("AnyValue.string_value")?);
            ValueType::String
        }
        2 => {
            let b = val.varint("AnyValue.bool_value")? != 0;
            put_bytes(out, if b { b"true" } else { b"false" });
            ValueType::Bool
        }
        3 => {
            let i = val.varint("AnyValue.int_value")? as i64;
            put_bytes(out, itoa::Buffer::new().format(i).as_bytes());
            ValueType::Int
        }
        4 => {
            put_double(out, val.double("AnyValue.double_value")?);
            ValueType::Double
        }
        7 => {
            base64_into(val.bytes("AnyValue.bytes_value")?, scratch);
            put_bytes(out, scratch);
            ValueType::Bytes
        }
        5 | 6 => {
            scratch.clear();
            let body = val.bytes("AnyValue.array_value")?;
            if n == 5 {
                json_values(body, scratch, 0)?;
            } else {
                json_kvlist(body, scratch, 0)?;
            }
            put_bytes(out, scratch);
            if n == 5 {
                ValueType::Array
            } else {
                ValueType::KvList
            }
        }
        _ => {
            put_bytes(out, b"");
            ValueType::Empty
        }
    })
}

/// Replaces `out` with the standard base64 encoding of `raw`.
fn base64_into(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.resize(raw.len().div_ceil(3) * 4, 0);
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(raw, out)
        .unwrap_or(0);
    out.truncate(n);
}

pub(crate) fn put_double(out: &mut Vec<u8>, d: f64) {
    if d.is_finite() {
        put_bytes(out, ryu::Buffer::new().format_finite(d).as_bytes());
    } else if d.is_nan() {
        put_bytes(out, b"NaN");
    } else if d > 0.0 {
        put_bytes(out, b"Infinity");
    } else {
        put_bytes(out, b"-Infinity");
    }
}

/// Appends one `KeyValue` message to attribute buffers; returns its key when it is `service.name`
/// with a string value (the caller's fast path for the service column).
pub(crate) fn push_key_value<'a>(
    kv: &'a [u8],
    keys: &mut Vec<u8>,
    values: &mut Vec<u8>,
    types: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<Option<&'a [u8]>, DecodeError> {
    let mut fields = Fields::new(kv);
    let mut key: &[u8] = b"";
    let mut value: &[u8] = b"";
    while let Some((n, val)) = fields.next_field()? {
        match n {
            1 => key = val.bytes("KeyValue.key")?,
            2 => value = val.bytes("KeyValue.value")?,
            _ => {}
        }
    }
    put_bytes(keys, key);
    let ty = put_any_value(value, values, scratch)?;
    types.push(ty as u8);
    if key == b"service.name" && ty == ValueType::String {
        return Ok(any_value_member(value)?.and_then(|(_, v)| v.bytes("").ok()));
    }
    Ok(None)
}

/// Encodes every `KeyValue` with field number `field` of `msg` into `out`; returns the
/// `service.name` string value if one was seen.
pub(crate) fn prepare_attrs<'a>(
    msg: &'a [u8],
    field: u32,
    out: &mut PreparedAttrs,
    scratch: &mut Vec<u8>,
) -> Result<Option<&'a [u8]>, DecodeError> {
    out.clear();
    let mut service = None;
    let mut fields = Fields::new(msg);
    while let Some((n, val)) = fields.next_field()? {
        if n == field {
            let kv = val.bytes("attributes")?;
            let s = push_key_value(kv, &mut out.keys, &mut out.values, &mut out.types, scratch)?;
            if s.is_some() {
                service = s;
            }
            out.count += 1;
        }
    }
    Ok(service)
}

fn json_str(out: &mut Vec<u8>, s: &[u8]) {
    let text = String::from_utf8_lossy(s);
    // Writing a string into a Vec cannot fail.
    let _ignored = serde_json::to_writer(&mut *out, text.as_ref());
}

/// A double as OTLP/JSON writes it: shortest round-trip digits, or the strings `"NaN"`,
/// `"Infinity"`, `"-Infinity"`.
pub(crate) fn json_double(out: &mut Vec<u8>, d: f64) {
    if d.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(d).as_bytes());
    } else if d.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if d > 0.0 {
        out.extend_from_slice(b"\"Infinity\"");
    } else {
        out.extend_from_slice(b"\"-Infinity\"");
    }
}

/// Renders an `AnyValue` as OTLP/JSON.
fn json_any(v: &[u8], out: &mut Vec<u8>, depth: usize) -> Result<(), DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::new(
            "invalid OTLP: attribute value nested too deeply",
        ));
    }
    let Some((n, val)) = any_value_member(v)? else {
        out.extend_from_slice(b"{}");
        return Ok(());
    };
    match n {
        1 => {
            out.extend_from_slice(b"{\"stringValue\":");
            json_str(out, val.bytes("AnyValue.string_value")?);
        }
        2 => {
            let b = val.varint("AnyValue.bool_value")? != 0;
            out.extend_from_slice(if b {
                b"{\"boolValue\":true"
            } else {
                b"{\"boolValue\":false"
            });
        }
        3 => {
            out.extend_from_slice(b"{\"intValue\":\"");
            let i = val.varint("AnyValue.int_value")? as i64;
            out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
            out.push(b'"');
        }
        4 => {
            out.extend_from_slice(b"{\"doubleValue\":");
            json_double(out, val.double("AnyValue.double_value")?);
        }
        5 => {
            out.extend_from_slice(b"{\"arrayValue\":{\"values\":");
            json_values(val.bytes("AnyValue.array_value")?, out, depth + 1)?;
            out.push(b'}');
        }
        6 => {
            out.extend_from_slice(b"{\"kvlistValue\":{\"values\":");
            json_kvlist(val.bytes("AnyValue.kvlist_value")?, out, depth + 1)?;
            out.push(b'}');
        }
        _ => {
            out.extend_from_slice(b"{\"bytesValue\":\"");
            let mut encoded = Vec::new();
            base64_into(val.bytes("AnyValue.bytes_value")?, &mut encoded);
            out.extend_from_slice(&encoded);
            out.push(b'"');
        }
    }
    out.push(b'}');
    Ok(())
}

/// Renders `ArrayValue.values` as a JSON array of OTLP/JSON `AnyValue`s.
fn json_values(array: &[u8], out: &mut Vec<u8>, depth: usize) -> Result<(), DecodeError> {
    out.push(b'[');
    let mut fields = Fields::new(array);
    let mut first = true;
    while let Some((n, val)) = fields.next_field()? {
        if n == 1 {
            if !first {
                out.push(b',');
            }
            first = false;
            json_any(val.bytes("ArrayValue.values")?, out, depth + 1)?;
        }
    }
    out.push(b']');
    Ok(())
}

/// Renders `KeyValueList.values` (or any `repeated KeyValue`) as OTLP/JSON.
pub(crate) fn json_kvlist(list: &[u8], out: &mut Vec<u8>, depth: usize) -> Result<(), DecodeError> {
    json_kvs(list, 1, out, depth)
}

/// Renders every `KeyValue` in field `field` of `msg` as an OTLP/JSON array.
pub(crate) fn json_kvs(
    msg: &[u8],
    field: u32,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), DecodeError> {
    out.push(b'[');
    let mut fields = Fields::new(msg);
    let mut first = true;
    while let Some((n, val)) = fields.next_field()? {
        if n != field {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        let mut kv = Fields::new(val.bytes("KeyValue")?);
        let (mut key, mut value): (&[u8], &[u8]) = (b"", b"");
        while let Some((n, v)) = kv.next_field()? {
            match n {
                1 => key = v.bytes("KeyValue.key")?,
                2 => value = v.bytes("KeyValue.value")?,
                _ => {}
            }
        }
        out.extend_from_slice(b"{\"key\":");
        json_str(out, key);
        out.extend_from_slice(b",\"value\":");
        json_any(value, out, depth + 1)?;
        out.push(b'}');
    }
    out.push(b']');
    Ok(())
}

/// Appends every `KeyValue` in field `field` of `msg` to `cols` as one row.
/// Appends one `KeyValue` message to `cols` (the caller closes the row).
#[inline]
pub(crate) fn push_attr(
    kv: &[u8],
    cols: &mut storage::native::AttrCols,
    scratch: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    push_key_value(
        kv,
        &mut cols.keys,
        &mut cols.values,
        &mut cols.types,
        scratch,
    )?;
    Ok(())
}

pub(crate) fn push_attrs(
    msg: &[u8],
    field: u32,
    cols: &mut storage::native::AttrCols,
    scratch: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    let mut count = 0;
    let mut fields = Fields::new(msg);
    while let Some((n, val)) = fields.next_field()? {
        if n == field {
            push_attr(val.bytes("attributes")?, cols, scratch)?;
            count += 1;
        }
    }
    cols.close_row(count);
    Ok(())
}
