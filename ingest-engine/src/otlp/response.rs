//! OTLP replies: `Export*ServiceResponse` (with `partial_success`), in protobuf or JSON —
//! whichever the request used; error bodies are `google.rpc.Status` (`wire::rpc_status`).

use super::Signal;
use crate::wire::rpc_status::{Encoding, put_len_field, put_varint_field};

fn rejected_json_name(signal: Signal) -> &'static str {
    match signal {
        Signal::Logs => "rejectedLogRecords",
        Signal::Traces => "rejectedSpans",
        Signal::Metrics => "rejectedDataPoints",
    }
}

/// An `Export*ServiceResponse`; `partial_success` is set only when something was rejected or
/// there is a warning, as the spec asks.
pub(crate) fn export_response(
    signal: Signal,
    rejected: u64,
    message: Option<&str>,
    encoding: Encoding,
) -> Vec<u8> {
    let message = message.unwrap_or("");
    let partial = rejected > 0 || !message.is_empty();
    match encoding {
        Encoding::Protobuf => {
            if !partial {
                return Vec::new();
            }
            let mut inner = Vec::new();
            if rejected > 0 {
                put_varint_field(&mut inner, 1, rejected);
            }
            if !message.is_empty() {
                put_len_field(&mut inner, 2, message.as_bytes());
            }
            let mut out = Vec::new();
            put_len_field(&mut out, 1, &inner);
            out
        }
        Encoding::Json => {
            if !partial {
                return b"{}".to_vec();
            }
            serde_json::json!({
                "partialSuccess": {
                    rejected_json_name(signal): rejected.to_string(),
                    "errorMessage": message,
                }
            })
            .to_string()
            .into_bytes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_is_empty_and_partial_success_is_encoded() {
        assert!(export_response(Signal::Logs, 0, None, Encoding::Protobuf).is_empty());
        assert_eq!(
            export_response(Signal::Logs, 0, None, Encoding::Json),
            b"{}"
        );
        let pb = export_response(Signal::Traces, 2, Some("bad"), Encoding::Protobuf);
        assert_eq!(pb, [0x0a, 7, 0x08, 2, 0x12, 3, b'b', b'a', b'd']);
        let json: serde_json::Value = serde_json::from_slice(&export_response(
            Signal::Metrics,
            3,
            Some("x"),
            Encoding::Json,
        ))
        .unwrap();
        assert_eq!(json["partialSuccess"]["rejectedDataPoints"], "3");
    }
}
