//! The versioned ClickHouse schema: DDL generated from the table blocks, adapted to what the
//! server supports, applied idempotently at start-up and recorded in `schema_migrations`.
//!
//! The base DDL runs on ClickHouse 18.16 (plain MergeTree, `DateTime` + `UInt64` nanoseconds,
//! parallel arrays for attributes, daily partitions). Codecs, skip indexes and TTL are added only
//! when the server's version has them; that variant is checked against a current engine (chdb)
//! in the test suite.
//!
//! On a cluster (`ClickHouse::cluster`) every statement runs `ON CLUSTER`: each table is a
//! `Replicated…MergeTree` named `<table>_local` on every node (replicas of a shard share its
//! ZooKeeper path, `{shard}` and `{replica}` from the nodes' macros) under a `Distributed`
//! table with the plain name, sharded by `cityHash64(project_id)` — a project's rows, and so a
//! whole trace, stay on one shard. Readers and writers use the plain names either way. A
//! block inserted again (a WAL replay cuts blocks at the same boundaries) is dropped by the
//! replicas' block deduplication, whose window is raised to 1,000 blocks per table.
//! `schema_migrations` is then one table replicated to every node.

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

/// Blocks per table whose hashes replicas keep to drop a block inserted again (ClickHouse's
/// default is 100; a WAL replay after a long outage can resend more than that).
const DEDUPLICATION_WINDOW: u32 = 1_000;

/// ` ON CLUSTER <name>`, or nothing on one server.
fn on_cluster(cluster: Option<&str>) -> String {
    cluster
        .map(|c| format!(" ON CLUSTER {c}"))
        .unwrap_or_default()
}

/// Where the tables live: the database, and the cluster if any.
#[derive(Debug, Clone, Copy)]
pub struct Placement<'a> {
    pub database: &'a str,
    pub cluster: Option<&'a str>,
}

fn create_table(
    at: Placement<'_>,
    spec: &TableSpec,
    caps: &ServerCaps,
    retention_days: u32,
) -> Vec<String> {
    let database = at.database;
    let name = spec.table.name();
    let local = match at.cluster {
        Some(_) => format!("{name}_local"),
        None => name.to_owned(),
    };
    let mut sql = format!(
        "CREATE TABLE IF NOT EXISTS {database}.{local}{} (\n",
        on_cluster(at.cluster)
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
    let engine = match at.cluster {
        Some(_) => format!(
            "Replicated{}('/clickhouse/tables/{{shard}}/{database}/{local}', '{{replica}}')",
            spec.engine
        ),
        None => spec.engine.to_owned(),
    };
    sql.push_str(&format!(
        "\n) ENGINE = {engine}\nPARTITION BY toDate(time)\nORDER BY ({})",
        spec.order_by
    ));
    if caps.ttl && retention_days > 0 {
        sql.push_str(&format!("\nTTL time + toIntervalDay({retention_days})"));
    }
    sql.push_str("\nSETTINGS index_granularity = 8192");
    match at.cluster {
        Some(_) => sql.push_str(&format!(
            ", replicated_deduplication_window = {DEDUPLICATION_WINDOW}"
        )),
        // Remember recent insert tokens so a replayed WAL batch is not stored twice.
        None if caps.dedup_token => sql.push_str(", non_replicated_deduplication_window = 10000"),
        None => {}
    }
    let mut statements = vec![sql];
    if let Some(cluster) = at.cluster {
        statements.push(format!(
            "CREATE TABLE IF NOT EXISTS {database}.{name} ON CLUSTER {cluster} AS {database}.{local} \
             ENGINE = Distributed({cluster}, {database}, {local}, cityHash64(project_id))"
        ));
    }
    statements
}

/// The statements of migration `version` for a server with `caps`: 1 creates the telemetry
/// tables, 2 the server-agent and incoming-request tables, 3 `monitor_results`.
fn migration(
    version: u32,
    at: Placement<'_>,
    caps: &ServerCaps,
    retention_days: u32,
) -> Vec<String> {
    TABLES
        .iter()
        .filter(|t| t.since == version)
        .flat_map(|t| create_table(at, t, caps, retention_days))
        .collect()
}

fn create_database(at: Placement<'_>) -> String {
    format!(
        "CREATE DATABASE IF NOT EXISTS {}{}",
        at.database,
        on_cluster(at.cluster)
    )
}

/// Every statement that creates the schema from nothing, in order (used by tests and docs).
pub fn create_statements(at: Placement<'_>, caps: &ServerCaps, retention_days: u32) -> Vec<String> {
    let mut out = vec![create_database(at), migrations_table(at)];
    for v in 1..=SCHEMA_VERSION {
        out.extend(migration(v, at, caps, retention_days));
    }
    out
}

/// The recorded migrations; on a cluster one table replicated to every node (all shards
/// share its path), so every node knows what was applied.
fn migrations_table(at: Placement<'_>) -> String {
    let database = at.database;
    let engine = match at.cluster {
        Some(_) => format!(
            "ReplicatedMergeTree('/clickhouse/tables/all/{database}/schema_migrations', '{{replica}}')"
        ),
        None => "MergeTree".to_owned(),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {database}.schema_migrations{} (version UInt32, applied_at DateTime) \
         ENGINE = {engine} ORDER BY version",
        on_cluster(at.cluster)
    )
}

/// Whether `name` may name a database or cluster in DDL (it is spliced in unquoted).
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
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
    let at = Placement {
        database,
        cluster: client.cluster(),
    };
    if !plain_name(database) || !at.cluster.is_none_or(plain_name) {
        return Err(ClickHouseError::Transport(
            "database and cluster names are letters, digits and `_`".into(),
        ));
    }
    let caps = ServerCaps::for_version(client.version().await?);
    client.query(&create_database(at)).await?;
    client.query(&migrations_table(at)).await?;
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
            for statement in migration(version, at, &caps, retention_days) {
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
        let one = Placement {
            database: "vigil",
            cluster: None,
        };
        let old = create_statements(one, &ServerCaps::for_version((18, 16)), 30);
        assert!(
            old.iter()
                .all(|s| !s.contains("CODEC") && !s.contains("TTL") && !s.contains("INDEX"))
        );
        let new = create_statements(one, &ServerCaps::for_version((26, 1)), 30);
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

    #[test]
    fn a_cluster_gets_replicated_local_tables_under_distributed_ones() {
        let at = Placement {
            database: "vigil",
            cluster: Some("c2x2"),
        };
        let all = create_statements(at, &ServerCaps::for_version((18, 16)), 0);
        assert!(
            all.iter().all(|s| s.contains(" ON CLUSTER c2x2")),
            "{all:?}"
        );
        let logs = all
            .iter()
            .find(|s| s.contains("vigil.logs_local ON CLUSTER"))
            .unwrap();
        assert!(
            logs.contains(
                "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/vigil/logs_local', '{replica}')"
            ),
            "{logs}"
        );
        assert!(logs.contains("replicated_deduplication_window = 1000"));
        assert!(all.iter().any(|s| s.contains(
            "vigil.logs ON CLUSTER c2x2 AS vigil.logs_local ENGINE = Distributed(c2x2, vigil, logs_local, cityHash64(project_id))"
        )));
        assert!(all.iter().any(|s| s.contains(
            "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/vigil/monitor_results_local'"
        )));
        assert!(all.iter().any(|s| s.contains(
            "schema_migrations ON CLUSTER c2x2 (version UInt32, applied_at DateTime) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/vigil/schema_migrations'"
        )));
    }
}
