//! `ExportLogsServiceRequest` → `logs` rows.

use super::anyvalue::{push_attr, put_any_value};
use super::envelope::{Envelope, push_envelope, walk};
use super::wire::Fields;
use super::{DecodeError, Decoded, seconds};
use storage::tables::LogsBlock;

pub(super) fn decode(
    request: &[u8],
    project: &[u8],
    now: u64,
    block: &mut LogsBlock,
    decoded: &mut Decoded,
) -> Result<(), DecodeError> {
    let mut env = Envelope::default();
    walk(request, &mut env, |env, record| {
        let mut time = 0u64;
        let mut observed = 0u64;
        let mut severity = 0i32;
        let mut severity_text: &[u8] = b"";
        let mut body: &[u8] = b"";
        let mut dropped = 0u32;
        let mut flags = 0u32;
        let mut trace_id: &[u8] = b"";
        let mut span_id: &[u8] = b"";
        let mut event_name: &[u8] = b"";
        // Attributes go straight into their columns in this one pass over the record; a row
        // rejected below takes them back.
        let mark = block.attributes.mark();
        let mut attrs = 0u64;
        let mut fields = Fields::new(record);
        while let Some((n, v)) = fields.next_field()? {
            match n {
                1 => time = v.fixed64("LogRecord.time_unix_nano")?,
                2 => severity = v.varint("LogRecord.severity_number")? as i32,
                3 => severity_text = v.bytes("LogRecord.severity_text")?,
                5 => body = v.bytes("LogRecord.body")?,
                6 => {
                    push_attr(
                        v.bytes("LogRecord.attributes")?,
                        &mut block.attributes,
                        &mut env.scratch,
                    )?;
                    attrs += 1;
                }
                7 => dropped = v.varint("LogRecord.dropped_attributes_count")? as u32,
                8 => flags = v.fixed32("LogRecord.flags")?,
                9 => trace_id = v.bytes("LogRecord.trace_id")?,
                10 => span_id = v.bytes("LogRecord.span_id")?,
                11 => observed = v.fixed64("LogRecord.observed_time_unix_nano")?,
                12 => event_name = v.bytes("LogRecord.event_name")?,
                _ => {}
            }
        }
        if !matches!(trace_id.len(), 0 | 16) {
            block.attributes.rollback(mark);
            decoded.reject(1, "log record trace_id must be 16 bytes");
            return Ok(());
        }
        if !matches!(span_id.len(), 0 | 8) {
            block.attributes.rollback(mark);
            decoded.reject(1, "log record span_id must be 8 bytes");
            return Ok(());
        }
        let row_time = [time, observed, now]
            .into_iter()
            .find(|t| *t != 0)
            .unwrap_or(0);
        push_envelope!(block, env, project);
        block.time.push(seconds(row_time));
        block.time_unix_nano.push(time);
        // Receivers set the observed time of records that come without one (OTLP spec).
        block
            .observed_time_unix_nano
            .push(if observed == 0 { now } else { observed });
        block.severity_number.push(severity);
        block.severity_text.push(severity_text);
        let body_type = put_any_value(body, block.body.raw(), &mut env.scratch)?;
        block.body_type.push(body_type as u8);
        block.trace_id.push_hex(trace_id);
        block.span_id.push_hex(span_id);
        block.flags.push(flags);
        block.event_name.push(event_name);
        block.attributes.close_row(attrs);
        block.dropped_attributes_count.push(dropped);
        block.rows += 1;
        Ok(())
    })
}
