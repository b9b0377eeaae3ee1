//! `google.rpc.Status` (with `RetryInfo` when the client should retry), in protobuf or JSON:
//! the error body of OTLP/HTTP and the `grpc-status-details-bin` of gRPC errors; and the
//! protobuf field writers the replies share.

use std::time::Duration;

use storage::native::put_varint;

/// The request's (and so the reply's) encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// `application/x-protobuf` (and gRPC).
    Protobuf,
    /// `application/json`.
    Json,
}

pub(crate) fn put_len_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(out, u64::from(field << 3 | 2));
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

pub(crate) fn put_varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    put_varint(out, u64::from(field << 3));
    put_varint(out, v);
}

const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// A `google.rpc.Status` with an optional `RetryInfo` detail.
pub(crate) fn status(
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
