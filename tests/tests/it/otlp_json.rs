//! OTLP/JSON over HTTP: hex ids, 64-bit integers as strings or numbers, enums as names or
//! integers, snake_case names, unknown fields, and every metric point type.

use serde_json::{Value, json};
use tests::{PROJECT_2, TOKEN_2, TestEngine};

use crate::rows::{assert_attr, attrs, find, json_cell};

async fn post_json(engine: &TestEngine, path: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(engine.http_url(path))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TOKEN_2}"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/json");
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_and_traces_keep_every_field() {
    let engine = TestEngine::start("json").await;
    let logs = json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
        "scope_logs": [{
            "scope": {"name": "j", "version": "1"},
            "log_records": [
                {"time_unix_nano": "1700000000000000001", "severityNumber": "SEVERITY_NUMBER_ERROR2",
                 "body": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": true}}]}},
                 "traceId": "0AF7651916CD43DD8448EB211C80319C", "spanId": "B7AD6B7169203331",
                 "attributes": [{"key": "big", "value": {"intValue": "9223372036854775807"}},
                                {"key": "num", "value": {"intValue": 12}},
                                {"key": "nan", "value": {"doubleValue": "NaN"}},
                                {"key": "raw", "value": {"bytesValue": "AAEC"}}],
                 "someFutureField": {"ignored": true}},
                {"timeUnixNano": 1700000000000000002u64, "severityNumber": 9, "body": {"stringValue": "plain"}}
            ]
        }]
    }]});
    let sent_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let (status, reply) = post_json(&engine, "/otlp/v1/logs", &logs).await;
    assert_eq!((status, reply), (200, json!({})));
    let rows = engine.rows("logs", "*", "ORDER BY time_unix_nano").await;
    // Records without an observed time get their receive time.
    for row in &rows {
        let observed = row["observed_time_unix_nano"].as_u64().unwrap();
        assert!(
            (sent_at..sent_at + 60_000_000_000).contains(&observed),
            "{observed} vs {sent_at}"
        );
    }
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    assert_eq!(first["project_id"], PROJECT_2);
    assert_eq!(first["service_name"], "json-svc");
    assert_eq!(
        first["time_unix_nano"].as_u64(),
        Some(1_700_000_000_000_000_001)
    );
    assert_eq!(first["severity_number"], 18);
    assert_eq!(first["body_type"], 7);
    assert_eq!(
        json_cell(&first["body"]),
        json!([{"key": "k", "value": {"boolValue": true}}])
    );
    assert_eq!(first["trace_id"], "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(first["span_id"], "b7ad6b7169203331");
    let a = attrs(first, "attributes");
    assert_attr(&a, "big", "9223372036854775807", 3);
    assert_attr(&a, "num", "12", 3);
    assert_attr(&a, "nan", "NaN", 4);
    assert_attr(&a, "raw", "AAEC", 5);
    assert_eq!(rows[1]["body"], "plain");
    assert_eq!(rows[1]["severity_number"], 9);
    assert_eq!(rows[1]["trace_id"], "");

    // The invalid span comes first, with attributes, which must not leak into the next row.
    let traces = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "00000000000000000000000000000000", "spanId": "eee19b7ec3c1b175", "name": "bad",
         "attributes": [{"key": "leak", "value": {"stringValue": "x"}}]},
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
         "parentSpanId": "eee19b7ec3c1b173", "name": "op", "kind": "SPAN_KIND_PRODUCER",
         "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000000000500",
         "status": {"code": "STATUS_CODE_OK"}, "traceState": "a=b", "flags": 257,
         "events": [{"timeUnixNano": "1700000000000000010", "name": "e1"},
                    {"timeUnixNano": "1700000000000000020", "name": "e2",
                     "attributes": [{"key": "d", "value": {"doubleValue": 0.1}}]}],
         "droppedEventsCount": 4,
         "attributes": [{"key": "ok", "value": {"intValue": "1"}}]}
    ]}]}]});
    let (status, reply) = post_json(&engine, "/v1/traces", &traces).await;
    assert_eq!(status, 200);
    assert_eq!(reply["partialSuccess"]["rejectedSpans"], "1", "{reply}");
    assert!(
        reply["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("trace_id")
    );
    let spans = engine.rows("spans", "*", "").await;
    assert_eq!(spans.len(), 1, "the invalid span is not stored");
    let span = &spans[0];
    assert_eq!(span["service_name"], "unknown_service");
    assert_eq!(span["kind"], 4);
    assert_eq!(span["status_code"], 1);
    assert_eq!(span["trace_state"], "a=b");
    assert_eq!(span["flags"], 257);
    assert_eq!(span["parent_span_id"], "eee19b7ec3c1b173");
    assert_eq!(span["duration_ns"], 500);
    assert_eq!(span["attributes_keys"], json!(["ok"]));
    assert_eq!(span["attributes_types"], json!([3]));
    assert_eq!(span["events_name"], json!(["e1", "e2"]));
    assert_eq!(span["dropped_events_count"], 4);
    assert_eq!(
        json_cell(&span["events_attributes"][1]),
        json!([{"key": "d", "value": {"doubleValue": 0.1}}])
    );
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_metrics_of_every_type() {
    let engine = TestEngine::start("jsonmetrics").await;
    let t = "1700000000000000000";
    let metrics = json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "m"}}]},
        "scopeMetrics": [{"scope": {"name": "meter"}, "metrics": [
            {"name": "g", "unit": "1", "gauge": {"dataPoints": [
                {"timeUnixNano": t, "asDouble": 0.25,
                 "attributes": [{"key": "cpu", "value": {"intValue": "3"}}],
                 "exemplars": [{"timeUnixNano": t, "asInt": "7", "traceId": "5B8EFFF798038103D269B633813FC60C",
                                "spanId": "EEE19B7EC3C1B174",
                                "filteredAttributes": [{"key": "u", "value": {"stringValue": "x"}}]}]}]}},
            {"name": "s", "sum": {"aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA", "isMonotonic": true,
                "dataPoints": [{"startTimeUnixNano": "1699999999000000000", "timeUnixNano": t, "asInt": "-9007199254740993"}]}},
            {"name": "h", "histogram": {"aggregationTemporality": 2, "dataPoints": [
                {"timeUnixNano": t, "count": "6", "sum": 12.5, "min": 0.5, "max": 9,
                 "bucketCounts": ["1", 2, "3"], "explicitBounds": [1, 5]}]}},
            {"name": "eh", "exponentialHistogram": {"aggregationTemporality": 1, "dataPoints": [
                {"timeUnixNano": t, "count": "10", "sum": 20, "scale": -2, "zeroCount": "1", "zeroThreshold": 0.001,
                 "positive": {"offset": -3, "bucketCounts": ["4", "5"]},
                 "negative": {"offset": 2, "bucketCounts": [0]}}]}},
            {"name": "sm", "summary": {"dataPoints": [
                {"timeUnixNano": t, "count": "4", "sum": 10,
                 "quantileValues": [{"quantile": 0.5, "value": 2}, {"quantile": 0.99, "value": 4}]}]}}
        ]}]
    }]});
    let (status, reply) = post_json(&engine, "/v1/metrics", &metrics).await;
    assert_eq!((status, reply), (200, json!({})));
    let rows = engine.rows("metrics", "*", "").await;
    assert_eq!(rows.len(), 5);
    let g = find(&rows, "name", "g");
    assert_eq!(
        (
            g["metric_type"].as_str(),
            g["value"].as_f64(),
            g["value_type"].as_u64()
        ),
        (Some("gauge"), Some(0.25), Some(1))
    );
    assert_attr(&attrs(g, "attributes"), "cpu", "3", 3);
    assert_eq!(g["exemplars_value_int"], json!([7]));
    assert_eq!(g["exemplars_value_type"], json!([2]));
    assert_eq!(
        g["exemplars_trace_id"],
        json!(["5b8efff798038103d269b633813fc60c"])
    );
    assert_eq!(g["exemplars_span_id"], json!(["eee19b7ec3c1b174"]));
    assert_eq!(
        json_cell(&g["exemplars_filtered_attributes"][0]),
        json!([{"key": "u", "value": {"stringValue": "x"}}])
    );
    let s = find(&rows, "name", "s");
    assert_eq!(s["value_int"].as_i64(), Some(-9_007_199_254_740_993));
    assert_eq!(
        (
            s["aggregation_temporality"].as_u64(),
            s["is_monotonic"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        s["start_time_unix_nano"].as_u64(),
        Some(1_699_999_999_000_000_000)
    );
    assert_eq!(s["sum"], Value::Null);
    let h = find(&rows, "name", "h");
    assert_eq!(
        (h["count"].as_u64(), h["sum"].as_f64()),
        (Some(6), Some(12.5))
    );
    assert_eq!(
        (h["min"].as_f64(), h["max"].as_f64()),
        (Some(0.5), Some(9.0))
    );
    assert_eq!(h["bucket_counts"], json!([1, 2, 3]));
    let bounds: Vec<f64> = serde_json::from_value(h["explicit_bounds"].clone()).unwrap();
    assert_eq!(bounds, [1.0, 5.0]);
    let eh = find(&rows, "name", "eh");
    assert_eq!(eh["metric_type"], "exponential_histogram");
    assert_eq!(
        (eh["scale"].as_i64(), eh["zero_count"].as_u64()),
        (Some(-2), Some(1))
    );
    assert_eq!(eh["zero_threshold"], 0.001);
    assert_eq!(
        (
            eh["positive_offset"].as_i64(),
            eh["negative_offset"].as_i64()
        ),
        (Some(-3), Some(2))
    );
    assert_eq!(eh["positive_bucket_counts"], json!([4, 5]));
    assert_eq!(eh["negative_bucket_counts"], json!([0]));
    assert_eq!(eh["min"], Value::Null);
    let sm = find(&rows, "name", "sm");
    assert_eq!(
        (sm["count"].as_u64(), sm["sum"].as_f64()),
        (Some(4), Some(10.0))
    );
    assert_eq!(sm["quantiles"], json!([0.5, 0.99]));
    let values: Vec<f64> = serde_json::from_value(sm["quantile_values"].clone()).unwrap();
    assert_eq!(values, [2.0, 4.0]);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_values_read_the_same_from_otlp_and_fluentd() {
    let engine = TestEngine::start("nested").await;
    // {"a": [1, "x", true]} as an OTLP kvlist attribute, and as a Fluentd record field.
    let otlp = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [{
        "body": {"stringValue": "from otlp"},
        "attributes": [{"key": "nested", "value": {"kvlistValue": {"values": [
            {"key": "a", "value": {"arrayValue": {"values": [
                {"intValue": "1"}, {"stringValue": "x"}, {"boolValue": true}]}}}]}}}]
    }]}]}]});
    let (status, _) = post_json(&engine, "/v1/logs", &otlp).await;
    assert_eq!(status, 200);
    let (status, _) = post_json(
        &engine,
        "/fluentd/v1/logs",
        &json!([{"message": "from fluentd", "nested": {"a": [1, "x", true]}}]),
    )
    .await;
    assert_eq!(status, 200);
    let rows = engine.rows("logs", "*", "ORDER BY body").await;
    assert_eq!(rows.len(), 2);
    let stored: Vec<(Value, Value)> = rows
        .iter()
        .map(|r| {
            let a = attrs(r, "attributes");
            let (_, value, ty) = a.iter().find(|(k, _, _)| k == "nested").unwrap().clone();
            (json!(value), json!(ty))
        })
        .collect();
    assert_eq!(stored[0], stored[1], "{rows:?}");
    assert_eq!(stored[0].1, json!(7));
}
