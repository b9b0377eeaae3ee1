//! Forward-protocol payloads with the same content as the OTLP logs payloads: each OTLP log
//! record becomes one Fluent record (body as `message`, severity text as `level`, hex ids, the
//! record and resource attributes as fields) in a PackedForward frame with a `chunk`, optionally
//! gzip-compressed (CompressedPackedForward).

use std::io::Write;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;

fn str_(out: &mut Vec<u8>, s: &[u8]) {
    match s.len() {
        n @ 0..=31 => out.push(0xa0 | n as u8),
        n @ 32..=0xff => out.extend_from_slice(&[0xd9, n as u8]),
        n @ 0x100..=0xffff => {
            out.push(0xda);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0xdb);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(s);
}

fn map_len(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x80 | n as u8);
    } else {
        out.push(0xde);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    }
}

fn value(out: &mut Vec<u8>, v: &AnyValue) {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => str_(out, s.as_bytes()),
        Some(any_value::Value::IntValue(i)) => {
            out.push(0xd3);
            out.extend_from_slice(&i.to_be_bytes());
        }
        Some(any_value::Value::DoubleValue(d)) => {
            out.push(0xcb);
            out.extend_from_slice(&d.to_bits().to_be_bytes());
        }
        Some(any_value::Value::BoolValue(b)) => out.push(if *b { 0xc3 } else { 0xc2 }),
        _ => out.push(0xc0),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The PackedForward frame (`tag` "bench", entries as `bin32`, options `chunk` and, when
/// `gzip`, `compressed: gzip`) for the OTLP logs request `otlp`; also its record count.
pub fn packed_forward(otlp: &[u8], gzip: bool, chunk: &str) -> anyhow::Result<(Vec<u8>, usize)> {
    let request = ExportLogsServiceRequest::decode(otlp)?;
    let mut entries = Vec::with_capacity(otlp.len() * 2);
    let mut count = 0;
    for rl in &request.resource_logs {
        let resource: &[KeyValue] = rl.resource.as_ref().map_or(&[], |r| &r.attributes);
        for sl in &rl.scope_logs {
            for r in &sl.log_records {
                // [EventTime, record]
                entries.push(0x92);
                entries.extend_from_slice(&[0xd7, 0x00]);
                entries
                    .extend_from_slice(&((r.time_unix_nano / 1_000_000_000) as u32).to_be_bytes());
                entries
                    .extend_from_slice(&((r.time_unix_nano % 1_000_000_000) as u32).to_be_bytes());
                let ids = if r.trace_id.is_empty() { 0 } else { 2 };
                map_len(&mut entries, 2 + ids + r.attributes.len() + resource.len());
                str_(&mut entries, b"message");
                match &r.body {
                    Some(b) => value(&mut entries, b),
                    None => entries.push(0xc0),
                }
                str_(&mut entries, b"level");
                str_(&mut entries, r.severity_text.as_bytes());
                if ids == 2 {
                    str_(&mut entries, b"trace_id");
                    str_(&mut entries, hex(&r.trace_id).as_bytes());
                    str_(&mut entries, b"span_id");
                    str_(&mut entries, hex(&r.span_id).as_bytes());
                }
                for kv in r.attributes.iter().chain(resource) {
                    str_(&mut entries, kv.key.as_bytes());
                    match &kv.value {
                        Some(v) => value(&mut entries, v),
                        None => entries.push(0xc0),
                    }
                }
                count += 1;
            }
        }
    }
    let entries = if gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&entries)?;
        e.finish()?
    } else {
        entries
    };
    let mut frame = Vec::with_capacity(entries.len() + 64);
    frame.push(0x93);
    str_(&mut frame, b"bench");
    frame.push(0xc6);
    frame.extend_from_slice(&u32::try_from(entries.len())?.to_be_bytes());
    frame.extend_from_slice(&entries);
    map_len(&mut frame, if gzip { 2 } else { 1 });
    str_(&mut frame, b"chunk");
    str_(&mut frame, chunk.as_bytes());
    if gzip {
        str_(&mut frame, b"compressed");
        str_(&mut frame, b"gzip");
    }
    Ok((frame, count))
}

/// The ack the server sends for `chunk`.
pub fn ack_for(chunk: &str) -> Vec<u8> {
    let mut ack = vec![0x81];
    str_(&mut ack, b"ack");
    str_(&mut ack, chunk.as_bytes());
    ack
}
