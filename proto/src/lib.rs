//! Wire contracts shared between Vigil's binaries: the OTLP method paths the ingest engine
//! serves, Vigil's own probe protocol (`probe`), the worker's event streams (`events`) and the
//! results they carry (`observation`), and how a proxy in front names the client
//! (`forwarded`), and how a failure is told with its causes (`causes`). OTLP itself is not compiled here: the ingest engine
//! walks the OTLP wire format by hand so that it can decode straight into ClickHouse columns.
//! The probe messages are declared with `prost` derives (the `.proto` text is in their doc
//! comment), so no protobuf compiler is needed to build.

pub mod causes;
pub mod events;
pub mod forwarded;
pub mod observation;
pub mod probe;

/// The gRPC method paths of the OTLP collector services, as OTLP exporters call them.
pub mod otlp_paths {
    /// `LogsService/Export`.
    pub const LOGS_EXPORT: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    /// `TraceService/Export`.
    pub const TRACES_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    /// `MetricsService/Export`.
    pub const METRICS_EXPORT: &str =
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
}
