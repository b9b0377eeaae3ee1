//! OTLP replies: `Export*ServiceResponse` (with `partial_success`) and `google.rpc.Status`
//! error bodies, in protobuf or JSON — whichever the request used.

use std::time::Duration;

use super::Signal;
use storage::native::put_varint;

/// The request's (and so the reply's) encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf` (and gRPC).
    Protobuf,
    /// `application/json`.
    Json,
}

fn put_len_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(out, u64::from(field << 3 | 2));
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    put_varint(out, u64::from(field << 3));
    put_varint(out, v);
}

fn rejected_json_name(signal: Signal) -> &'static str {
    match signal {
        Signal::Logs => "rejectedLogRecords",
        Signal::Traces => "rejectedSpans",
        Signal::Metrics => "rejectedDataPoints",
    }
}

/// An `Export*ServiceResponse`; `partial_success` is set only when something was rejected or
/// there is a warning, as the spec asks.
pub fn export_response(
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

const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// A `google.rpc.Status` with an optional `RetryInfo` detail.
pub fn status(
    code: i32,
    message: &str,
    retry_after: Option<Duration>,
    encoding: Encoding,
) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => {
            let mut out = Vec::new();
            if code != 0 {
                put_varint_field(&mut out, 1, code as u32 as u64);
            }
            if !message.is_empty() {
                put_len_field(&mut out, 2, message.as_bytes());
            }
            if let Some(delay) = retry_after {
                let mut duration = Vec::new();
                put_varint_field(&mut duration, 1, delay.as_secs());
                if delay.subsec_nanos() > 0 {
                    put_varint_field(&mut duration, 2, u64::from(delay.subsec_nanos()));
                }
                let mut retry_info = Vec::new();
                put_len_field(&mut retry_info, 1, &duration);
                let mut any = Vec::new();
                put_len_field(&mut any, 1, RETRY_INFO_TYPE.as_bytes());
                put_len_field(&mut any, 2, &retry_info);
                put_len_field(&mut out, 3, &any);
            }
            out
        }
        Encoding::Json => {
            let mut body = serde_json::json!({ "code": code, "message": message });
            if let Some(delay) = retry_after {
                body["details"] = serde_json::json!([{
                    "@type": RETRY_INFO_TYPE,
                    "retryDelay": format!("{}s", delay.as_secs_f64()),
                }]);
            }
            body.to_string().into_bytes()
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
