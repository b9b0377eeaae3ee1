//! Decoding OTLP requests and Forward frames into ClickHouse Native blocks (the engine's per-request
//! CPU work).
#![allow(clippy::expect_used)] // bench set-up on fixed, valid input

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

/// The same 1000 log records as `decode_to_native/logs`, as OTLP/gRPC and as a PackedForward
/// frame, each decoded and framed (uncompressed) for an INSERT as the engine does.
fn logs_by_protocol(c: &mut Criterion) {
    let request = payload::generate(Signal::Logs, 1000, 7);
    let (frame, records) = benches::forward::packed_forward(&request, false, "c").expect("frame");
    let none = storage::compression::Compression::None;
    let mut group = c.benchmark_group("logs_by_protocol");
    group.throughput(Throughput::Elements(records as u64));
    group.bench_function("otlp", |b| {
        b.iter(|| {
            ingest_engine::otlp::decode_framed(Signal::Logs.engine(), &request, "project", none)
                .map(|d| d.rows)
        })
    });
    group.bench_function("forward", |b| {
        b.iter(|| {
            ingest_engine::forward::decode_frame(&frame, "project", none, 64 << 20)
                .map(|d| d.map(|d| d.rows))
        })
    });
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

criterion_group!(benches, decode, logs_by_protocol, json);
criterion_main!(benches);
