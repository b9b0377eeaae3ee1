//! The Rust `opentelemetry-otlp` exporters (tonic gRPC and blocking HTTP/protobuf) → ClickHouse.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::KeyValue;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tests::{PROJECT, TOKEN, TestEngine};

use crate::rows::{assert_attr, attrs, find};

fn resource(service: &str) -> Resource {
    Resource::builder()
        .with_service_name(service.to_owned())
        .with_attribute(KeyValue::new("deployment.environment", "test"))
        .build()
}

const T0: u64 = 1_700_000_100_000_000_123;

/// Emits one span, one log record and one counter point through the given providers and shuts
/// them down (which flushes every exporter).
fn emit(traces: SdkTracerProvider, logs: SdkLoggerProvider, metrics: SdkMeterProvider) {
    let tracer = traces.tracer("rust.tracer");
    let mut span = tracer
        .span_builder("rust-op")
        .with_kind(SpanKind::Consumer)
        .with_start_time(UNIX_EPOCH + Duration::from_nanos(T0))
        .with_attributes([KeyValue::new("r.int", 11_i64), KeyValue::new("r.f", 0.5)])
        .start(&tracer);
    span.set_status(Status::Ok);
    span.end_with_timestamp(UNIX_EPOCH + Duration::from_nanos(T0 + 1_000));
    let logger = logs.logger("rust.logger");
    let mut record = logger.create_log_record();
    record.set_timestamp(UNIX_EPOCH + Duration::from_nanos(T0 + 2));
    record.set_severity_number(Severity::Error);
    record.set_severity_text("ERROR");
    record.set_body(AnyValue::from("rust says ñ"));
    record.add_attribute("r.bool", true);
    logger.emit(record);
    metrics
        .meter("rust.meter")
        .u64_counter("rust.requests")
        .build()
        .add(4, &[KeyValue::new("k", "v")]);
    traces.shutdown().expect("traces flushed");
    logs.shutdown().expect("logs flushed");
    metrics.shutdown().expect("metrics flushed");
}

async fn check(engine: &TestEngine, service: &str) {
    let spans = engine.rows("spans", "*", "").await;
    let span = find(&spans, "name", "rust-op");
    assert_eq!(span["project_id"], PROJECT);
    assert_eq!(span["service_name"], service);
    assert_eq!(span["kind"], 5, "CONSUMER");
    assert_eq!(span["status_code"], 1, "OK");
    assert_eq!(span["start_time_unix_nano"].as_u64(), Some(T0));
    assert_eq!(span["end_time_unix_nano"].as_u64(), Some(T0 + 1_000));
    assert_eq!(span["trace_id"].as_str().unwrap().len(), 32);
    let a = attrs(span, "attributes");
    assert_attr(&a, "r.int", "11", 3);
    assert_attr(&a, "r.f", "0.5", 4);
    assert_attr(
        &attrs(span, "resource_attributes"),
        "deployment.environment",
        "test",
        1,
    );
    let logs = engine.rows("logs", "*", "").await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["body"], "rust says ñ");
    assert_eq!(logs[0]["time_unix_nano"].as_u64(), Some(T0 + 2));
    assert_eq!(
        (
            logs[0]["severity_number"].as_u64(),
            logs[0]["severity_text"].as_str()
        ),
        (Some(17), Some("ERROR"))
    );
    assert_attr(&attrs(&logs[0], "attributes"), "r.bool", "true", 2);
    assert_eq!(logs[0]["scope_name"], "rust.logger");
    let metrics = engine.rows("metrics", "*", "").await;
    let counter = find(&metrics, "name", "rust.requests");
    assert_eq!(
        (
            counter["metric_type"].as_str(),
            counter["value_int"].as_u64()
        ),
        (Some("sum"), Some(4))
    );
    assert_attr(&attrs(counter, "attributes"), "k", "v", 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_exporter_over_grpc() {
    let engine = TestEngine::start("rustgrpc").await;
    let endpoint = format!("http://{}", engine.grpc);
    let mut metadata = MetadataMap::new();
    metadata.insert("x-vigil-token", TOKEN.parse().unwrap());
    let spans = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(&endpoint)
        .with_metadata(metadata.clone())
        .build()
        .unwrap();
    let logs = opentelemetry_otlp::LogExporter::builder()
        .with_tonic()
        .with_endpoint(&endpoint)
        .with_metadata(metadata.clone())
        .build()
        .unwrap();
    let metrics = opentelemetry_otlp::MetricExporter::builder()
        .with_tonic()
        .with_endpoint(&endpoint)
        .with_metadata(metadata)
        .build()
        .unwrap();
    let traces = SdkTracerProvider::builder()
        .with_resource(resource("rust-grpc"))
        .with_batch_exporter(spans)
        .build();
    let logs = SdkLoggerProvider::builder()
        .with_resource(resource("rust-grpc"))
        .with_batch_exporter(logs)
        .build();
    let metrics = SdkMeterProvider::builder()
        .with_resource(resource("rust-grpc"))
        .with_periodic_exporter(metrics)
        .build();
    // Shutdown blocks on the export; keep it off the async workers.
    tokio::task::spawn_blocking(move || emit(traces, logs, metrics))
        .await
        .unwrap();
    check(&engine, "rust-grpc").await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_exporter_over_http_protobuf() {
    let engine = TestEngine::start("rusthttp").await;
    let base = format!("http://{}", engine.http);
    // The blocking HTTP client must be built outside the async runtime.
    std::thread::spawn(move || {
        let headers = HashMap::from([("authorization".to_owned(), format!("Bearer {TOKEN}"))]);
        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(format!("{base}/v1/traces"))
            .with_headers(headers.clone())
            .build()
            .unwrap();
        let logs = opentelemetry_otlp::LogExporter::builder()
            .with_http()
            .with_endpoint(format!("{base}/v1/logs"))
            .with_headers(headers.clone())
            .build()
            .unwrap();
        let metrics = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_endpoint(format!("{base}/v1/metrics"))
            .with_headers(headers)
            .build()
            .unwrap();
        let traces = SdkTracerProvider::builder()
            .with_resource(resource("rust-http"))
            .with_simple_exporter(spans)
            .build();
        let logs = SdkLoggerProvider::builder()
            .with_resource(resource("rust-http"))
            .with_simple_exporter(logs)
            .build();
        let metrics = SdkMeterProvider::builder()
            .with_resource(resource("rust-http"))
            .with_periodic_exporter(metrics)
            .build();
        emit(traces, logs, metrics);
    })
    .join()
    .unwrap();
    check(&engine, "rust-http").await;
    engine.stop().await;
}
