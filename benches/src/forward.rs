//! Forward-protocol payloads with the same content as the OTLP logs payloads: each OTLP log
//! record becomes one Fluent record (body as `message`, severity text as `level`, hex ids, the
//! record and resource attributes as fields) in a PackedForward frame with a `chunk`, optionally
//! gzip-compressed (CompressedPackedForward).

use std::io::Write;

use ingest_engine::forward::msgpack::{write_map_len, write_str};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;

fn value(out: &mut Vec<u8>, v: &AnyValue) {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => write_str(out, s.as_bytes()),
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
                write_map_len(
                    &mut entries,
                    u32::try_from(2 + ids + r.attributes.len() + resource.len())?,
                );
                write_str(&mut entries, b"message");
                match &r.body {
                    Some(b) => value(&mut entries, b),
                    None => entries.push(0xc0),
                }
                write_str(&mut entries, b"level");
                write_str(&mut entries, r.severity_text.as_bytes());
                if ids == 2 {
                    write_str(&mut entries, b"trace_id");
                    write_str(&mut entries, hex(&r.trace_id).as_bytes());
                    write_str(&mut entries, b"span_id");
                    write_str(&mut entries, hex(&r.span_id).as_bytes());
                }
                for kv in r.attributes.iter().chain(resource) {
                    write_str(&mut entries, kv.key.as_bytes());
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
    write_str(&mut frame, b"bench");
    frame.push(0xc6);
    frame.extend_from_slice(&u32::try_from(entries.len())?.to_be_bytes());
    frame.extend_from_slice(&entries);
    write_map_len(&mut frame, if gzip { 2 } else { 1 });
    write_str(&mut frame, b"chunk");
    write_str(&mut frame, chunk.as_bytes());
    if gzip {
        write_str(&mut frame, b"compressed");
        write_str(&mut frame, b"gzip");
    }
    Ok((frame, count))
}

/// The ack the server sends for `chunk`.
pub fn ack_for(chunk: &str) -> Vec<u8> {
    let mut ack = vec![0x81];
    write_str(&mut ack, b"ack");
    write_str(&mut ack, chunk.as_bytes());
    ack
}
