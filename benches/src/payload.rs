//! Seeded, realistic OTLP requests, the payloads every bench sends (and `vigil-load
//! --write-payloads` writes for h2load): 4 services with 8 resource attributes each; logs ≈ 300 B/record
//! with 6 attributes and 60 % carrying trace context; spans ≈ 360 B/record with 10 attributes and
//! 30 % with an exception event; metrics as gauge, sum and histogram points.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;

/// Which OTLP signal a payload carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Signal {
    /// `ExportLogsServiceRequest`.
    Logs,
    /// `ExportTraceServiceRequest`.
    Traces,
    /// `ExportMetricsServiceRequest`.
    Metrics,
}

impl Signal {
    /// The engine's name for the signal.
    pub fn engine(self) -> ingest_engine::otlp::Signal {
        match self {
            Signal::Logs => ingest_engine::otlp::Signal::Logs,
            Signal::Traces => ingest_engine::otlp::Signal::Traces,
            Signal::Metrics => ingest_engine::otlp::Signal::Metrics,
        }
    }
}

const WORDS: &[&str] = &[
    "request", "user", "order", "cart", "payment", "timeout", "retry", "cache", "db", "query",
    "slow", "fast", "ok", "failed", "upstream", "token", "session",
];
const SERVICES: [&str; 4] = ["checkout", "cart", "payments", "frontend"];
const NOW: u64 = 1_763_950_000_000_000_000;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: impl Into<String>) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

fn resource(rng: &mut fastrand::Rng, service: &str) -> Resource {
    Resource {
        attributes: vec![
            kv("service.name", s(service)),
            kv("service.version", s("1.4.2")),
            kv("host.name", s(format!("node-{}", rng.u32(1..=40)))),
            kv(
                "k8s.pod.name",
                s(format!("{service}-7d9f8b-{}", rng.u32(1000..=9999))),
            ),
            kv("k8s.namespace.name", s("prod")),
            kv("deployment.environment", s("production")),
            kv("telemetry.sdk.language", s("go")),
            kv("cloud.region", s("eu-west-1")),
        ],
        ..Default::default()
    }
}

/// A logs request with `records` records (rounded down to a multiple of 4).
pub fn logs(records: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut request = ExportLogsServiceRequest::default();
    for service in SERVICES {
        let mut scope_logs = ScopeLogs {
            scope: Some(InstrumentationScope {
                name: "app.logger".into(),
                version: "2.1".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        for i in 0..records / 4 {
            let (severity, text) = *pick(
                &mut rng,
                &[
                    (9, "INFO"),
                    (9, "INFO"),
                    (9, "INFO"),
                    (9, "INFO"),
                    (9, "INFO"),
                    (9, "INFO"),
                    (13, "WARN"),
                    (17, "ERROR"),
                    (5, "DEBUG"),
                ],
            );
            let words: Vec<&str> = (0..rng.usize(8..=24))
                .map(|_| *pick(&mut rng, WORDS))
                .collect();
            let mut record = LogRecord {
                time_unix_nano: NOW + i as u64 * 1000,
                observed_time_unix_nano: NOW + i as u64 * 1000 + 500,
                severity_number: severity,
                severity_text: text.into(),
                body: Some(AnyValue {
                    value: Some(s(format!(
                        "{} id={:x}",
                        words.join(" "),
                        rng.u64(..1 << 48)
                    ))),
                }),
                attributes: vec![
                    kv("http.method", s(*pick(&mut rng, &["GET", "POST", "PUT"]))),
                    kv(
                        "http.status_code",
                        any_value::Value::IntValue(*pick(&mut rng, &[200, 200, 201, 404, 500])),
                    ),
                    kv(
                        "http.route",
                        s(*pick(
                            &mut rng,
                            &["/api/cart", "/api/order/{id}", "/health", "/api/pay"],
                        )),
                    ),
                    kv("user.id", s(format!("u{}", rng.u32(1..=100_000)))),
                    kv(
                        "duration_ms",
                        any_value::Value::DoubleValue(rng.f64() * 300.0),
                    ),
                    kv("retry", any_value::Value::BoolValue(rng.f64() < 0.1)),
                ],
                ..Default::default()
            };
            if rng.f64() < 0.6 {
                record.trace_id = rng.u128(..).to_be_bytes().to_vec();
                record.span_id = rng.u64(..).to_be_bytes().to_vec();
            }
            scope_logs.log_records.push(record);
        }
        request.resource_logs.push(ResourceLogs {
            resource: Some(resource(&mut rng, service)),
            scope_logs: vec![scope_logs],
            ..Default::default()
        });
    }
    request.encode_to_vec()
}

/// A traces request with `records` spans (rounded down to a multiple of 4).
pub fn traces(records: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut request = ExportTraceServiceRequest::default();
    for service in SERVICES {
        let mut scope_spans = ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "otel.http".into(),
                version: "0.44".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut trace_id = rng.u128(..).to_be_bytes().to_vec();
        for i in 0..records / 4 {
            if i % 20 == 0 {
                trace_id = rng.u128(..).to_be_bytes().to_vec();
            }
            let start = NOW + i as u64 * 10_000;
            let mut span = Span {
                trace_id: trace_id.clone(),
                span_id: rng.u64(..).to_be_bytes().to_vec(),
                parent_span_id: if i % 20 != 0 {
                    rng.u64(..).to_be_bytes().to_vec()
                } else {
                    Vec::new()
                },
                name: (*pick(
                    &mut rng,
                    &[
                        "GET /api/cart",
                        "SELECT orders",
                        "POST /api/pay",
                        "redis GET",
                        "render",
                    ],
                ))
                .into(),
                kind: *pick(&mut rng, &[1, 2, 3]),
                start_time_unix_nano: start,
                end_time_unix_nano: start + rng.u64(10_000..=90_000_000),
                attributes: vec![
                    kv("http.method", s("GET")),
                    kv(
                        "http.status_code",
                        any_value::Value::IntValue(*pick(&mut rng, &[200, 200, 500])),
                    ),
                    kv("net.peer.name", s(format!("db-{}", rng.u32(1..=5)))),
                    kv("db.system", s("postgresql")),
                    kv("db.statement", s("SELECT * FROM orders WHERE id = $1")),
                    kv("user.id", s(format!("u{}", rng.u32(1..=100_000)))),
                    kv("thread.id", any_value::Value::IntValue(rng.i64(1..=64))),
                    kv("component", s("http")),
                    kv("peer.service", s(*pick(&mut rng, &["db", "cache", "auth"]))),
                    kv("sampled", any_value::Value::BoolValue(true)),
                ],
                ..Default::default()
            };
            if rng.f64() < 0.3 {
                span.events.push(span::Event {
                    time_unix_nano: start + 5,
                    name: "exception".into(),
                    attributes: vec![
                        kv("exception.type", s("TimeoutError")),
                        kv("exception.message", s("upstream timed out after 30s")),
                    ],
                    ..Default::default()
                });
            }
            span.status = Some(Status {
                code: *pick(&mut rng, &[0, 0, 1, 2]),
                ..Default::default()
            });
            scope_spans.spans.push(span);
        }
        request.resource_spans.push(ResourceSpans {
            resource: Some(resource(&mut rng, service)),
            scope_spans: vec![scope_spans],
            ..Default::default()
        });
    }
    request.encode_to_vec()
}

/// A metrics request with about `records` data points (gauge, sum and histogram thirds).
pub fn metrics(records: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut request = ExportMetricsServiceRequest::default();
    let per = (records / 4 / 3).max(1);
    for service in SERVICES {
        let attrs = |rng: &mut fastrand::Rng, i: usize| {
            vec![
                kv("cpu", any_value::Value::IntValue((i % 8) as i64)),
                kv("state", s(*pick(rng, &["user", "system"]))),
            ]
        };
        let gauge_points = (0..per)
            .map(|i| NumberDataPoint {
                time_unix_nano: NOW + i as u64,
                value: Some(number_data_point::Value::AsDouble(rng.f64())),
                attributes: attrs(&mut rng, i),
                ..Default::default()
            })
            .collect();
        let sum_points = (0..per)
            .map(|i| NumberDataPoint {
                start_time_unix_nano: NOW - 60_000_000_000,
                time_unix_nano: NOW + i as u64,
                value: Some(number_data_point::Value::AsInt(rng.i64(0..1_000_000))),
                attributes: attrs(&mut rng, i),
                ..Default::default()
            })
            .collect();
        let histogram_points = (0..per)
            .map(|i| {
                let counts: Vec<u64> = (0..9).map(|_| rng.u64(0..=100)).collect();
                let count = counts.iter().sum();
                HistogramDataPoint {
                    start_time_unix_nano: NOW - 60_000_000_000,
                    time_unix_nano: NOW + i as u64,
                    explicit_bounds: vec![5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0],
                    bucket_counts: counts,
                    count,
                    sum: Some(count as f64 * 42.0),
                    min: Some(1.0),
                    max: Some(900.0),
                    attributes: attrs(&mut rng, i),
                    ..Default::default()
                }
            })
            .collect();
        let metrics = vec![
            Metric {
                name: "process.cpu.utilization".into(),
                unit: "1".into(),
                data: Some(metric::Data::Gauge(Gauge {
                    data_points: gauge_points,
                })),
                ..Default::default()
            },
            Metric {
                name: "http.server.requests".into(),
                unit: "{request}".into(),
                data: Some(metric::Data::Sum(Sum {
                    data_points: sum_points,
                    aggregation_temporality: 2,
                    is_monotonic: true,
                })),
                ..Default::default()
            },
            Metric {
                name: "http.server.duration".into(),
                unit: "ms".into(),
                data: Some(metric::Data::Histogram(Histogram {
                    data_points: histogram_points,
                    aggregation_temporality: 2,
                })),
                ..Default::default()
            },
        ];
        request.resource_metrics.push(ResourceMetrics {
            resource: Some(resource(&mut rng, service)),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "runtime".into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    request.encode_to_vec()
}

/// A request of `signal` with about `records` records.
pub fn generate(signal: Signal, records: usize, seed: u64) -> Vec<u8> {
    match signal {
        Signal::Logs => logs(records, seed),
        Signal::Traces => traces(records, seed),
        Signal::Metrics => metrics(records, seed),
    }
}

/// Records in a request made by [`generate`] (what the engine will store).
pub fn records_in(signal: Signal, records: usize) -> usize {
    match signal {
        Signal::Logs | Signal::Traces => records / 4 * 4,
        Signal::Metrics => (records / 4 / 3).max(1) * 3 * 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_deterministic_and_sized_like_the_peers_runs() {
        assert_eq!(logs(1000, 7), logs(1000, 7));
        let per_log = logs(1000, 7).len() / 1000;
        let per_span = traces(1000, 7).len() / 1000;
        assert!((250..=350).contains(&per_log), "{per_log} B/log");
        assert!((300..=420).contains(&per_span), "{per_span} B/span");
        for signal in [Signal::Logs, Signal::Traces, Signal::Metrics] {
            let decoded =
                ingest_engine::otlp::decode(signal.engine(), &generate(signal, 100, 1), "p")
                    .unwrap();
            assert_eq!(decoded.rows as usize, records_in(signal, 100));
        }
    }
}
