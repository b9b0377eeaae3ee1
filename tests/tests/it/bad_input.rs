//! Bad input gets its documented status and stores nothing; the engine keeps serving.

use std::io::Write;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use tests::{TOKEN, TestEngine};

/// A valid logs request with `n` records.
pub(crate) fn logs_request(n: usize) -> Vec<u8> {
    let records = (0..n)
        .map(|i| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(format!("record {i}"))),
            }),
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

async fn post(
    engine: &TestEngine,
    content_type: &str,
    token: Option<&str>,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(engine.http_url("/v1/logs"))
        .header("content-type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.header("x-oneuptime-token", token);
    }
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    request.send().await.unwrap()
}

/// Decodes a `google.rpc.Status` error body: `(code, message)`.
fn rpc_status(body: &[u8]) -> (i32, String) {
    #[derive(prost::Message)]
    struct Status {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    let s = Status::decode(body).expect("a google.rpc.Status body");
    (s.code, s.message)
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_http_requests_are_refused_and_store_nothing() {
    let limit = 256 << 10;
    let engine = TestEngine::start_with("bad", |c| c.limits.max_body_bytes = limit).await;
    let pb = "application/x-protobuf";
    let valid = logs_request(3);

    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let truncated = valid[..valid.len() - 5].to_vec();
    let bomb = gzip(&vec![0u8; 8 << 20]);
    let deflate_bomb = {
        let mut z = Vec::new();
        let mut enc = flate2::write::ZlibEncoder::new(&mut z, flate2::Compression::best());
        enc.write_all(&vec![0u8; 4 << 20]).unwrap();
        enc.finish().unwrap();
        z
    };
    let cases: Vec<(&str, &str, Option<&str>, Option<&str>, Vec<u8>, u16)> = vec![
        ("garbage protobuf", pb, Some(TOKEN), None, garbage, 400),
        ("truncated protobuf", pb, Some(TOKEN), None, truncated, 400),
        (
            "invalid JSON",
            "application/json",
            Some(TOKEN),
            None,
            b"{\"resourceLogs\": [".to_vec(),
            400,
        ),
        (
            "JSON of the wrong shape",
            "application/json",
            Some(TOKEN),
            None,
            b"[1,2]".to_vec(),
            400,
        ),
        (
            "intValue beyond int64",
            "application/json",
            Some(TOKEN),
            None,
            br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"},"attributes":[{"key":"n","value":{"intValue":1e100}}]}]}]}]}"#.to_vec(),
            400,
        ),
        (
            "fractional intValue",
            "application/json",
            Some(TOKEN),
            None,
            br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"},"attributes":[{"key":"n","value":{"intValue":1.5}}]}]}]}]}"#.to_vec(),
            400,
        ),
        (
            "wrong content type",
            "text/plain",
            Some(TOKEN),
            None,
            valid.clone(),
            415,
        ),
        ("missing token", pb, None, None, valid.clone(), 401),
        ("unknown token", pb, Some("nope"), None, valid.clone(), 401),
        (
            "oversize body",
            pb,
            Some(TOKEN),
            None,
            vec![0x0a; limit + 1],
            413,
        ),
        ("gzip bomb", pb, Some(TOKEN), Some("gzip"), bomb, 413),
        (
            "deflate bomb",
            pb,
            Some(TOKEN),
            Some("deflate"),
            deflate_bomb,
            413,
        ),
        (
            "corrupt gzip",
            pb,
            Some(TOKEN),
            Some("gzip"),
            b"\x1f\x8bnot really".to_vec(),
            400,
        ),
        (
            "unknown encoding",
            pb,
            Some(TOKEN),
            Some("br"),
            valid.clone(),
            415,
        ),
    ];
    for (what, content_type, token, encoding, body, want) in cases {
        let response = post(&engine, content_type, token, encoding, body).await;
        assert_eq!(response.status().as_u16(), want, "{what}");
        if content_type == pb && want == 400 {
            let (code, message) = rpc_status(&response.bytes().await.unwrap());
            assert_eq!(code, 3, "{what}: INVALID_ARGUMENT");
            assert!(
                message.contains("protobuf") || message.contains("decompress"),
                "{what}: {message}"
            );
        }
    }
    assert_eq!(
        engine.count("logs").await,
        0,
        "nothing from a refused request is stored"
    );

    // The engine keeps serving, with every encoding.
    let ok = post(&engine, pb, Some(TOKEN), None, valid.clone()).await;
    assert_eq!(ok.status(), 200);
    assert!(
        ok.bytes().await.unwrap().is_empty(),
        "full success has no partial_success"
    );
    let ok = post(&engine, pb, Some(TOKEN), Some("gzip"), gzip(&valid)).await;
    assert_eq!(ok.status(), 200);
    let zstd = zstd_encode(&valid);
    assert_eq!(
        post(&engine, pb, Some(TOKEN), Some("zstd"), zstd)
            .await
            .status(),
        200
    );
    assert_eq!(engine.count("logs").await, 9);

    // What the engine says about itself matches what happened.
    let get = |path: &str| reqwest::get(engine.http_url(path));
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    for line in [
        r#"vigil_ingest_records_accepted_total{signal="logs"} 9"#,
        r#"vigil_ingest_rows_flushed_total{table="logs"} 9"#,
        r#"vigil_ingest_requests_total{signal="logs",protocol="http",status="401"} 2"#,
        r#"vigil_ingest_requests_total{signal="logs",protocol="http",status="413"} 3"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing `{line}` in /metrics:\n{metrics}"
        );
    }
    engine.stop().await;
}

fn zstd_encode(data: &[u8]) -> Vec<u8> {
    // A single raw zstd frame with one "raw block": valid zstd without a zstd dependency here.
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd];
    out.push(0xa0); // frame header: single segment, 4-byte content size
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    let header = ((data.len() as u32) << 3) | 1; // last block, raw
    out.extend_from_slice(&header.to_le_bytes()[..3]);
    out.extend_from_slice(data);
    out
}

/// A unary gRPC call by hand (h2c): returns `(grpc-status, grpc-message)` of a trailers-only
/// reply, or `None` for a reply with a body (success).
pub(crate) async fn grpc_call(
    engine: &TestEngine,
    token: &str,
    message: &[u8],
    compressed: bool,
) -> Option<(String, String)> {
    let mut framed = vec![u8::from(compressed)];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(message);
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let mut request = client
        .post(format!(
            "http://{}{}",
            engine.grpc, "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {token}"))
        .body(framed);
    if compressed {
        request = request.header("grpc-encoding", "gzip");
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let status = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    let message = response
        .headers()
        .get("grpc-message")
        .map(|v| v.to_str().unwrap().to_owned());
    status.map(|s| (s, message.unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_grpc_requests_get_their_codes() {
    let limit = 256 << 10;
    let engine = TestEngine::start_with("badgrpc", |c| c.limits.max_body_bytes = limit).await;
    let valid = logs_request(2);
    let (code, _) = grpc_call(&engine, TOKEN, b"\xff\xff\xff", false)
        .await
        .expect("an error");
    assert_eq!(code, "3", "garbage → INVALID_ARGUMENT");
    let (code, _) = grpc_call(&engine, "wrong", &valid, false)
        .await
        .expect("an error");
    assert_eq!(code, "16", "unknown token → UNAUTHENTICATED");
    let (code, _) = grpc_call(&engine, TOKEN, &vec![0x0a; limit + 1], false)
        .await
        .expect("an error");
    assert_eq!(code, "8", "oversize → RESOURCE_EXHAUSTED");
    let (code, message) = grpc_call(&engine, TOKEN, &gzip(&vec![0u8; 4 << 20]), true)
        .await
        .expect("an error");
    assert_eq!(
        code, "8",
        "decompression bomb → RESOURCE_EXHAUSTED ({message})"
    );
    assert_eq!(engine.count("logs").await, 0);
    assert!(
        grpc_call(&engine, TOKEN, &gzip(&valid), true)
            .await
            .is_none(),
        "valid call succeeds"
    );
    assert_eq!(engine.count("logs").await, 2);
    engine.stop().await;
}
