//! The explorer's search language, shared by logs and spans: `parse.rs` reads a query into an
//! expression, `sql.rs` turns one into a ClickHouse condition over a table with every value
//! escaped; `histogram.rs` reads percentiles from histogram buckets. Every read of telemetry
//! (the explorer's, a telemetry monitor's) runs under [`READ_LIMITS`].

pub(crate) mod histogram;
pub(crate) mod parse;
pub(crate) mod sql;

/// Limits of every read of telemetry: time, rows and bytes read, result size. ClickHouse
/// refuses a query past them (codes 158, 159, 307, 396) instead of loading the server.
pub(crate) const READ_LIMITS: [(&str, &str); 5] = [
    ("max_execution_time", "15"),
    ("max_rows_to_read", "500000000"),
    ("max_bytes_to_read", "50000000000"),
    ("max_result_rows", "100000"),
    ("max_result_bytes", "100000000"),
];
