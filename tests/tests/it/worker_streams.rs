//! What reaches the worker through its streams: heartbeats and agent reports sent to the real
//! ingest engine (a missing heartbeat included), and redelivery — entries a dead consumer took,
//! and those a `vigil worker` killed with SIGKILL held, processed by another worker once.

use redis::AsyncCommands;
use reqwest::Method;
use serde_json::json;
use tests::control::TestWorker;
use tests::monitoring::{
    WAIT, create_monitor, down_and_up_once, engine_for, incidents, probe_result, redis, setup,
    status_becomes, status_id, timeline,
};
use tests::{clickhouse, redis_url, request, wait_until};

#[tokio::test(flavor = "multi_thread")]
async fn heartbeats_through_the_engine_keep_a_monitor_up_and_missing_ones_bring_it_down() {
    let (cp, admin, p) = setup().await;
    let worker = TestWorker::start(&cp, "hb", |_| {}).await;
    let engine = engine_for(&cp, &worker, "hbeng").await;
    let created = create_monitor(
        &cp,
        &admin,
        &p,
        json!({"name": "Nightly backup", "kind": "heartbeat", "interval_secs": 10}),
    )
    .await;
    let m = created["monitor"]["id"].as_str().unwrap().to_owned();
    let beat = engine.http_url(&format!("/heartbeat/{}", created["key"].as_str().unwrap()));
    let send = || async {
        request(
            Method::POST,
            beat.clone(),
            &[("content-type", "text/plain")],
            "backup ok",
        )
        .await
        .0
    };
    wait_until(WAIT, "the heartbeat key works", || async {
        (send().await == 200).then_some(())
    })
    .await;
    let path = format!("/api/v1/projects/{p}/monitors/{m}");
    wait_until(WAIT, "the heartbeat is seen", || async {
        let m = cp.ok(Method::GET, &path, &admin, None).await;
        m["last_push_at"].is_string().then_some(())
    })
    .await;
    let row = clickhouse(&format!(
        "SELECT source, is_online, visitParamExtractString(result, 'body') FROM {}.monitor_results \
         WHERE monitor_id = '{m}' FORMAT TabSeparated",
        worker.clickhouse_database
    ))
    .await;
    assert_eq!(row.trim(), "heartbeat\t1\tbackup ok");
    // No heartbeat for longer than the interval: offline, with an incident.
    status_becomes(&cp, &admin, &p, &m, "Offline").await;
    let open = incidents(&cp, &admin, &p, "?open=true").await;
    assert_eq!(open["items"][0]["title"], "Nightly backup is offline");
    let missing = clickhouse(&format!(
        "SELECT count() FROM {}.monitor_results WHERE monitor_id = '{m}' AND source = 'missing' \
         AND is_online = 0 AND criterion = 'Offline'",
        worker.clickhouse_database
    ))
    .await;
    assert!(missing.trim().parse::<u64>().unwrap() >= 1);
    // It beats again: up, the incident resolved.
    assert_eq!(send().await, 200);
    status_becomes(&cp, &admin, &p, &m, "Operational").await;
    let open = incidents(&cp, &admin, &p, "?open=true").await;
    assert_eq!(open["items"], json!([]));
    engine.stop().await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_a_dead_consumer_took_are_reclaimed_and_processed_once() {
    let (cp, admin, p) = setup().await;
    let m = create_monitor(
        &cp,
        &admin,
        &p,
        json!({"name": "API", "kind": "api",
                        "settings": {"url": "https://api.test/health", "method": "HEAD"}}),
    )
    .await["monitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let prefix = tests::unique_name("reclaim");
    let key = format!("{prefix}:probe_result");
    // After the monitor's creation (times are whole seconds).
    let t0 = chrono::Utc::now().timestamp() + 1;
    // 40 results: down for the first 20, up for the rest.
    for i in 0..40 {
        let result = json!({"is_online": i >= 20});
        probe_result(&key, &format!("e{i}"), &p, &m, t0 + i, result).await;
    }
    // A consumer of the group reads them all and dies without acknowledging.
    let mut conn = redis().await;
    let _: () = conn
        .xgroup_create_mkstream(&key, "vigil-worker", "0")
        .await
        .unwrap();
    let taken: redis::streams::StreamReadReply = conn
        .xread_options(
            &[&key],
            &[">"],
            &redis::streams::StreamReadOptions::default()
                .group("vigil-worker", "crashed")
                .count(100),
        )
        .await
        .unwrap();
    assert_eq!(taken.keys[0].ids.len(), 40);

    let worker = TestWorker::start(&cp, "rc", |w| {
        w.stream_prefix = format!("{prefix}:");
        w.reclaim_idle_ms = 1_000;
    })
    .await;
    let timeline_path = format!("/api/v1/projects/{p}/monitors/{m}/timeline");
    wait_until(WAIT, "down and up again", || async {
        let t = cp.ok(Method::GET, &timeline_path, &admin, None).await;
        (t["items"].as_array().unwrap().len() == 3).then_some(())
    })
    .await;
    let db = worker.clickhouse_database.clone();
    let count = |sql: String| async move { clickhouse(&sql).await.trim().parse::<u64>().unwrap() };
    wait_until(WAIT, "40 results stored", || {
        let sql = format!("SELECT count() FROM {db}.monitor_results WHERE monitor_id = '{m}'");
        async move { (count(sql).await == 40).then_some(()) }
    })
    .await;
    wait_until(WAIT, "nothing pending", || async {
        let pending: redis::streams::StreamPendingReply =
            redis().await.xpending(&key, "vigil-worker").await.unwrap();
        (pending.count() == 0).then_some(())
    })
    .await;
    // Once: one down and one up in the timeline, one incident opened and resolved.
    down_and_up_once(&cp, &admin, &p, &m).await;

    // Replayed (the ingest engine publishes at least once): nothing changes twice.
    probe_result(&key, "e5", &p, &m, t0 + 5, json!({"is_online": false})).await;
    probe_result(&key, "e40", &p, &m, t0 + 40, json!({"is_online": true})).await;
    wait_until(WAIT, "the replay processed", || {
        let sql =
            format!("SELECT count() FROM {db}.monitor_results FINAL WHERE monitor_id = '{m}'");
        async move { (count(sql).await == 41).then_some(()) }
    })
    .await;
    let again = timeline(&cp, &admin, &p, &m).await;
    assert_eq!(again["items"].as_array().unwrap().len(), 3);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_reports_through_the_engine_are_judged_by_their_metrics() {
    let (cp, admin, p) = setup().await;
    let degraded = status_id(&cp, &admin, &p, "Degraded").await;
    let worker = TestWorker::start(&cp, "ag", |_| {}).await;
    let engine = engine_for(&cp, &worker, "agent_eng").await;
    let created = create_monitor(
        &cp,
        &admin,
        &p,
        json!({"name": "db-1", "kind": "server", "criteria": [
                {"name": "Busy", "match": "any", "status_id": degraded, "filters": [
                    {"check": "cpu_percent", "op": "gt", "value": 90},
                    {"check": "disk_percent", "op": "gte", "value": 95}]}]}),
    )
    .await;
    let m = created["monitor"]["id"].as_str().unwrap().to_owned();
    let key = created["key"].as_str().unwrap().to_owned();
    let url = engine.http_url(&format!("/server-monitor/response/ingest/{key}"));
    let report = |cpu: f64| {
        json!({"serverMonitorResponse": {"secretKey": key, "hostname": "db-1",
            "basicInfrastructureMetrics": {"cpuMetrics": {"percentUsed": cpu},
                "memoryMetrics": {"percentUsed": 50.0},
                "diskMetrics": [{"diskPath": "/", "percentUsed": 40.0}]}}})
        .to_string()
    };
    let send = |cpu: f64| {
        let (url, body) = (url.clone(), report(cpu));
        async move {
            request(
                Method::POST,
                url,
                &[("content-type", "application/json")],
                body,
            )
            .await
            .0
        }
    };
    wait_until(WAIT, "the agent key works", || async {
        (send(37.5).await == 200).then_some(())
    })
    .await;
    assert_eq!(send(95.0).await, 200);
    status_becomes(&cp, &admin, &p, &m, "Degraded").await;
    let timeline = timeline(&cp, &admin, &p, &m).await;
    assert_eq!(timeline["items"][0]["reason"], "Busy");
    let rows = clickhouse(&format!(
        "SELECT source, criterion, visitParamExtractFloat(result, 'cpu_percent') \
         FROM {}.monitor_results FINAL WHERE monitor_id = '{m}' ORDER BY time_unix_nano \
         FORMAT TabSeparated",
        worker.clickhouse_database
    ))
    .await;
    let rows: Vec<&str> = rows.lines().collect();
    assert_eq!(rows.last(), Some(&"server\tBusy\t95"), "{rows:?}");
    assert!(
        rows[..rows.len() - 1]
            .iter()
            .all(|r| *r == "server\t\t37.5"),
        "{rows:?}"
    );
    // Back to normal load: the default status again.
    assert_eq!(send(20.0).await, 200);
    status_becomes(&cp, &admin, &p, &m, "Operational").await;
    engine.stop().await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_batch_leaves_its_entries_to_another_that_processes_them_once() {
    let (cp, admin, p) = setup().await;
    let m = create_monitor(
        &cp,
        &admin,
        &p,
        json!({"name": "API", "kind": "tcp", "settings": {"host": "db", "port": 5432}}),
    )
    .await["monitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let prefix = tests::unique_name("kill");
    let key = format!("{prefix}:probe_result");
    let db = tests::unique_name("killdb");
    let total = 3000;
    // Down for the first half, up for the rest.
    let t0 = chrono::Utc::now().timestamp() + 1;
    let mut pipe = redis::pipe();
    for i in 0..total {
        let nanos = ((t0 + i) * 1_000_000_000).to_string();
        let result = json!({"is_online": i >= total / 2}).to_string();
        pipe.xadd(
            &key,
            "*",
            &[
                ("event_id", format!("k{i}").as_str()),
                ("project_id", &p),
                ("monitor_id", &m),
                ("probe_id", "00000000-0000-4000-8000-000000000001"),
                ("checked_at_unix_nano", &nanos),
                ("result", &result),
            ],
        )
        .ignore();
    }
    let mut conn = redis().await;
    let _: () = pipe.query_async(&mut conn).await.unwrap();

    // A real worker process, killed with SIGKILL while it holds an unacknowledged batch.
    let mut doomed = tokio::process::Command::new(tests::required_env("VIGIL_TEST_VIGIL_BIN"))
        .arg("worker")
        .env("VIGIL_DATABASE_URL", &cp.database_url)
        .env("VIGIL_REDIS_URL", redis_url())
        .env("VIGIL_REDIS_STREAM_PREFIX", format!("{prefix}:"))
        .env("VIGIL_CLICKHOUSE_URL", tests::clickhouse_url())
        .env("VIGIL_CLICKHOUSE_DATABASE", &db)
        .env("VIGIL_WORKER_NAME", "doomed")
        .env("VIGIL_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("the vigil binary runs");
    let pending = || async {
        let reply: redis::streams::StreamPendingReply = redis()
            .await
            .xpending(&key, "vigil-worker")
            .await
            .unwrap_or_default();
        reply.count()
    };
    wait_until(WAIT, "the worker holds a batch", || async {
        (pending().await > 0).then_some(())
    })
    .await;
    doomed.start_kill().unwrap();
    doomed.wait().await.unwrap();
    let left = pending().await;
    assert!(left > 0, "the killed worker left nothing pending");

    let heir = TestWorker::start(&cp, "heir", |w| {
        w.stream_prefix = format!("{prefix}:");
        w.clickhouse_database = db.clone();
        w.reclaim_idle_ms = 1_000;
    })
    .await;
    wait_until(WAIT, "every result stored", || async {
        let sql = format!("SELECT count() FROM {db}.monitor_results FINAL");
        (clickhouse(&sql).await.trim() == total.to_string()).then_some(())
    })
    .await;
    wait_until(WAIT, "nothing pending", || async {
        (pending().await == 0).then_some(())
    })
    .await;
    // Once: one result per event id, one way down and one way up, one incident.
    let distinct = clickhouse(&format!(
        "SELECT uniqExact(event_id) FROM {db}.monitor_results"
    ))
    .await;
    assert_eq!(distinct.trim(), total.to_string());
    down_and_up_once(&cp, &admin, &p, &m).await;
    heir.stop().await;
}
