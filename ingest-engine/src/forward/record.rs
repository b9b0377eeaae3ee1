//! One Fluent record (a msgpack map) → one `logs` row, with OneUptime's field rules: the body is
//! the first of `message`, `log`, `msg`, `body`, `text`; the severity comes from the usual level
//! fields; `trace_id`/`span_id` (any common spelling) become the id columns when they are valid
//! hex; every other field is kept as an attribute with its type.

use base64::Engine as _;

use super::msgpack::{Head, MsgpackError, Reader, to_json};
use crate::clickhouse::native::put_bytes;
use crate::clickhouse::tables::LogsBlock;
use crate::otlp::anyvalue::{ValueType, put_double};

/// What a field's key makes it, beyond an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Body,
    Level,
    Trace,
    Span,
    Service,
}

/// The role of a field key and its rank among that role's keys (0 = preferred): the body is
/// the first of `message`, `log`, `msg`, `body`, `text`; the level of `level`, `severity`,
/// `loglevel`, `log_level`, `priority`, `severityText`, `severity_text`. One match per field
/// (the compiler switches on the length first), not a scan of every list.
fn role(key: &[u8]) -> Option<(Role, u8)> {
    use Role::*;
    Some(match key {
        b"message" => (Body, 0),
        b"log" => (Body, 1),
        b"msg" => (Body, 2),
        b"body" => (Body, 3),
        b"text" => (Body, 4),
        b"level" => (Level, 0),
        b"severity" => (Level, 1),
        b"loglevel" => (Level, 2),
        b"log_level" => (Level, 3),
        b"priority" => (Level, 4),
        b"severityText" => (Level, 5),
        b"severity_text" => (Level, 6),
        b"trace_id" => (Trace, 0),
        b"traceId" => (Trace, 1),
        b"traceid" => (Trace, 2),
        b"span_id" => (Span, 0),
        b"spanId" => (Span, 1),
        b"spanid" => (Span, 2),
        b"service.name" => (Service, 0),
        b"service_name" => (Service, 1),
        _ => return None,
    })
}

/// Where a record came from.
pub(crate) struct Origin<'a> {
    pub(crate) project: &'a [u8],
    /// The service of records that name none (Forward: the tag).
    pub(crate) service: &'a [u8],
    /// The Fluent tag, kept as the resource attribute `fluent.tag` (Fluentd HTTP has none).
    pub(crate) tag: Option<&'a [u8]>,
    /// What the scope columns name (`fluent-forward`, `fluentd-http`).
    pub(crate) scope: &'a [u8],
    /// Receive time, ns (observed time; also the event time when the sender gave none).
    pub(crate) now: u64,
}

/// OTel severity number of a level name (OneUptime's table), 0 when unknown.
pub(crate) fn severity_number(level: &[u8]) -> i32 {
    // Lowercased on the stack: this runs once per record.
    let mut lower = [0u8; 12];
    let Some(lower) = lower.get_mut(..level.len()) else {
        return 0;
    };
    lower.copy_from_slice(level);
    lower.make_ascii_lowercase();
    match &*lower {
        b"trace" => 1,
        b"debug" => 5,
        b"info" | b"information" | b"notice" => 9,
        b"warn" | b"warning" => 13,
        b"error" | b"err" => 17,
        b"critical" | b"crit" | b"alert" => 21,
        b"fatal" | b"emerg" | b"emergency" | b"panic" => 23,
        _ => 0,
    }
}

fn valid_hex_id(s: &[u8], len: usize) -> bool {
    s.len() == len && s.iter().all(u8::is_ascii_hexdigit)
}

/// Appends one value as an attribute value with its type.
fn put_value(
    h: Head<'_>,
    raw: &[u8],
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<ValueType, MsgpackError> {
    Ok(match h {
        Head::Nil => {
            put_bytes(out, b"");
            ValueType::Empty
        }
        Head::Bool(b) => {
            put_bytes(out, if b { b"true" } else { b"false" });
            ValueType::Bool
        }
        Head::Int(i) => {
            put_bytes(out, itoa::Buffer::new().format(i).as_bytes());
            ValueType::Int
        }
        Head::Uint(u) => {
            put_bytes(out, itoa::Buffer::new().format(u).as_bytes());
            ValueType::Int
        }
        Head::Float(f) => {
            put_double(out, f);
            ValueType::Double
        }
        Head::Str(s) => {
            put_bytes(out, s);
            ValueType::String
        }
        Head::Bin(b) => {
            put_bytes(
                out,
                base64::engine::general_purpose::STANDARD
                    .encode(b)
                    .as_bytes(),
            );
            ValueType::Bytes
        }
        Head::Array(_) | Head::Map(_) | Head::Ext(..) => {
            scratch.clear();
            to_json(raw, scratch)?;
            put_bytes(out, scratch);
            if matches!(h, Head::Map(_)) {
                ValueType::KvList
            } else {
                ValueType::Array
            }
        }
    })
}

/// One field of a record: key, raw value, value head, and its whole encoding (key and value).
pub(crate) type Field<'a> = (&'a [u8], &'a [u8], Head<'a>, &'a [u8]);

/// The fields of the record being read and of the one before it, reused across a frame's
/// records. Log shippers repeat most fields record after record (host, service, pod…): a
/// field whose bytes equal the previous record's field at the same position is taken from it
/// without being parsed again.
#[derive(Default)]
pub(crate) struct Fields<'a> {
    current: Vec<Field<'a>>,
    previous: Vec<Field<'a>>,
}

/// Appends lowercase `hex` (already checked to be hex) to an id column.
fn push_lower_hex(col: &mut crate::clickhouse::native::StrCol, hex: &[u8]) {
    let raw = col.raw();
    crate::clickhouse::native::put_varint(raw, hex.len() as u64);
    raw.extend(hex.iter().map(u8::to_ascii_lowercase));
}

/// Appends the record at `r` (a msgpack map, read past) as one row at `time_ns`, with Fluent
/// Bit `metadata` (a map, or empty) kept as `fluent.metadata.*` attributes. `fields` is kept
/// across the records of a frame.
pub(crate) fn push_record<'a>(
    block: &mut LogsBlock,
    origin: &Origin<'_>,
    time_ns: u64,
    r: &mut Reader<'a>,
    metadata: &[u8],
    fields: &mut Fields<'a>,
    scratch: &mut Vec<u8>,
) -> Result<(), MsgpackError> {
    let Head::Map(n) = r.head()? else {
        return Err(MsgpackError::Invalid("a record must be a map"));
    };
    // First pass: which fields are the body, level, ids and service.
    std::mem::swap(&mut fields.current, &mut fields.previous);
    let Fields { current, previous } = fields;
    current.clear();
    // (rank, field index) of the best field of each role.
    let (mut body, mut level, mut trace, mut span, mut service) = (None, None, None, None, None);
    for i in 0..n {
        let (key, head) = match previous.get(i) {
            Some(same) if r.rest().starts_with(same.3) => {
                r.skip(same.3.len());
                current.push(*same);
                (same.0, same.2)
            }
            _ => {
                let start = r.rest();
                let key = match r.head()? {
                    Head::Str(k) | Head::Bin(k) => k,
                    _ => return Err(MsgpackError::Invalid("record keys must be strings")),
                };
                let (value, head) = r.value_and_head()?;
                let whole = &start[..start.len() - r.rest().len()];
                current.push((key, value, head, whole));
                (key, head)
            }
        };
        let Some((role, rank)) = role(key) else {
            continue;
        };
        let slot: &mut Option<(u8, usize)> = match (role, head) {
            (Role::Body, _) => &mut body,
            (Role::Level, Head::Str(_) | Head::Int(_) | Head::Uint(_)) => &mut level,
            (Role::Trace, Head::Str(s)) if valid_hex_id(s, 32) => &mut trace,
            (Role::Span, Head::Str(s)) if valid_hex_id(s, 16) => &mut span,
            (Role::Service, Head::Str(s)) if !s.is_empty() => &mut service,
            _ => continue,
        };
        if slot.is_none_or(|(best, _)| rank < best) {
            *slot = Some((rank, i));
        }
    }
    let fields = &*current;
    let pick = |c: Option<(u8, usize)>| c.map(|(_, at)| at);
    let (body, level, trace, span, service) = (
        pick(body),
        pick(level),
        pick(trace),
        pick(span),
        pick(service),
    );

    block.project_id.push(origin.project);
    match service.map(|i| fields[i].2) {
        Some(Head::Str(s)) => block.service_name.push(s),
        _ => block.service_name.push(origin.service),
    }
    let time = if time_ns == 0 { origin.now } else { time_ns };
    block.time.push(crate::otlp::seconds(time));
    block.time_unix_nano.push(time_ns);
    block.observed_time_unix_nano.push(origin.now);
    match level.map(|i| fields[i].2) {
        Some(Head::Str(s)) => {
            block.severity_number.push(severity_number(s));
            block.severity_text.push(s);
        }
        Some(Head::Int(v)) => {
            block.severity_number.push(0);
            block
                .severity_text
                .push(itoa::Buffer::new().format(v).as_bytes());
        }
        Some(Head::Uint(v)) => {
            block.severity_number.push(0);
            block
                .severity_text
                .push(itoa::Buffer::new().format(v).as_bytes());
        }
        _ => {
            block.severity_number.push(0);
            block.severity_text.push(b"");
        }
    }
    match body {
        Some(i) => {
            let (_, raw, head, _) = fields[i];
            let ty = put_value(head, raw, block.body.raw(), scratch)?;
            block.body_type.push(ty as u8);
        }
        None => {
            block.body.push(b"");
            block.body_type.push(ValueType::Empty as u8);
        }
    }
    match trace.map(|i| fields[i].2) {
        Some(Head::Str(s)) => push_lower_hex(&mut block.trace_id, s),
        _ => block.trace_id.push(b""),
    }
    match span.map(|i| fields[i].2) {
        Some(Head::Str(s)) => push_lower_hex(&mut block.span_id, s),
        _ => block.span_id.push(b""),
    }
    block.flags.push(0);
    block.event_name.push(b"");

    let mut count = 0u64;
    let attrs = &mut block.attributes;
    for (i, (key, raw, head, _)) in fields.iter().enumerate() {
        if Some(i) == body || Some(i) == level || Some(i) == trace || Some(i) == span {
            continue;
        }
        put_bytes(&mut attrs.keys, key);
        let ty = put_value(*head, raw, &mut attrs.values, scratch)?;
        attrs.types.push(ty as u8);
        count += 1;
    }
    if !metadata.is_empty() {
        let mut m = Reader::new(metadata);
        if let Head::Map(n) = m.head()? {
            for _ in 0..n {
                let key = m.value()?;
                let mut k = Reader::new(key);
                let name = match k.head()? {
                    Head::Str(s) | Head::Bin(s) => s.to_vec(),
                    _ => {
                        let mut text = Vec::new();
                        to_json(key, &mut text)?;
                        text
                    }
                };
                let value = m.value()?;
                let head = Reader::new(value).head()?;
                scratch.clear();
                scratch.extend_from_slice(b"fluent.metadata.");
                scratch.extend_from_slice(&name);
                put_bytes(&mut attrs.keys, scratch);
                let ty = put_value(head, value, &mut attrs.values, scratch)?;
                attrs.types.push(ty as u8);
                count += 1;
            }
        }
    }
    attrs.close_row(count);
    block.dropped_attributes_count.push(0);

    let res = &mut block.resource_attributes;
    match origin.tag {
        Some(tag) => {
            put_bytes(&mut res.keys, b"fluent.tag");
            put_bytes(&mut res.values, tag);
            res.types.push(ValueType::String as u8);
            res.close_row(1);
        }
        None => res.close_row(0),
    }
    block.resource_dropped_attributes_count.push(0);
    block.resource_schema_url.push(b"");
    block.scope_name.push(origin.scope);
    block.scope_version.push(b"");
    block.scope_attributes.close_row(0);
    block.scope_dropped_attributes_count.push(0);
    block.scope_schema_url.push(b"");
    block.rows += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::msgpack::{write_bool, write_map_len, write_str};

    fn record(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        write_map_len(&mut out, fields.len() as u32);
        for (k, v) in fields {
            write_str(&mut out, k.as_bytes());
            if *v == "true" {
                write_bool(&mut out, true);
            } else {
                write_str(&mut out, v.as_bytes());
            }
        }
        out
    }

    /// Fields taken over from the previous record give exactly the rows a fresh parse gives.
    #[test]
    fn repeated_fields_give_the_same_rows_as_a_fresh_parse() {
        let records = [
            record(&[
                ("host", "h1"),
                ("message", "a"),
                ("level", "info"),
                ("ok", "true"),
            ]),
            record(&[
                ("host", "h1"),
                ("message", "b"),
                ("level", "info"),
                ("ok", "true"),
            ]),
            record(&[("host", "h2"), ("message", "c"), ("level", "warn")]),
            record(&[
                ("message", "h2"),
                ("host", "c"),
                ("level", "warn"),
                ("x", "y"),
            ]),
            record(&[
                ("host", "h2"),
                ("message", "c"),
                ("level", "warn"),
                ("ok", "true"),
            ]),
        ];
        let stream = records.concat();
        let origin = Origin {
            project: b"p",
            service: b"tag",
            tag: Some(b"tag"),
            scope: b"fluent-forward",
            now: 7,
        };
        let encode = |shared: bool| {
            let mut block = LogsBlock::default();
            let (mut fields, mut scratch) = (Fields::default(), Vec::new());
            let mut r = Reader::new(&stream);
            for _ in &records {
                if !shared {
                    fields = Fields::default();
                }
                push_record(
                    &mut block,
                    &origin,
                    1,
                    &mut r,
                    &[],
                    &mut fields,
                    &mut scratch,
                )
                .unwrap();
            }
            assert!(r.is_empty());
            let mut out = Vec::new();
            block.encode(&mut out);
            out
        };
        assert_eq!(encode(true), encode(false));
    }
}
