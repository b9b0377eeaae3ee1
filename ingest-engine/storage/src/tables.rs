//! The row blocks of Vigil's telemetry tables: one definition per table gives both the DDL's
//! column list and the Native encoder (see `native_block!`).
//!
//! The names and columns here are the contract between the ingest engine that writes them and
//! the worker, explorer and status pages that read them (ARCHITECTURE.md, "Storage"). Every table starts with
//! `project_id`; `time` (DateTime, seconds) is the partition key and `*_unix_nano` keep the
//! nanoseconds. Attributes are parallel `_keys`/`_values`/`_types` arrays (resource, scope and
//! record attributes kept apart); span events and links, and metric exemplars, keep their
//! attributes as OTLP/JSON strings so types survive.

use super::native::{
    ArrF64Col, ArrI64Col, ArrStrCol, ArrU8Col, ArrU32Col, ArrU64Col, AttrCols, DateTimeCol, F64Col,
    I32Col, I64Col, NullableF64Col, StrCol, U8Col, U32Col, U64Col, native_block,
};

/// Vigil's ClickHouse tables. Every writer and reader names a table through this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// Log records (OTLP, Fluent Forward, Fluentd HTTP).
    Logs,
    /// Spans.
    Spans,
    /// Metric points.
    Metrics,
    /// Server-agent reports.
    ServerMetrics,
    /// Heartbeats and other incoming requests.
    IncomingRequests,
    /// Every judged monitor result (written by the worker).
    MonitorResults,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 6] = [
        Table::Logs,
        Table::Spans,
        Table::Metrics,
        Table::ServerMetrics,
        Table::IncomingRequests,
        Table::MonitorResults,
    ];

    /// The table's name in the database.
    pub fn name(self) -> &'static str {
        match self {
            Table::Logs => "logs",
            Table::Spans => "spans",
            Table::Metrics => "metrics",
            Table::ServerMetrics => "server_metrics",
            Table::IncomingRequests => "incoming_requests",
            Table::MonitorResults => "monitor_results",
        }
    }
}

native_block!(
    /// One row per OTLP log record.
    LogsBlock {
        project_id: StrCol,
        service_name: StrCol,
        /// `time_unix_nano`, or the observed time when that is 0, or the receive time.
        time: DateTimeCol,
        time_unix_nano: U64Col,
        observed_time_unix_nano: U64Col,
        severity_number: I32Col,
        severity_text: StrCol,
        body: StrCol,
        body_type: U8Col,
        trace_id: StrCol,
        span_id: StrCol,
        flags: U32Col,
        event_name: StrCol,
        attributes: AttrCols,
        dropped_attributes_count: U32Col,
        resource_attributes: AttrCols,
        resource_dropped_attributes_count: U32Col,
        resource_schema_url: StrCol,
        scope_name: StrCol,
        scope_version: StrCol,
        scope_attributes: AttrCols,
        scope_dropped_attributes_count: U32Col,
        scope_schema_url: StrCol,
    }
);

native_block!(
    /// One row per OTLP span, with its events and links as parallel arrays.
    SpansBlock {
        project_id: StrCol,
        service_name: StrCol,
        /// Start time in seconds.
        time: DateTimeCol,
        trace_id: StrCol,
        span_id: StrCol,
        parent_span_id: StrCol,
        trace_state: StrCol,
        flags: U32Col,
        name: StrCol,
        kind: I32Col,
        start_time_unix_nano: U64Col,
        end_time_unix_nano: U64Col,
        duration_ns: U64Col,
        status_code: I32Col,
        status_message: StrCol,
        attributes: AttrCols,
        dropped_attributes_count: U32Col,
        events_time_unix_nano: ArrU64Col,
        events_name: ArrStrCol,
        /// OTLP/JSON `[{"key":…,"value":{…}}]` per event.
        events_attributes: ArrStrCol,
        events_dropped_attributes_count: ArrU32Col,
        dropped_events_count: U32Col,
        links_trace_id: ArrStrCol,
        links_span_id: ArrStrCol,
        links_trace_state: ArrStrCol,
        links_flags: ArrU32Col,
        /// OTLP/JSON `[{"key":…,"value":{…}}]` per link.
        links_attributes: ArrStrCol,
        links_dropped_attributes_count: ArrU32Col,
        dropped_links_count: U32Col,
        resource_attributes: AttrCols,
        resource_dropped_attributes_count: U32Col,
        resource_schema_url: StrCol,
        scope_name: StrCol,
        scope_version: StrCol,
        scope_attributes: AttrCols,
        scope_dropped_attributes_count: U32Col,
        scope_schema_url: StrCol,
    }
);

native_block!(
    /// One row per metric data point, for every OTLP point type.
    MetricsBlock {
        project_id: StrCol,
        service_name: StrCol,
        name: StrCol,
        description: StrCol,
        unit: StrCol,
        /// `gauge`, `sum`, `histogram`, `exponential_histogram` or `summary`.
        metric_type: StrCol,
        metadata: AttrCols,
        time: DateTimeCol,
        time_unix_nano: U64Col,
        start_time_unix_nano: U64Col,
        aggregation_temporality: I32Col,
        is_monotonic: U8Col,
        flags: U32Col,
        /// Gauge and sum points (int points converted; exact value in `value_int`).
        value: F64Col,
        value_int: I64Col,
        /// 0 no value, 1 `as_double`, 2 `as_int`.
        value_type: U8Col,
        count: U64Col,
        sum: NullableF64Col,
        min: NullableF64Col,
        max: NullableF64Col,
        bucket_counts: ArrU64Col,
        explicit_bounds: ArrF64Col,
        scale: I32Col,
        zero_count: U64Col,
        zero_threshold: F64Col,
        positive_offset: I32Col,
        positive_bucket_counts: ArrU64Col,
        negative_offset: I32Col,
        negative_bucket_counts: ArrU64Col,
        quantiles: ArrF64Col,
        quantile_values: ArrF64Col,
        exemplars_time_unix_nano: ArrU64Col,
        exemplars_value: ArrF64Col,
        exemplars_value_int: ArrI64Col,
        /// 0 no value, 1 `as_double`, 2 `as_int`.
        exemplars_value_type: ArrU8Col,
        exemplars_trace_id: ArrStrCol,
        exemplars_span_id: ArrStrCol,
        /// OTLP/JSON `[{"key":…,"value":{…}}]` per exemplar.
        exemplars_filtered_attributes: ArrStrCol,
        attributes: AttrCols,
        resource_attributes: AttrCols,
        resource_dropped_attributes_count: U32Col,
        resource_schema_url: StrCol,
        scope_name: StrCol,
        scope_version: StrCol,
        scope_attributes: AttrCols,
        scope_dropped_attributes_count: U32Col,
        scope_schema_url: StrCol,
    }
);

native_block!(
    /// One row per value of a server-agent report: CPU, each core, memory, swap, each disk,
    /// network (totals and each interface), load, host info and the busiest processes.
    ServerMetricsBlock {
        project_id: StrCol,
        /// The server monitor the agent's key belongs to.
        monitor_id: StrCol,
        hostname: StrCol,
        /// Receive time in seconds (the agent's clock is not trusted, as in OneUptime).
        time: DateTimeCol,
        time_unix_nano: U64Col,
        /// What is measured, e.g. `cpu.percent_used`, `disk.used_bytes`, `process.cpu_percent`.
        name: StrCol,
        /// Which core, disk path, interface or process id; empty for host-wide values.
        subject: StrCol,
        value: F64Col,
        /// `percent`, `bytes`, `count`, `seconds` or `` (load averages).
        unit: StrCol,
        /// Further facts of the subject (disk device and fstype, process name and command,
        /// host platform and kernel…), typed as OTLP attributes.
        attributes: AttrCols,
    }
);

native_block!(
    /// One row per incoming request (heartbeat or inbound webhook).
    IncomingRequestsBlock {
        project_id: StrCol,
        /// The incoming-request monitor the key belongs to.
        monitor_id: StrCol,
        /// Receive time in seconds.
        time: DateTimeCol,
        time_unix_nano: U64Col,
        /// `GET` or `POST` (HEAD is recorded as GET, as OneUptime does).
        method: StrCol,
        /// The path the request came to (`/heartbeat/…` with the key masked).
        path: StrCol,
        /// The peer's address (`ip:port`).
        source_addr: StrCol,
        /// `x-vigil-probe-id` or `oneuptime-probe-id` when a probe relayed the request.
        probe_id: StrCol,
        /// Every header, names lowercase, in the order received.
        header_names: ArrStrCol,
        header_values: ArrStrCol,
        /// The body as received (decompressed), at most `monitors.max_request_body_bytes`.
        body: StrCol,
    }
);

/// The columns of `monitor_results`: one row per monitor result the worker evaluated (a
/// probe's check, a heartbeat, an agent report, a push found missing, or a telemetry monitor's
/// measurement). The worker writes them (JSONEachRow), so there is no Native encoder; a result
/// replayed after a crash carries the same `event_id` and is merged away (ReplacingMergeTree).
pub fn monitor_results_columns() -> Vec<(String, &'static str)> {
    [
        ("project_id", "String"),
        ("monitor_id", "String"),
        // When the result was taken: seconds, and nanoseconds.
        ("time", "DateTime"),
        ("time_unix_nano", "UInt64"),
        // The stream entry's `event_id` (for a missing push: monitor and time).
        ("event_id", "String"),
        // `probe`, `heartbeat`, `server`, `missing` or `telemetry`.
        ("source", "String"),
        ("probe_id", "String"),
        ("is_online", "UInt8"),
        ("is_timeout", "UInt8"),
        ("response_time_ms", "Nullable(Float64)"),
        // HTTP status, 0 when none.
        ("status_code", "UInt32"),
        ("error", "String"),
        // The status the criteria gave, and the criterion (empty: none matched).
        ("status_id", "String"),
        ("criterion", "String"),
        // The whole result as JSON.
        ("result", "String"),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_owned(), t))
    .collect()
}
