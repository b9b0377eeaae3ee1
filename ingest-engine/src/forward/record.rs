//! One Fluent record (a msgpack map) → one `logs` row, with OneUptime's field rules: the body is
//! the first of `message`, `log`, `msg`, `body`, `text`; the severity comes from the usual level
//! fields; `trace_id`/`span_id` (any common spelling) become the id columns when they are valid
//! hex; every other field is kept as an attribute with its type, in the record's order (a
//! field that held a role until a better-ranked key came after it follows the others).

use base64::Engine as _;

pub(crate) use super::fields::Fields;
use super::fields::{Offer, Picks, role};
use super::msgpack::{Head, MsgpackError, Reader, to_json};
use crate::otlp::anyvalue::{ValueType, put_double};
use storage::native::{AttrCols, put_bytes};
use storage::tables::LogsBlock;

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
            let ty = super::otlp_json::container(raw, scratch)?;
            put_bytes(out, scratch);
            ty
        }
    })
}

/// Appends one field as an attribute; returns 1, the number of attributes appended.
fn put_attribute(
    attrs: &mut AttrCols,
    key: &[u8],
    head: Head<'_>,
    value: &[u8],
    scratch: &mut Vec<u8>,
) -> Result<u64, MsgpackError> {
    put_bytes(&mut attrs.keys, key);
    let ty = put_value(head, value, &mut attrs.values, scratch)?;
    attrs.types.push(ty as u8);
    Ok(1)
}

/// Appends lowercase `hex` (already checked to be hex) to an id column.
fn push_lower_hex(col: &mut storage::native::StrCol, hex: &[u8]) {
    let raw = col.raw();
    storage::native::put_varint(raw, hex.len() as u64);
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
    let attrs = &mut block.attributes;
    let mut count = 0u64;
    let mut picks = Picks::default();
    // From which field on none has a role (a later record may take them over as a tail).
    let mut plain_from = 0;
    fields.start();
    let record = r.rest();
    for i in 0..n {
        let at = record.len() - r.rest().len();
        if let Some(tail) = fields.tail(r.rest(), n - i) {
            let start = attrs.mark();
            if attrs.repeat(tail.attributes.0, tail.attributes.1) {
                r.skip(tail.len);
                fields.take_tail(tail, at, start);
                count += (n - i) as u64;
                break;
            }
        }
        fields.place(at, attrs.mark());
        let key = match r.head()? {
            Head::Str(k) | Head::Bin(k) => k,
            _ => return Err(MsgpackError::Invalid("record keys must be strings")),
        };
        let (value, head) = r.value_and_head()?;
        let role = role(key);
        if role.is_some() {
            plain_from = i + 1;
        }
        match picks.offer(role, key, head, value) {
            Offer::Attribute => count += put_attribute(attrs, key, head, value, scratch)?,
            Offer::Held => {}
            Offer::Displaced(held) => fields.displaced.push(held),
        }
    }
    fields.finish(
        &record[..record.len() - r.rest().len()],
        attrs.mark(),
        plain_from,
    );
    // Role fields that a better-ranked key displaced are attributes, after the others.
    for held in &fields.displaced {
        count += put_attribute(attrs, held.key, held.head, held.value, scratch)?;
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

    block.project_id.push(origin.project);
    block
        .service_name
        .push(picks.service.map_or(origin.service, |(s, _)| s));
    let time = if time_ns == 0 { origin.now } else { time_ns };
    block.time.push(crate::otlp::seconds(time));
    block.time_unix_nano.push(time_ns);
    block.observed_time_unix_nano.push(origin.now);
    match picks.level.map(|l| l.head) {
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
    match picks.body {
        Some(body) => {
            let ty = put_value(body.head, body.value, block.body.raw(), scratch)?;
            block.body_type.push(ty as u8);
        }
        None => {
            block.body.push(b"");
            block.body_type.push(ValueType::Empty as u8);
        }
    }
    match picks.trace.map(|t| t.head) {
        Some(Head::Str(s)) => push_lower_hex(&mut block.trace_id, s),
        _ => block.trace_id.push(b""),
    }
    match picks.span.map(|s| s.head) {
        Some(Head::Str(s)) => push_lower_hex(&mut block.span_id, s),
        _ => block.span_id.push(b""),
    }
    block.flags.push(0);
    block.event_name.push(b"");

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

    /// Fields taken over from the previous record (one by one, or a whole tail with its
    /// encoded attributes) give exactly the rows a fresh parse gives, also when optional fields
    /// come and go, roles sit in the tail and Fluent Bit metadata follows.
    #[test]
    fn repeated_fields_give_the_same_rows_as_a_fresh_parse() {
        let mut rng = 7u64;
        let mut pick = |n: u64| {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 33) % n
        };
        let mut records = Vec::new();
        let mut metadata = Vec::new();
        for i in 0..400 {
            let mut f: Vec<(&str, String)> = Vec::new();
            if pick(6) == 0 {
                // Displaced by `message` (better ranked) below: an attribute after all.
                f.push(("log", "first".into()));
            }
            f.push(("message", format!("m{}", pick(3))));
            if pick(2) == 0 {
                f.push(("level", ["info", "warn"][pick(2) as usize].into()));
            }
            if pick(3) > 0 {
                f.push(("trace_id", format!("{:032x}", pick(2))));
                f.push(("span_id", format!("{:016x}", pick(2))));
            }
            for (k, values) in [("method", 2), ("status", 3), ("ok", 1)] {
                if pick(4) > 0 {
                    f.push((k, pick(values).to_string()));
                }
            }
            if pick(5) == 0 {
                // A role in the tail: the tail cannot be taken over as a run.
                f.push(("log", "tail".into()));
            }
            f.push(("service.name", ["cart", "pay"][pick(2) as usize].into()));
            f.push(("host", if pick(10) == 0 { "h2" } else { "h1" }.into()));
            f.push(("region", "eu".into()));
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            records.push(record(&pairs));
            metadata.push(if i % 3 == 0 {
                record(&[("source", "fb")])
            } else {
                vec![]
            });
        }
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
            for metadata in &metadata {
                if !shared {
                    fields = Fields::default();
                }
                push_record(
                    &mut block,
                    &origin,
                    1,
                    &mut r,
                    metadata,
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
