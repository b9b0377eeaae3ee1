//! Fluentd HTTP (`/fluentd/v1/logs`, `/fluentd/logs`) with OneUptime's normalisation rules,
//! checked in ClickHouse.

use std::io::Write;

use serde_json::{Value, json};
use tests::{PROJECT, PROJECT_2, TOKEN, TOKEN_2, TestEngine, request};

async fn post(
    engine: &TestEngine,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    request(reqwest::Method::POST, engine.http_url(path), headers, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fluentd_json_array_ndjson_text_and_gzip_become_rows() {
    let engine = TestEngine::start("fluentd").await;
    let json_type = ("content-type", "application/json");

    // Fluentd out_http with `json_array true`: an array of records.
    let records = json!([
        {"message": "user signed in", "level": "info", "user": "ada", "attempt": 2,
         "trace_id": "5B8EFFF798038103D269B633813FC60C", "span_id": "EEE19B7EC3C1B174"},
        {"log": "disk almost full", "severity": "WARN", "ok": false, "ratio": 0.93},
        "a bare string element",
    ]);
    let (status, answer) = post(
        &engine,
        "/fluentd/v1/logs",
        &[
            json_type,
            ("x-oneuptime-token", TOKEN),
            ("x-oneuptime-service-name", "billing"),
        ],
        records.to_string(),
    )
    .await;
    assert_eq!((status, answer), (200, json!({})));

    // The public path, wrapped in `json`, with the other project's token.
    let (status, _) = post(
        &engine,
        "/fluentd/logs",
        &[json_type, ("authorization", &format!("Bearer {TOKEN_2}"))],
        json!({"json": [{"msg": "wrapped one"}, {"msg": "wrapped two"}]}).to_string(),
    )
    .await;
    assert_eq!(status, 200);

    // NDJSON (out_http's default format), gzip-compressed.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"{\"message\":\"nd one\",\"level\":\"error\"}\n{\"message\":\"nd two\"}\n")
        .unwrap();
    let (status, _) = post(
        &engine,
        "/fluentd/v1/logs",
        &[
            ("content-type", "application/x-ndjson"),
            ("content-encoding", "gzip"),
            ("x-vigil-token", TOKEN),
        ],
        gz.finish().unwrap(),
    )
    .await;
    assert_eq!(status, 200);

    // Plain text: one record per line.
    let (status, _) = post(
        &engine,
        "/fluentd/v1/logs",
        &[("content-type", "text/plain"), ("x-vigil-token", TOKEN)],
        "text line one\ntext line two\n",
    )
    .await;
    assert_eq!(status, 200);

    let rows = engine
        .rows(
            "logs",
            "project_id, service_name, body, severity_number, severity_text, trace_id, span_id, \
             attributes_keys, attributes_values, attributes_types, scope_name, \
             time_unix_nano, observed_time_unix_nano, resource_attributes_keys",
            "ORDER BY body",
        )
        .await;
    let by_body = |b: &str| {
        rows.iter()
            .find(|r| r["body"] == b)
            .unwrap_or_else(|| panic!("row `{b}` in {rows:#?}"))
    };
    assert_eq!(rows.len(), 9, "{rows:#?}");

    let signed_in = by_body("user signed in");
    assert_eq!(signed_in["project_id"], PROJECT);
    assert_eq!(signed_in["service_name"], "billing");
    assert_eq!(signed_in["severity_number"], 9);
    assert_eq!(signed_in["severity_text"], "info");
    assert_eq!(signed_in["trace_id"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(signed_in["span_id"], "eee19b7ec3c1b174");
    assert_eq!(signed_in["attributes_keys"], json!(["user", "attempt"]));
    assert_eq!(signed_in["attributes_values"], json!(["ada", "2"]));
    // String 1, Int 3 (OTLP AnyValue types).
    assert_eq!(signed_in["attributes_types"], json!([1, 3]));
    assert_eq!(signed_in["scope_name"], "fluentd-http");
    // The time is the receive time, as OneUptime does.
    assert_eq!(
        signed_in["time_unix_nano"],
        signed_in["observed_time_unix_nano"]
    );
    assert!(signed_in["time_unix_nano"].as_u64().unwrap() > 1_700_000_000_000_000_000);
    assert_eq!(signed_in["resource_attributes_keys"], json!([]));

    let disk = by_body("disk almost full");
    assert_eq!(disk["severity_number"], 13);
    assert_eq!(disk["attributes_keys"], json!(["ok", "ratio"]));
    assert_eq!(disk["attributes_values"], json!(["false", "0.93"]));
    assert_eq!(by_body("a bare string element")["service_name"], "billing");

    let wrapped = by_body("wrapped one");
    assert_eq!(wrapped["project_id"], PROJECT_2);
    assert_eq!(wrapped["service_name"], "Fluentd");
    assert_eq!(by_body("wrapped two")["project_id"], PROJECT_2);
    assert_eq!(by_body("nd one")["severity_number"], 17);
    by_body("nd two");
    by_body("text line one");
    by_body("text line two");
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fluentd_bad_requests_are_refused_and_store_nothing() {
    let engine = TestEngine::start("fluentd_bad").await;
    let auth = ("x-oneuptime-token", TOKEN);
    let json_type = ("content-type", "application/json");
    let cases: [(&[(&str, &str)], &str, u16, &str); 6] = [
        (&[json_type], "[{\"message\":\"x\"}]", 401, "token"),
        (
            &[json_type, ("x-oneuptime-token", "wrong")],
            "[{\"message\":\"x\"}]",
            401,
            "token",
        ),
        (&[json_type, auth], "[]", 400, "empty batch"),
        (&[json_type, auth], "{\"json\": []}", 400, "empty batch"),
        (&[json_type, auth], "[{\"message\": ", 400, "invalid JSON"),
        (
            &[("content-type", "application/xml"), auth],
            "<a/>",
            415,
            "content type",
        ),
    ];
    for (headers, body, want, words) in cases {
        let (status, answer) = post(&engine, "/fluentd/v1/logs", headers, body).await;
        assert_eq!(status, want, "{body}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{body}: {message}");
    }
    assert_eq!(engine.count("logs").await, 0);
    engine.stop().await;
    // Over the body limit.
    let engine = TestEngine::start_with("fluentd_big", |c| {
        c.limits.max_body_bytes = 1024;
        c.limits.max_buffered_bytes = 1 << 20;
    })
    .await;
    let big = json!([{"message": "x".repeat(2000)}]).to_string();
    let (status, _) = post(&engine, "/fluentd/v1/logs", &[json_type, auth], big).await;
    assert_eq!(status, 413);
    assert_eq!(engine.count("logs").await, 0);
    engine.stop().await;
}
