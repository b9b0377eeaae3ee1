//! How to reach ClickHouse and how to insert: the settings every reader and writer of the
//! tables shares. Loading them (defaults, TOML, `VIGIL_*`) is the binaries' job.

use std::fmt;

use serde::Deserialize;

pub use crate::compression::Compression;

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

/// ClickHouse settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseConfig {
    /// HTTP interface URL (`VIGIL_CLICKHOUSE_URL`, default `http://127.0.0.1:8123`).
    pub url: String,
    /// Database (`VIGIL_CLICKHOUSE_DATABASE`, default `vigil`); created at start-up.
    pub database: String,
    /// User (`VIGIL_CLICKHOUSE_USER`, default `default`).
    pub user: String,
    /// Password (`VIGIL_CLICKHOUSE_PASSWORD`, default empty).
    pub password: Secret,
    /// Timeout of one HTTP request to ClickHouse, ms (`VIGIL_CLICKHOUSE_TIMEOUT_MS`, 30000).
    pub timeout_ms: u64,
    /// Insert body framing: `lz4` or `none` (`VIGIL_CLICKHOUSE_COMPRESSION`, default `lz4`).
    pub compression: Compression,
    /// Concurrent INSERTs per table (`VIGIL_CLICKHOUSE_MAX_CONCURRENT_INSERTS`, default 4).
    pub max_concurrent_inserts: usize,
    /// Attempts per batch before its requests fail with 503 (`VIGIL_CLICKHOUSE_MAX_ATTEMPTS`, 5).
    pub max_attempts: u32,
    /// First retry delay, ms; doubles per attempt with jitter (`VIGIL_CLICKHOUSE_RETRY_BASE_MS`, 200).
    pub retry_base_ms: u64,
    /// Longest retry delay, ms (`VIGIL_CLICKHOUSE_RETRY_MAX_MS`, 5000).
    pub retry_max_ms: u64,
    /// Days to keep data where the server supports TTL (≥ 19.6); 0 keeps everything
    /// (`VIGIL_RETENTION_DAYS`, default 0).
    pub retention_days: u32,
    /// A ClickHouse cluster (`remote_servers`) to spread the tables over
    /// (`VIGIL_CLICKHOUSE_CLUSTER`, default empty: one server). Then the schema is made
    /// `ON CLUSTER`: `ReplicatedMergeTree` tables `<table>_local` on every node, and a
    /// `Distributed` table `<table>` sharded by `cityHash64(project_id)` that every read and
    /// write goes through (inserts synchronously).
    pub cluster: String,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8123".into(),
            database: "vigil".into(),
            user: "default".into(),
            password: Secret::default(),
            timeout_ms: 30_000,
            compression: Compression::Lz4,
            max_concurrent_inserts: 4,
            max_attempts: 5,
            retry_base_ms: 200,
            retry_max_ms: 5_000,
            retention_days: 0,
            cluster: String::new(),
        }
    }
}
