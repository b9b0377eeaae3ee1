//! The versioned ClickHouse schema: DDL generated from the table blocks, adapted to what the
//! server supports, applied idempotently at start-up and recorded in `schema_migrations`.
//!
//! The base DDL runs on ClickHouse 18.16 (plain MergeTree, `DateTime` + `UInt64` nanoseconds,
//! parallel arrays for attributes, daily partitions). Codecs, skip indexes and TTL are added only
//! when the server's version has them; that variant is checked against a current engine (chdb)
//! in the test suite.

use super::client::{ClickHouse, ClickHouseError};
use super::tables::{
    IncomingRequestsBlock, LogsBlock, MetricsBlock, ServerMetricsBlock, SpansBlock, Table,
    monitor_results_columns,
};

/// What the connected server can do, from its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerCaps {
    /// `(major, minor)` of the server.
    pub version: (u32, u32),
    /// Column codecs (19.1+).
    pub codecs: bool,
    /// Data-skipping indexes without an experimental flag (20.1+).
    pub skip_indexes: bool,
    /// Table TTL (19.6+).
    pub ttl: bool,
    /// `insert_deduplication_token` (22.2+).
    pub dedup_token: bool,
}

impl ServerCaps {
    /// Capabilities of a server of `version`.
    pub fn for_version(version: (u32, u32)) -> Self {
        let at_least = |major: u32, minor: u32| version >= (major, minor);
        Self {
            version,
            codecs: at_least(19, 1),
            skip_indexes: at_least(20, 1),
            ttl: at_least(19, 6),
            dedup_token: at_least(22, 2),
        }
    }
}

struct TableSpec {
    table: Table,
    /// The migration that creates the table.
    since: u32,
    columns: fn() -> Vec<(String, &'static str)>,
    order_by: &'static str,
    trace_index: bool,
    /// `MergeTree`, or `ReplacingMergeTree` where replays must merge away.
    engine: &'static str,
}

const TABLES: [TableSpec; 6] = [
    TableSpec {
        table: Table::Logs,
        since: 1,
        columns: LogsBlock::columns,
        order_by: "project_id, service_name, time, time_unix_nano",
        trace_index: true,
        engine: "MergeTree",
    },
    TableSpec {
        table: Table::Spans,
        since: 1,
        columns: SpansBlock::columns,
        order_by: "project_id, service_name, time, start_time_unix_nano",
        trace_index: true,
        engine: "MergeTree",
    },
    TableSpec {
        table: Table::Metrics,
        since: 1,
        columns: MetricsBlock::columns,
        order_by: "project_id, service_name, name, time, time_unix_nano",
        trace_index: false,
        engine: "MergeTree",
    },
    TableSpec {
        table: Table::ServerMetrics,
        since: 2,
        columns: ServerMetricsBlock::columns,
        order_by: "project_id, monitor_id, name, time, time_unix_nano",
        trace_index: false,
        engine: "MergeTree",
    },
    TableSpec {
        table: Table::IncomingRequests,
        since: 2,
        columns: IncomingRequestsBlock::columns,
        order_by: "project_id, monitor_id, time, time_unix_nano",
        trace_index: false,
        engine: "MergeTree",
    },
    TableSpec {
        table: Table::MonitorResults,
        since: 3,
        columns: monitor_results_columns,
        order_by: "project_id, monitor_id, time, event_id",
        trace_index: false,
        engine: "ReplacingMergeTree",
    },
];

/// The current schema version; bump it with a new entry in [`migration`].
pub const SCHEMA_VERSION: u32 = 3;

fn codec_for(name: &str, ty: &str) -> &'static str {
    if name == "time" || name.ends_with("_unix_nano") {
        " CODEC(Delta, ZSTD(1))"
    } else if ty.contains("String") || ty.starts_with("Array") {
        " CODEC(ZSTD(1))"
    } else {
        ""
    }
}

fn create_table(
    database: &str,
    spec: &TableSpec,
    caps: &ServerCaps,
    retention_days: u32,
) -> String {
    let mut sql = format!(
        "CREATE TABLE IF NOT EXISTS {database}.{} (\n",
        spec.table.name()
    );
    let columns = (spec.columns)();
    let mut lines: Vec<String> = columns
        .iter()
        .map(|(name, ty)| {
            let codec = if caps.codecs { codec_for(name, ty) } else { "" };
            format!("    {name} {ty}{codec}")
        })
        .collect();
    if caps.skip_indexes && spec.trace_index {
        lines.push("    INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1".into());
    }
    sql.push_str(&lines.join(",\n"));
    sql.push_str(&format!(
        "\n) ENGINE = {}\nPARTITION BY toDate(time)\nORDER BY ({})",
        spec.engine, spec.order_by
    ));
    if caps.ttl && retention_days > 0 {
        sql.push_str(&format!("\nTTL time + toIntervalDay({retention_days})"));
    }
    sql.push_str("\nSETTINGS index_granularity = 8192");
    if caps.dedup_token {
        // Remember recent insert tokens so a replayed WAL batch is not stored twice.
        sql.push_str(", non_replicated_deduplication_window = 10000");
    }
    sql
}

/// The statements of migration `version` for a server with `caps`: 1 creates the telemetry
/// tables, 2 the server-agent and incoming-request tables, 3 `monitor_results`.
fn migration(version: u32, database: &str, caps: &ServerCaps, retention_days: u32) -> Vec<String> {
    TABLES
        .iter()
        .filter(|t| t.since == version)
        .map(|t| create_table(database, t, caps, retention_days))
        .collect()
}

/// Every statement that creates the schema from nothing, in order (used by tests and docs).
pub fn create_statements(database: &str, caps: &ServerCaps, retention_days: u32) -> Vec<String> {
    let mut out = vec![
        format!("CREATE DATABASE IF NOT EXISTS {database}"),
        migrations_table(database),
    ];
    for v in 1..=SCHEMA_VERSION {
        out.extend(migration(v, database, caps, retention_days));
    }
    out
}

fn migrations_table(database: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {database}.schema_migrations (version UInt32, applied_at DateTime) \
         ENGINE = MergeTree ORDER BY version"
    )
}

/// The `INSERT` query for `table`, naming every column so that older engines keep working
/// against tables that later migrations widened.
pub fn insert_query(database: &str, table: Table) -> String {
    let columns = TABLES
        .iter()
        .find(|t| t.table == table)
        .map(|t| {
            (t.columns)()
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    format!(
        "INSERT INTO {database}.{} ({columns}) FORMAT Native",
        table.name()
    )
}

/// The highest migration recorded.
async fn applied(client: &ClickHouse, database: &str) -> Result<u32, ClickHouseError> {
    let v = client
        .query(&format!(
            "SELECT max(version) FROM {database}.schema_migrations"
        ))
        .await?;
    Ok(v.trim().parse().unwrap_or(0))
}

/// How long a caller waits for another to finish applying migrations before it applies
/// them itself (every statement is idempotent, so that is safe, only noisier).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Creates the database and applies every migration not yet recorded; returns the server's
/// capabilities. Safe to run from many engines and workers at once: one of them takes the
/// lock (a `schema_lock` table only one `CREATE` can make) and applies, the others wait for
/// the recorded version.
pub async fn ensure(
    client: &ClickHouse,
    database: &str,
    retention_days: u32,
) -> Result<ServerCaps, ClickHouseError> {
    let caps = ServerCaps::for_version(client.version().await?);
    client
        .query(&format!("CREATE DATABASE IF NOT EXISTS {database}"))
        .await?;
    client.query(&migrations_table(database)).await?;
    let lock = format!("{database}.schema_lock");
    let waiting_since = std::time::Instant::now();
    loop {
        if applied(client, database).await? >= SCHEMA_VERSION {
            return Ok(caps);
        }
        let taken = client
            .query(&format!(
                "CREATE TABLE {lock} (at DateTime) ENGINE = Memory"
            ))
            .await;
        if taken.is_ok() {
            break;
        }
        if waiting_since.elapsed() > LOCK_WAIT {
            tracing::warn!(
                database,
                "clickhouse schema lock held for over {LOCK_WAIT:?}; applying anyway"
            );
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let applied_now = applied(client, database).await;
    let result = async {
        for version in (applied_now? + 1)..=SCHEMA_VERSION {
            for statement in migration(version, database, &caps, retention_days) {
                client.query(&statement).await?;
            }
            client
                .query(&format!(
                    "INSERT INTO {database}.schema_migrations (version, applied_at) VALUES ({version}, now())"
                ))
                .await?;
            tracing::info!(version, database, "clickhouse schema migration applied");
        }
        Ok::<(), ClickHouseError>(())
    }
    .await;
    if let Err(error) = client.query(&format!("DROP TABLE IF EXISTS {lock}")).await {
        tracing::warn!(database, %error, "clickhouse schema lock not released");
    }
    result.map(|()| caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_servers_get_plain_ddl_and_new_ones_get_codecs() {
        let old = create_statements("vigil", &ServerCaps::for_version((18, 16)), 30);
        assert!(
            old.iter()
                .all(|s| !s.contains("CODEC") && !s.contains("TTL") && !s.contains("INDEX"))
        );
        let new = create_statements("vigil", &ServerCaps::for_version((26, 1)), 30);
        assert!(new.iter().any(|s| s.contains("CODEC(ZSTD(1))")));
        assert!(
            new.iter()
                .any(|s| s.contains("TTL time + toIntervalDay(30)"))
        );
        for s in old.iter().chain(&new).filter(|s| s.contains("MergeTree\n")) {
            assert!(s.contains("project_id String"), "{s}");
            assert!(s.contains("ORDER BY (project_id"), "{s}");
        }
    }
}
