//! Wire contracts shared between Vigil's binaries.
//!
//! This crate will own every `.proto` file of Vigil's own services (the probe ↔ control-plane
//! assignment protocol and the probe → ingest-engine result stream, issue 6) and be the only
//! crate that runs the protobuf compiler. OTLP itself is not compiled here: the ingest engine
//! walks the OTLP wire format by hand so that it can decode straight into ClickHouse columns.
//!
//! Today it only names the protocol constants that more than one crate needs.

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
