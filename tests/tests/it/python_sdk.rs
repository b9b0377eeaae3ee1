//! The official OpenTelemetry Python SDK exporters (gRPC and HTTP, both gzip) → ClickHouse.
//! The rows are checked right after the SDK's shutdown returns: Vigil acknowledges only stored
//! data, so there is nothing to wait for.

use serde_json::{Value, json};
use tests::{PROJECT, TOKEN, TestEngine, python, repo_root, unique_name};

use crate::rows::{assert_attr, attrs, find, json_cell};

async fn run_sdk(protocol: &str, endpoint: &str, run_id: &str) -> Value {
    let script = repo_root().join("tests/python/sdk_export.py");
    let out = tokio::process::Command::new(python())
        .arg(script)
        .args([protocol, endpoint, TOKEN, run_id])
        .output()
        .await
        .expect("python runs");
    assert!(
        out.status.success(),
        "sdk_export.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("Failed to export"),
        "the SDK reported export failures: {stderr}"
    );
    serde_json::from_slice(&out.stdout).expect("sdk_export.py prints JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_over_grpc_with_gzip() {
    let engine = TestEngine::start("pygrpc").await;
    let endpoint = engine.grpc.to_string();
    check(&engine, "grpc", &endpoint).await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_over_http_with_gzip() {
    let engine = TestEngine::start("pyhttp").await;
    let endpoint = format!("http://{}", engine.http);
    check(&engine, "http", &endpoint).await;
    engine.stop().await;
}

async fn check(engine: &TestEngine, protocol: &str, endpoint: &str) {
    let run_id = unique_name("run");
    let sent = run_sdk(protocol, endpoint, &run_id).await;
    let t0 = sent["t0"].as_u64().unwrap();

    let logs = engine.rows("logs", "*", "").await;
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = &logs[0];
    assert_eq!(log["project_id"], PROJECT);
    assert_eq!(log["service_name"], "sdk-svc");
    assert_eq!(log["time_unix_nano"].as_u64(), Some(t0 + 7));
    assert_eq!(log["observed_time_unix_nano"].as_u64(), Some(t0 + 8));
    assert_eq!(log["time"], "2023-11-14 22:13:20");
    assert_eq!(log["severity_number"], 13);
    assert_eq!(log["severity_text"], "WARN");
    assert_eq!(log["body"], "héllo wörld ✓ 日本");
    assert_eq!(log["body_type"], 1);
    assert_eq!(log["trace_id"], sent["trace_id"]);
    assert_eq!(log["span_id"], sent["parent_span_id"]);
    assert_eq!(log["flags"], 1);
    let a = attrs(log, "attributes");
    assert_attr(&a, "a.str", "v", 1);
    assert_attr(&a, "a.int", "-42", 3);
    assert_attr(&a, "a.double", "2.5", 4);
    assert_attr(&a, "a.bool", "false", 2);
    assert_attr(
        &a,
        "a.list",
        r#"[{"stringValue":"x"},{"stringValue":"y"}]"#,
        6,
    );
    let r = attrs(log, "resource_attributes");
    assert_attr(&r, "run.id", &run_id, 1);
    assert_attr(&r, "res.int", "7", 3);
    assert_attr(&r, "res.double", "1.25", 4);
    assert_attr(&r, "res.bool", "true", 2);
    assert_attr(&r, "service.name", "sdk-svc", 1);
    assert_eq!(log["scope_name"], "sdk.logger");
    assert_eq!(log["scope_version"], "0.9");
    assert_attr(&attrs(log, "scope_attributes"), "scope.attr", "l", 1);

    let spans = engine.rows("spans", "*", "").await;
    assert_eq!(spans.len(), 3, "{spans:?}");
    let parent = find(&spans, "name", "GET /checkout");
    assert_eq!(parent["project_id"], PROJECT);
    assert_eq!(parent["trace_id"], sent["trace_id"]);
    assert_eq!(parent["span_id"], sent["parent_span_id"]);
    assert_eq!(parent["parent_span_id"], "");
    assert_eq!(parent["kind"], 2, "SERVER");
    assert_eq!(parent["start_time_unix_nano"].as_u64(), Some(t0));
    assert_eq!(parent["end_time_unix_nano"].as_u64(), Some(t0 + 90_000));
    assert_eq!(parent["duration_ns"], 90_000);
    assert_eq!(parent["status_code"], 2, "ERROR");
    assert_eq!(parent["status_message"], "boom");
    assert_attr(&attrs(parent, "attributes"), "a.int", "-42", 3);
    assert_eq!(parent["events_name"], json!(["cache.miss"]));
    assert_eq!(parent["events_time_unix_nano"][0].as_u64(), Some(t0 + 5));
    assert_eq!(
        json_cell(&parent["events_attributes"][0]),
        json!([
            {"key": "key", "value": {"stringValue": "cart:1"}},
            {"key": "n", "value": {"intValue": "3"}}
        ])
    );
    assert_eq!(parent["scope_name"], "sdk.tracer");
    assert_eq!(parent["scope_version"], "1.2.3");
    assert_attr(&attrs(parent, "scope_attributes"), "scope.attr", "s", 1);
    let child = find(&spans, "name", "SELECT cart");
    assert_eq!(child["span_id"], sent["child_span_id"]);
    assert_eq!(child["parent_span_id"], sent["parent_span_id"]);
    assert_eq!(child["kind"], 3, "CLIENT");
    assert_eq!(child["links_trace_id"], json!([sent["other_trace_id"]]));
    assert_eq!(child["links_span_id"], json!([sent["other_span_id"]]));
    assert_eq!(
        json_cell(&child["links_attributes"][0]),
        json!([{"key": "link.attr", "value": {"intValue": "9"}}])
    );

    let metrics = engine.rows("metrics", "*", "").await;
    let orders = find(&metrics, "name", "orders");
    assert_eq!(orders["project_id"], PROJECT);
    assert_eq!(orders["metric_type"], "sum");
    assert_eq!(orders["unit"], "{order}");
    assert_eq!(orders["description"], "orders placed");
    assert_eq!(orders["is_monotonic"], 1);
    assert_eq!(orders["aggregation_temporality"], 2, "cumulative");
    assert_eq!(
        (orders["value_int"].as_i64(), orders["value_type"].as_u64()),
        (Some(5), Some(2))
    );
    assert_attr(&attrs(orders, "attributes"), "route", "/a", 1);
    let depth = find(&metrics, "name", "queue.depth");
    assert_eq!(
        (
            depth["metric_type"].as_str(),
            depth["is_monotonic"].as_u64()
        ),
        (Some("sum"), Some(0))
    );
    assert_eq!(depth["value_int"], -3);
    let temperature = find(&metrics, "name", "temperature");
    assert_eq!(temperature["metric_type"], "gauge");
    assert_eq!(
        (
            temperature["value"].as_f64(),
            temperature["value_type"].as_u64()
        ),
        (Some(21.5), Some(1))
    );
    let latency = find(&metrics, "name", "latency");
    assert_eq!(latency["metric_type"], "histogram");
    assert_eq!(latency["count"], 3);
    assert_eq!(latency["sum"], 38.0);
    assert_eq!(
        (latency["min"].as_f64(), latency["max"].as_f64()),
        (Some(1.0), Some(30.0))
    );
    let bounds: Vec<f64> = serde_json::from_value(latency["explicit_bounds"].clone()).unwrap();
    assert_eq!(bounds[..5], [0.0, 5.0, 10.0, 25.0, 50.0]);
    let buckets: Vec<u64> = serde_json::from_value(latency["bucket_counts"].clone()).unwrap();
    assert_eq!(buckets.len(), bounds.len() + 1);
    assert_eq!(buckets[..5], [0, 1, 1, 0, 1]);
    assert_eq!(buckets.iter().sum::<u64>(), 3);
}
