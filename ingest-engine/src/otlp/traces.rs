//! `ExportTraceServiceRequest` → `spans` rows (events and links as parallel arrays).

use super::anyvalue::{json_kvs, push_attr};
use super::envelope::{Envelope, push_envelope, walk};
use super::wire::Fields;
use super::{DecodeError, Decoded, seconds};
use storage::native::{put_bytes, put_hex};
use storage::tables::SpansBlock;

pub(super) fn decode(
    request: &[u8],
    project: &[u8],
    block: &mut SpansBlock,
    decoded: &mut Decoded,
) -> Result<(), DecodeError> {
    let mut env = Envelope::default();
    walk(request, &mut env, |env, span| {
        let (mut trace_id, mut span_id, mut parent): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
        let (mut trace_state, mut name): (&[u8], &[u8]) = (b"", b"");
        let (mut kind, mut flags, mut start, mut end) = (0i32, 0u32, 0u64, 0u64);
        let (mut dropped_attrs, mut dropped_events, mut dropped_links) = (0u32, 0u32, 0u32);
        let (mut status_code, mut status_message): (i32, &[u8]) = (0, b"");
        // Attributes go straight into their columns in the one pass over the span; a span
        // rejected below takes them back.
        let mark = block.attributes.mark();
        let mut attrs = 0u64;
        let mut fields = Fields::new(span);
        while let Some((n, v)) = fields.next_field()? {
            match n {
                1 => trace_id = v.bytes("Span.trace_id")?,
                2 => span_id = v.bytes("Span.span_id")?,
                3 => trace_state = v.bytes("Span.trace_state")?,
                4 => parent = v.bytes("Span.parent_span_id")?,
                5 => name = v.bytes("Span.name")?,
                6 => kind = v.varint("Span.kind")? as i32,
                7 => start = v.fixed64("Span.start_time_unix_nano")?,
                8 => end = v.fixed64("Span.end_time_unix_nano")?,
                9 => {
                    let kv = v.bytes("Span.attributes")?;
                    push_attr(kv, &mut block.attributes, &mut env.scratch)?;
                    attrs += 1;
                }
                10 => dropped_attrs = v.varint("Span.dropped_attributes_count")? as u32,
                12 => dropped_events = v.varint("Span.dropped_events_count")? as u32,
                14 => dropped_links = v.varint("Span.dropped_links_count")? as u32,
                15 => {
                    let mut status = Fields::new(v.bytes("Span.status")?);
                    while let Some((n, v)) = status.next_field()? {
                        match n {
                            2 => status_message = v.bytes("Status.message")?,
                            3 => status_code = v.varint("Status.code")? as i32,
                            _ => {}
                        }
                    }
                }
                16 => flags = v.fixed32("Span.flags")?,
                _ => {}
            }
        }
        if trace_id.len() != 16 || trace_id.iter().all(|b| *b == 0) {
            block.attributes.rollback(mark);
            decoded.reject(1, "span trace_id must be 16 bytes and not all zero");
            return Ok(());
        }
        if span_id.len() != 8 || span_id.iter().all(|b| *b == 0) {
            block.attributes.rollback(mark);
            decoded.reject(1, "span span_id must be 8 bytes and not all zero");
            return Ok(());
        }
        if !matches!(parent.len(), 0 | 8) {
            block.attributes.rollback(mark);
            decoded.reject(1, "span parent_span_id must be empty or 8 bytes");
            return Ok(());
        }
        push_envelope!(block, env, project);
        block.time.push(seconds(start));
        block.trace_id.push_hex(trace_id);
        block.span_id.push_hex(span_id);
        block.parent_span_id.push_hex(parent);
        block.trace_state.push(trace_state);
        block.flags.push(flags);
        block.name.push(name);
        block.kind.push(kind);
        block.start_time_unix_nano.push(start);
        block.end_time_unix_nano.push(end);
        block.duration_ns.push(end.saturating_sub(start));
        block.status_code.push(status_code);
        block.status_message.push(status_message);
        block.attributes.close_row(attrs);
        block.dropped_attributes_count.push(dropped_attrs);
        block.dropped_events_count.push(dropped_events);
        block.dropped_links_count.push(dropped_links);

        let (mut events, mut links) = (0u64, 0u64);
        let mut fields = Fields::new(span);
        while let Some((n, v)) = fields.next_field()? {
            match n {
                11 => {
                    events += 1;
                    push_event(block, v.bytes("Span.events")?, &mut env.scratch)?;
                }
                13 => {
                    links += 1;
                    push_link(block, v.bytes("Span.links")?, &mut env.scratch)?;
                }
                _ => {}
            }
        }
        block.events_time_unix_nano.offsets.close_row(events);
        block.events_name.offsets.close_row(events);
        block.events_attributes.offsets.close_row(events);
        block
            .events_dropped_attributes_count
            .offsets
            .close_row(events);
        block.links_trace_id.offsets.close_row(links);
        block.links_span_id.offsets.close_row(links);
        block.links_trace_state.offsets.close_row(links);
        block.links_flags.offsets.close_row(links);
        block.links_attributes.offsets.close_row(links);
        block
            .links_dropped_attributes_count
            .offsets
            .close_row(links);
        block.rows += 1;
        Ok(())
    })
}

fn push_event(
    block: &mut SpansBlock,
    event: &[u8],
    scratch: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    let (mut time, mut name, mut dropped): (u64, &[u8], u32) = (0, b"", 0);
    let mut fields = Fields::new(event);
    while let Some((n, v)) = fields.next_field()? {
        match n {
            1 => time = v.fixed64("Event.time_unix_nano")?,
            2 => name = v.bytes("Event.name")?,
            4 => dropped = v.varint("Event.dropped_attributes_count")? as u32,
            _ => {}
        }
    }
    block
        .events_time_unix_nano
        .values
        .extend_from_slice(&time.to_le_bytes());
    put_bytes(&mut block.events_name.values, name);
    scratch.clear();
    json_kvs(event, 3, scratch, 0)?;
    put_bytes(&mut block.events_attributes.values, scratch);
    block
        .events_dropped_attributes_count
        .values
        .extend_from_slice(&dropped.to_le_bytes());
    Ok(())
}

fn push_link(
    block: &mut SpansBlock,
    link: &[u8],
    scratch: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    let (mut trace_id, mut span_id, mut state): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
    let (mut dropped, mut flags) = (0u32, 0u32);
    let mut fields = Fields::new(link);
    while let Some((n, v)) = fields.next_field()? {
        match n {
            1 => trace_id = v.bytes("Link.trace_id")?,
            2 => span_id = v.bytes("Link.span_id")?,
            3 => state = v.bytes("Link.trace_state")?,
            5 => dropped = v.varint("Link.dropped_attributes_count")? as u32,
            6 => flags = v.fixed32("Link.flags")?,
            _ => {}
        }
    }
    put_hex(&mut block.links_trace_id.values, trace_id);
    put_hex(&mut block.links_span_id.values, span_id);
    put_bytes(&mut block.links_trace_state.values, state);
    block
        .links_flags
        .values
        .extend_from_slice(&flags.to_le_bytes());
    scratch.clear();
    json_kvs(link, 4, scratch, 0)?;
    put_bytes(&mut block.links_attributes.values, scratch);
    block
        .links_dropped_attributes_count
        .values
        .extend_from_slice(&dropped.to_le_bytes());
    Ok(())
}
