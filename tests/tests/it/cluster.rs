//! Vigil on a ClickHouse cluster — four ClickHouse 18.16 servers as 2 shards × 2 replicas with
//! ZooKeeper, started by the test command (`stack.sh cluster-start`) — through the real
//! `vigil-ingest` binary with `VIGIL_CLICKHOUSE_CLUSTER`: killed with SIGKILL under load and
//! restarted, every acknowledged record is stored and the WAL's replay is not stored twice
//! (the replicas' block deduplication); with one replica stopped under load nothing is lost and
//! the replica catches up when it is back; a project's rows all live on one shard. The
//! worker's retention drops old days from every shard and replica. Two workers in one consumer
//! group, writing through different nodes, share the streams and process each entry once.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::json;
use tests::control::TestWorker;
use tests::monitoring::{create_monitor, incidents, redis, setup};

use tests::load::{LogLoad, audit};
use tests::process::EngineProcess;
use tests::{
    clickhouse_at as query, cluster, repo_root, required_env, test_dir, unique_name, wait_until,
};

const PER_REQUEST: usize = 20;

/// Stops or starts node `n` (1–4) with the test command's stack script.
async fn node(action: &str, n: usize) {
    let status = tokio::process::Command::new(repo_root().join("deploy/local/stack.sh"))
        .args(["cluster-node", action])
        .arg(required_env("VIGIL_TEST_CLUSTER_DIR"))
        .arg(n.to_string())
        .status()
        .await
        .expect("stack.sh runs");
    assert!(status.success(), "cluster-node {action} {n}");
}

/// Waits until every acknowledged record is readable through the Distributed table; the
/// number of duplicate rows.
async fn stored(url: &str, database: &str, acked: &[String]) -> u64 {
    assert!(!acked.is_empty(), "the load got no acknowledgement at all");
    wait_until(
        Duration::from_secs(90),
        "every acknowledged record in the cluster",
        || async {
            let a = audit(url, database, acked, PER_REQUEST).await;
            a.missing.is_empty().then_some(a.duplicates)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cluster_stores_every_record_once_through_a_kill_and_a_replica_outage() {
    // It stops a replica: no other test may use the cluster meanwhile.
    let _alone = tests::cluster_alone().await;
    let (name, urls) = cluster();
    let database = unique_name("cluster");
    let wal = test_dir(&database);
    // A long batch age keeps acknowledged data unflushed at the moment of the kill.
    let env = [
        ("VIGIL_BATCH_MAX_AGE_MS", "1500"),
        ("VIGIL_CLICKHOUSE_CLUSTER", name.as_str()),
    ];
    let first = EngineProcess::start(&urls[0], &database, &wal, &env).await;
    // The schema was made on every node: replicated local tables, Distributed ones on top.
    for url in &urls {
        let engines = query(
            url,
            &format!(
                "SELECT name, engine FROM system.tables WHERE database = '{database}' \
                 AND name IN ('logs', 'logs_local', 'monitor_results_local') ORDER BY name \
                 FORMAT TabSeparated"
            ),
        )
        .await;
        assert_eq!(
            engines,
            "logs\tDistributed\nlogs_local\tReplicatedMergeTree\n\
             monitor_results_local\tReplicatedReplacingMergeTree",
            "{url}"
        );
    }

    // SIGKILL under load, then a restart: everything acknowledged arrives, once.
    let load = LogLoad::start(&first.http, "k9", 4, PER_REQUEST);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.kill_9().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let killed = load.finish().await;
    let second = EngineProcess::start(&urls[0], &database, &wal, &env).await;
    let duplicates = stored(&urls[0], &database, &killed.acked).await;
    assert_eq!(
        duplicates, 0,
        "the WAL's replay is deduplicated by the replicas"
    );
    let replayed = tests::metric(
        &second.metrics().await,
        "vigil_ingest_wal_replayed_rows_total{table=\"logs\"}",
    );
    eprintln!(
        "cluster kill -9: {} requests acknowledged, all stored once; {replayed} rows replayed",
        killed.acked.len()
    );

    // One replica stopped under load: nothing is lost, and it catches up once back.
    node("stop", 2).await;
    let load = LogLoad::start(&second.http, "replica", 4, PER_REQUEST);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let during = load.finish().await;
    assert!(during.transport_errors == 0, "the engine kept answering");
    let duplicates = stored(&urls[0], &database, &during.acked).await;
    assert_eq!(duplicates, 0);
    node("start", 2).await;
    let total = query(&urls[0], &format!("SELECT count() FROM {database}.logs")).await;
    let locals = |url: String| {
        let database = database.clone();
        async move { query(&url, &format!("SELECT count() FROM {database}.logs_local")).await }
    };
    // The project's rows are all on one shard, on both of its replicas.
    let counts = wait_until(
        Duration::from_secs(60),
        "the replica to catch up",
        || async {
            let mut counts = Vec::new();
            for url in &urls {
                counts.push(locals(url.clone()).await);
            }
            (counts[0] == counts[1] && counts[2] == counts[3]).then_some(counts)
        },
    )
    .await;
    let per_shard = [counts[0].as_str(), counts[2].as_str()];
    assert!(
        per_shard == [total.as_str(), "0"] || per_shard == ["0", total.as_str()],
        "one shard holds the project: {counts:?} of {total}"
    );
    second.terminate().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_workers_retention_drops_old_days_on_every_shard_and_replica() {
    let _shared = tests::cluster_shared().await;
    let (name, urls) = cluster();
    let cp = tests::control::ControlPlane::start(|_| {}).await;
    let (node1, cluster_name) = (urls[0].clone(), name.clone());
    let worker = tests::control::TestWorker::start(&cp, "cluster_retention", move |w| {
        w.clickhouse_url = node1;
        w.clickhouse_cluster = cluster_name;
        w.retention_days = 7;
    })
    .await;
    let db = worker.clickhouse_database.clone();
    // The worker made the schema on the cluster; rows of several projects land on both shards.
    wait_until(Duration::from_secs(60), "the worker's schema", || async {
        tests::schema_ready_at(&urls[3], &db).await.then_some(())
    })
    .await;
    let rows: Vec<String> = (0..8)
        .flat_map(|i| {
            [
                format!("('p{i}', 'm', now() - 30 * 86400, 0, 'old-{i}')"),
                format!("('p{i}', 'm', now(), 0, 'new-{i}')"),
            ]
        })
        .collect();
    query(
        &format!("{}/?insert_distributed_sync=1", urls[2]),
        &format!(
            "INSERT INTO {db}.monitor_results (project_id, monitor_id, time, time_unix_nano, \
             event_id) VALUES {}",
            rows.join(", ")
        ),
    )
    .await;
    wait_until(Duration::from_secs(60), "old days dropped everywhere", || async {
        for url in &urls {
            let old = query(
                url,
                &format!(
                    "SELECT count() FROM {db}.monitor_results_local WHERE startsWith(event_id, 'old')"
                ),
            )
            .await;
            if old != "0" {
                return None;
            }
        }
        Some(())
    })
    .await;
    let kept = query(
        &urls[1],
        &format!("SELECT count() FROM {db}.monitor_results WHERE startsWith(event_id, 'new')"),
    )
    .await;
    assert_eq!(kept, "8", "today's rows stay");
    // Both shards held some of the rows (eight projects), so both were pruned.
    let mut counts = Vec::new();
    for url in [&urls[0], &urls[2]] {
        counts.push(
            query(
                url,
                &format!("SELECT count() FROM {db}.monitor_results_local"),
            )
            .await,
        );
    }
    assert!(counts.iter().all(|c| c != "0"), "{counts:?}");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_share_the_streams_and_process_each_entry_once() {
    let _shared = tests::cluster_shared().await;
    let (name, urls) = cluster();
    let (cp, admin, p) = setup().await;
    let mut monitors = Vec::new();
    for i in 0..8 {
        let body = json!({"name": format!("API {i}"), "kind": "tcp",
                          "settings": {"host": "db", "port": 5432}});
        let created = create_monitor(&cp, &admin, &p, body).await;
        monitors.push(created["monitor"]["id"].as_str().unwrap().to_owned());
    }
    // Two workers on the same streams and database, through different nodes, starting (and
    // migrating the schema) at once; small batches, so that both hold entries at a time.
    let prefix = format!("{}:", unique_name("share"));
    let db = unique_name("sharedb");
    let worker = |label: &'static str, url: String| {
        let (prefix, db, name) = (prefix.clone(), db.clone(), name.clone());
        TestWorker::start(&cp, label, move |w| {
            w.stream_prefix = prefix;
            w.clickhouse_database = db;
            w.clickhouse_url = url;
            w.clickhouse_cluster = name;
            w.batch_size = 50;
        })
    };
    let (one, two) = tokio::join!(
        worker("share_one", urls[0].clone()),
        worker("share_two", urls[2].clone())
    );
    // 4000 results, 500 per monitor, every one of them offline.
    let key = format!("{prefix}probe_result");
    let total = 4000;
    let t0 = chrono::Utc::now().timestamp() + 1;
    let mut pipe = redis::pipe();
    for i in 0..total {
        let nanos = ((t0 + i / 8) * 1_000_000_000).to_string();
        pipe.xadd(
            &key,
            "*",
            &[
                ("event_id", format!("s{i}").as_str()),
                ("project_id", &p),
                ("monitor_id", &monitors[(i % 8) as usize]),
                ("probe_id", tests::monitoring::FIXTURE_PROBE),
                ("checked_at_unix_nano", &nanos),
                ("result", &json!({"is_online": false}).to_string()),
            ],
        )
        .ignore();
    }
    let mut conn = redis().await;
    let _: () = pipe.query_async(&mut conn).await.unwrap();

    // Which consumers hold entries, sampled until every result is stored.
    let mut holders = HashSet::new();
    let count = format!("SELECT count(), uniqExact(event_id) FROM {db}.monitor_results");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut sampled = 0u32;
    loop {
        let reply: redis::streams::StreamPendingReply =
            redis::AsyncCommands::xpending(&mut conn, &key, "vigil-worker")
                .await
                .unwrap_or_default();
        if let redis::streams::StreamPendingReply::Data(data) = reply {
            holders.extend(
                data.consumers
                    .into_iter()
                    .filter(|c| c.pending > 0)
                    .map(|c| c.name),
            );
        }
        sampled += 1;
        // Read through a node neither worker wrote to, now and then.
        if sampled.is_multiple_of(25)
            && query(&urls[3], &count).await == format!("{total}\t{total}")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "every result stored once: {}",
            query(&urls[3], &count).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(holders.len(), 2, "both workers took entries: {holders:?}");
    // Each monitor went offline once: one incident each, however the entries were split.
    wait_until(Duration::from_secs(30), "nothing pending", || async {
        let reply: redis::streams::StreamPendingReply =
            redis::AsyncCommands::xpending(&mut redis().await, &key, "vigil-worker")
                .await
                .unwrap_or_default();
        (reply.count() == 0).then_some(())
    })
    .await;
    let open = incidents(&cp, &admin, &p, "?open=true").await;
    let mut opened: Vec<String> = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["monitor_ids"][0].as_str().unwrap().to_owned())
        .collect();
    opened.sort();
    monitors.sort();
    assert_eq!(opened, monitors);
    one.stop().await;
    two.stop().await;
}
