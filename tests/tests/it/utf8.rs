//! Strings that are not UTF-8 are kept, with U+FFFD in place of each invalid sequence, the same
//! on every input (OTLP requires UTF-8; a msgpack `str` may hold anything).

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use tests::{PROJECT, TOKEN, TestEngine};
use tokio::io::AsyncWriteExt;

fn text(s: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(s.into())),
    })
}

/// `bytes` with every `from` (same length) replaced by `to`.
fn patch(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut i = 0;
    while let Some(at) = out[i..].windows(from.len()).position(|w| w == from) {
        out[i + at..i + at + from.len()].copy_from_slice(to);
        i += at + from.len();
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_utf8_is_replaced_the_same_on_every_input() {
    let engine = TestEngine::start_with("utf8", |c| c.forward.project = PROJECT.into()).await;
    // OTLP/HTTP protobuf: a body and an attribute value holding "\xff\xfe" (written as a
    // placeholder of the same length, then patched, since prost only writes valid UTF-8).
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    body: text("otlp @@ body"),
                    attributes: vec![KeyValue {
                        key: "k".into(),
                        value: text("v@@"),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    let request = patch(&request, b"@@", b"\xff\xfe");
    let status = reqwest::Client::new()
        .post(engine.http_url("/v1/logs"))
        .header("content-type", "application/x-protobuf")
        .header("x-vigil-token", TOKEN)
        .body(request)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    // Forward, Message mode: ["t", 1700000000, {"message": "forward \xff\xfe body", "k": "v\xff\xfe"}]
    let mut frame = b"\x93\xa1t\xce\x65\x53\xf1\x00\x82\xa7message\xafforward ".to_vec();
    frame.extend_from_slice(b"\xff\xfe body\xa1k\xa3v\xff\xfe");
    let mut s = tokio::net::TcpStream::connect(engine.forward.unwrap())
        .await
        .unwrap();
    s.write_all(&frame).await.unwrap();
    drop(s);
    tests::wait_until(std::time::Duration::from_secs(10), "both rows", || async {
        (engine.count("logs").await == 2).then_some(())
    })
    .await;
    let rows = engine
        .rows(
            "logs",
            "body, attributes_keys, attributes_values",
            "ORDER BY body",
        )
        .await;
    assert_eq!(rows[0]["body"], "forward \u{fffd}\u{fffd} body");
    assert_eq!(rows[1]["body"], "otlp \u{fffd}\u{fffd} body");
    for row in &rows {
        let keys = row["attributes_keys"].as_array().unwrap();
        let at = keys.iter().position(|k| k == "k").unwrap();
        assert_eq!(row["attributes_values"][at], "v\u{fffd}\u{fffd}");
    }
    engine.stop().await;
}
