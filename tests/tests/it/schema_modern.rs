//! The modern-server schema (codecs, skip index, TTL, insert deduplication) and the engine's
//! Native batches are valid for a current ClickHouse: checked in chdb (ClickHouse 26.x
//! in-process), including that a batch replayed with its deduplication token is stored once.

use ingest_engine::otlp::{Signal, decode, json::to_protobuf};
use serde_json::{Value, json};
use storage::schema::{Placement, ServerCaps, create_statements};
use tests::{python, repo_root, unique_name};

fn native_batch(signal: Signal, payload: Value) -> Vec<u8> {
    let protobuf = to_protobuf(signal, payload.to_string().as_bytes()).unwrap();
    let decoded = decode(signal, &protobuf, "p1").unwrap();
    assert_eq!(decoded.rejected, 0);
    decoded.native
}

#[tokio::test(flavor = "multi_thread")]
async fn modern_ddl_and_native_batches_load_in_current_clickhouse() {
    let caps = ServerCaps::for_version((26, 9));
    // The data below is from 2023, so it loads into a database without TTL (a TTL would
    // rightly drop it on insert); the TTL variant is created alongside to validate its DDL.
    let mut ddl = create_statements(
        Placement {
            database: "vigil",
            cluster: None,
        },
        &caps,
        0,
    );
    let with_ttl = create_statements(
        Placement {
            database: "vigil_ttl",
            cluster: None,
        },
        &caps,
        30,
    );
    assert!(ddl.iter().any(|s| s.contains("CODEC(ZSTD(1))")));
    assert!(
        with_ttl
            .iter()
            .any(|s| s.contains("TTL time + toIntervalDay(30)"))
    );
    ddl.extend(with_ttl);
    let resource =
        json!({"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]});
    let logs = json!({"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [
        {"timeUnixNano": "1700000000000000001", "body": {"stringValue": "héllo"}, "severityNumber": 9,
         "traceId": "5b8efff798038103d269b633813fc60c",
         "attributes": [{"key": "n", "value": {"intValue": "5"}}]}]}]}]});
    let traces = json!({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "op",
         "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000000000500",
         "events": [{"name": "e", "timeUnixNano": "1700000000000000001"}],
         "links": [{"traceId": "5b8efff798038103d269b633813fc60d", "spanId": "eee19b7ec3c1b175"}]}]}]}]});
    let t = "1700000000000000000";
    let metrics = json!({"resourceMetrics": [{"resource": resource, "scopeMetrics": [{"metrics": [
        {"name": "g", "gauge": {"dataPoints": [{"timeUnixNano": t, "asDouble": 1.5}]}},
        {"name": "h", "histogram": {"dataPoints": [{"timeUnixNano": t, "count": "3", "sum": 3,
            "bucketCounts": ["1", "2"], "explicitBounds": [1], "min": 0.5}]}},
        {"name": "e", "exponentialHistogram": {"dataPoints": [{"timeUnixNano": t, "count": "2",
            "positive": {"offset": 1, "bucketCounts": ["2"]}}]}},
        {"name": "s", "summary": {"dataPoints": [{"timeUnixNano": t, "count": "1", "sum": 2,
            "quantileValues": [{"quantile": 0.5, "value": 2}]}]}}]}]}]});

    let dir = std::env::temp_dir().join(unique_name("chdb"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut inserts = serde_json::Map::new();
    let mut tokens = serde_json::Map::new();
    for (signal, payload) in [
        (Signal::Logs, logs),
        (Signal::Traces, traces),
        (Signal::Metrics, metrics),
    ] {
        let path = dir.join(format!("{}.native", signal.table()));
        std::fs::write(&path, native_batch(signal, payload)).unwrap();
        inserts.insert(
            format!("vigil.{}", signal.table()),
            json!(path.display().to_string()),
        );
        // Each batch is inserted twice with one token, as a WAL replay after a lost
        // confirmation would: the rows below must still be there once.
        tokens.insert(
            format!("vigil.{}", signal.table()),
            json!(format!("0123abcd-{}-1-1", signal.table())),
        );
    }
    let spec = json!({
        "ddl": ddl,
        "inserts": inserts,
        "dedup_tokens": tokens,
        "queries": [
            "SELECT project_id, service_name, body, time_unix_nano, trace_id, attributes_values FROM vigil.logs",
            "SELECT name, duration_ns, events_name, links_span_id FROM vigil.spans",
            "SELECT name, metric_type, value, count, sum, min, bucket_counts, positive_bucket_counts, quantile_values FROM vigil.metrics ORDER BY name",
            "SELECT name, type FROM system.columns WHERE database = 'vigil' AND table = 'logs' AND name = 'trace_id'",
            "SELECT count() AS tables FROM system.tables WHERE database = 'vigil_ttl' AND create_table_query LIKE '%TTL%'",
        ],
    });
    let spec_path = dir.join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let out = tokio::process::Command::new(python())
        .arg(repo_root().join("tests/python/chdb_check.py"))
        .arg(&spec_path)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "chdb_check.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        results[0],
        json!([{"project_id": "p1", "service_name": "svc", "body": "héllo",
                "time_unix_nano": 1_700_000_000_000_000_001u64, "trace_id": "5b8efff798038103d269b633813fc60c",
                "attributes_values": ["5"]}])
    );
    assert_eq!(
        results[1],
        json!([{"name": "op", "duration_ns": 500, "events_name": ["e"], "links_span_id": ["eee19b7ec3c1b175"]}])
    );
    let metrics = results[2].as_array().unwrap();
    assert_eq!(metrics.len(), 4);
    assert_eq!(metrics[0]["metric_type"], "exponential_histogram");
    assert_eq!(metrics[0]["positive_bucket_counts"], json!([2]));
    assert_eq!(
        (metrics[1]["name"].as_str(), metrics[1]["value"].as_f64()),
        (Some("g"), Some(1.5))
    );
    assert_eq!(metrics[2]["bucket_counts"], json!([1, 2]));
    assert_eq!(
        (metrics[2]["sum"].as_f64(), metrics[2]["min"].as_f64()),
        (Some(3.0), Some(0.5))
    );
    assert_eq!(metrics[3]["quantile_values"], json!([2]));
    assert_eq!(results[3][0]["type"], "String");
    assert_eq!(results[4], json!([{"tables": 6}]));
    std::fs::remove_dir_all(&dir).unwrap();
}
