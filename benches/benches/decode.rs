//! Decoding OTLP requests into ClickHouse Native blocks (the engine's per-request CPU work).

use benches::payload::{self, Signal};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_to_native");
    for signal in [Signal::Logs, Signal::Traces, Signal::Metrics] {
        let request = payload::generate(signal, 1000, 7);
        group.throughput(Throughput::Elements(
            payload::records_in(signal, 1000) as u64
        ));
        group.bench_function(format!("{signal:?}").to_lowercase(), |b| {
            b.iter(|| {
                ingest_engine::otlp::decode(signal.engine(), &request, "project").map(|d| d.rows)
            })
        });
    }
    group.finish();
}

fn json(c: &mut Criterion) {
    let body = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeLogs":[{"logRecords":[{"timeUnixNano":"1700000000000000001","severityNumber":9,"body":{"stringValue":"hello world"},"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","attributes":[{"key":"http.route","value":{"stringValue":"/api"}},{"key":"n","value":{"intValue":"5"}}]}]}]}]}"#;
    let mut group = c.benchmark_group("otlp_json");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("logs_to_protobuf", |b| {
        b.iter(|| {
            ingest_engine::otlp::json::to_protobuf(ingest_engine::otlp::Signal::Logs, body)
                .map(|p| p.len())
        })
    });
    group.finish();
}

criterion_group!(benches, decode, json);
criterion_main!(benches);
