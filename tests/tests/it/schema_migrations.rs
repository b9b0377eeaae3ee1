//! ClickHouse schema migrations started by several processes at once (engines and workers):
//! one applies each version, the others wait for it.

use ingest_engine::config::ClickHouseConfig;
use storage::client::ClickHouse;
use storage::schema;
use tests::{clickhouse, clickhouse_url, unique_name};

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_starters_apply_each_migration_once() {
    let database = unique_name("migrate");
    let config = ClickHouseConfig {
        url: clickhouse_url(),
        ..ClickHouseConfig::default()
    };
    let mut starters = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (client, database) = (ClickHouse::new(&config).unwrap(), database.clone());
        starters.spawn(async move { schema::ensure(&client, &database, 0).await.map(|_| ()) });
    }
    for started in starters.join_all().await {
        started.unwrap();
    }
    let versions = clickhouse(&format!(
        "SELECT version, count() FROM {database}.schema_migrations GROUP BY version \
         ORDER BY version FORMAT TabSeparated"
    ))
    .await;
    let expected: Vec<String> = (1..=schema::SCHEMA_VERSION)
        .map(|v| format!("{v}\t1"))
        .collect();
    assert_eq!(versions.lines().collect::<Vec<_>>(), expected);
    // The lock is released.
    let left = clickhouse(&format!("EXISTS TABLE {database}.schema_lock")).await;
    assert_eq!(left.trim(), "0");
}
