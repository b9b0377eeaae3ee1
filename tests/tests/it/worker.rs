//! The worker against real Redis, PostgreSQL and ClickHouse: results in → status timeline,
//! incident opened, notifications delivered (a local HTTP server for webhooks and Slack, aiosmtpd
//! for mail), recovery → incident resolved; heartbeats and agent reports through the real ingest
//! engine, and a missing heartbeat; poison entries dead-lettered; a killed worker's entries
//! processed once; and the whole chain with a running probe — a website checked, its outage
//! opening an incident and a webhook, assignment changes and restarts of the ingest engine and
//! the control plane survived.

use std::time::Duration;

use hmac::{Hmac, Mac};
use ingest_engine::config::Secret;
use redis::AsyncCommands;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use tests::control::{Auth, ControlPlane, TestWorker, accounts};
use tests::receiver::{HttpReceiver, SmtpReceiver, json as body_json};
use tests::{TestEngine, clickhouse, redis_url, request, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// A control plane with its instance admin and one project.
async fn setup() -> (ControlPlane, Auth, String) {
    let cp = ControlPlane::start(|_| {}).await;
    let admin = accounts(&cp, &[]).await;
    let p = project(&cp, &admin).await;
    (cp, admin, p)
}

/// An ingest engine reading the control plane's keys and publishing to `worker`'s streams.
async fn engine_for(cp: &ControlPlane, worker: &TestWorker, label: &str) -> TestEngine {
    let (database_url, prefix) = (cp.database_url.clone(), worker.stream_prefix.clone());
    TestEngine::start_with(label, |c| {
        c.keys.database_url = Secret(database_url);
        c.redis.stream_prefix = prefix;
    })
    .await
}

/// The id of the project's status named `name`.
async fn status_id(cp: &ControlPlane, auth: &Auth, project: &str, name: &str) -> Value {
    let path = format!("/api/v1/projects/{project}/monitor-statuses");
    let statuses = cp.ok(Method::GET, &path, auth, None).await;
    statuses["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()["id"]
        .clone()
}

/// The monitor went down and up once: its timeline, and one incident opened and resolved.
async fn down_and_up_once(cp: &ControlPlane, admin: &Auth, p: &str, m: &str) {
    let path = format!("/api/v1/projects/{p}/monitors/{m}/timeline");
    let timeline = cp.ok(Method::GET, &path, admin, None).await;
    let reasons: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["no criteria met", "Offline", "created"]);
    let path = format!("/api/v1/projects/{p}/incidents");
    let incidents = cp.ok(Method::GET, &path, admin, None).await;
    assert_eq!(incidents["items"].as_array().unwrap().len(), 1);
    assert_eq!(incidents["items"][0]["state_kind"], "resolved");
}

async fn project(cp: &ControlPlane, admin: &Auth) -> String {
    cp.ok(
        Method::POST,
        "/api/v1/projects",
        admin,
        Some(json!({"name": "shop"})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Appends a probe result as the ingest engine publishes it.
async fn probe_result(
    key: &str,
    event_id: &str,
    project: &str,
    monitor: &str,
    at_secs: i64,
    result: Value,
) {
    let mut conn = redis().await;
    let probe = "00000000-0000-4000-8000-000000000001";
    let nanos = (at_secs * 1_000_000_000).to_string();
    let _: String = conn
        .xadd(
            key,
            "*",
            &[
                ("event_id", event_id),
                ("project_id", project),
                ("monitor_id", monitor),
                ("probe_id", probe),
                ("checked_at_unix_nano", &nanos),
                ("result", &result.to_string()),
            ],
        )
        .await
        .unwrap();
}

/// Waits until the monitor's current status is the one named `status`.
async fn status_becomes(
    cp: &ControlPlane,
    auth: &Auth,
    project: &str,
    monitor: &str,
    status: &str,
) {
    let want = status_id(cp, auth, project, status).await;
    let path = format!("/api/v1/projects/{project}/monitors/{monitor}");
    wait_until(WAIT, &format!("monitor {status}"), || async {
        let m = cp.ok(Method::GET, &path, auth, None).await;
        (m["current_status_id"] == want).then_some(())
    })
    .await;
}

fn verify_signature(r: &tests::receiver::Received, secret: &str) {
    let timestamp = r.headers["x-vigil-timestamp"].to_str().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&r.body);
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        r.headers["x-vigil-signature"].to_str().unwrap(),
        format!("sha256={want}")
    );
}

fn events(received: &[tests::receiver::Received]) -> Vec<String> {
    let mut e: Vec<String> = received
        .iter()
        .map(|r| body_json(r)["event"].as_str().unwrap().to_owned())
        .collect();
    e.sort();
    e
}

#[tokio::test(flavor = "multi_thread")]
async fn results_become_timeline_incidents_and_notifications_and_recovery_resolves() {
    let (cp, admin, p) = setup().await;
    // Every path's first request fails: deliveries are retried.
    let http = HttpReceiver::start(1).await;
    let smtp = SmtpReceiver::start().await;
    let channels = format!("/api/v1/projects/{p}/notification-channels");
    let hook = cp
        .answer(
            StatusCode::CREATED,
            Method::POST,
            &channels,
            &admin,
            Some(json!({"name": "hook", "kind": "webhook",
                        "settings": {"url": format!("{}/hook", http.base)}})),
        )
        .await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        hook["channel"]["settings"],
        json!({"url": format!("{}/hook", http.base)})
    );
    cp.ok(
        Method::POST,
        &channels,
        &admin,
        Some(json!({"name": "slack", "kind": "slack",
                    "settings": {"url": format!("{}/slack", http.base)}})),
    )
    .await;
    cp.ok(
        Method::POST,
        &channels,
        &admin,
        Some(json!({"name": "mail", "kind": "email", "settings": {
            "host": "127.0.0.1", "port": smtp.port, "security": "none",
            "from": "vigil@ops.test", "to": ["oncall@ops.test"]}})),
    )
    .await;
    let monitor = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/monitors"),
            &admin,
            Some(json!({"name": "Shop", "kind": "http", "settings": {"url": "https://shop.test"}})),
        )
        .await;
    let m = monitor["monitor"]["id"].as_str().unwrap().to_owned();
    let worker = TestWorker::start(&cp, "wk", |_| {}).await;
    let key = format!("{}probe_result", worker.stream_prefix);
    let t0 = chrono::Utc::now().timestamp();

    // Up, then down: one change, one incident, notifications on every channel.
    probe_result(
        &key,
        "r1",
        &p,
        &m,
        t0,
        json!({"is_online": true, "status_code": 200, "response_time_ms": 12.5}),
    )
    .await;
    probe_result(
        &key,
        "r2",
        &p,
        &m,
        t0 + 1,
        json!({"is_online": false, "error": "connect refused"}),
    )
    .await;
    status_becomes(&cp, &admin, &p, &m, "Offline").await;
    let timeline = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/monitors/{m}/timeline"),
            &admin,
            None,
        )
        .await;
    let entries = timeline["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{timeline}");
    assert_eq!(entries[0]["status_name"], "Offline");
    assert_eq!(entries[0]["reason"], "Offline");
    assert_eq!(entries[0]["ends_at"], Value::Null);
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(entries[0]["starts_at"].as_str().unwrap())
            .unwrap()
            .timestamp(),
        t0 + 1
    );
    assert_eq!(entries[1]["status_name"], "Operational");
    assert_eq!(entries[1]["ends_at"], entries[0]["starts_at"]);
    let open = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incidents?open=true"),
            &admin,
            None,
        )
        .await;
    let incidents = open["items"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{open}");
    let incident = &incidents[0];
    assert_eq!(incident["title"], "Shop is offline");
    assert_eq!(incident["number"], 1);
    assert_eq!(incident["severity"]["name"], "Critical");
    assert_eq!(incident["state_kind"], "created");
    assert_eq!(incident["monitor_ids"], json!([m]));
    assert_eq!(incident["source_criterion"], "Offline");
    let incident_id = incident["id"].as_str().unwrap().to_owned();

    let got = http.wait_for("/hook", 2, WAIT).await;
    assert_eq!(events(&got), ["incident.opened", "monitor.status_changed"]);
    for r in &got {
        verify_signature(r, &secret);
        assert_eq!(r.headers["content-type"], "application/json");
    }
    let opened = got
        .iter()
        .map(body_json)
        .find(|b| b["event"] == "incident.opened")
        .unwrap();
    assert_eq!(opened["incident"]["id"], incident_id.as_str());
    assert_eq!(opened["incident"]["title"], "Shop is offline");
    assert_eq!(opened["project_id"], p.as_str());
    let changed = got
        .iter()
        .map(body_json)
        .find(|b| b["event"] == "monitor.status_changed")
        .unwrap();
    assert_eq!(changed["status"]["name"], "Offline");
    assert_eq!(changed["previous_status"]["name"], "Operational");
    assert_eq!(changed["monitor"]["name"], "Shop");
    let slack = http.wait_for("/slack", 2, WAIT).await;
    let mut texts: Vec<String> = slack
        .iter()
        .map(|r| body_json(r)["text"].as_str().unwrap().to_owned())
        .collect();
    texts.sort();
    assert_eq!(
        texts,
        [
            "Shop is Offline",
            "[Critical] Incident #1 opened: Shop is offline"
        ]
    );
    let mails = smtp.wait_for(2, WAIT).await;
    assert!(mails.iter().all(|m| m["to"] == json!(["oncall@ops.test"])));
    assert!(
        mails.iter().any(|m| m["data"]
            .as_str()
            .unwrap()
            .contains("Subject: [Critical] Incident #1 opened: Shop is offline")),
        "{mails:?}"
    );

    // Acknowledged by a person: recorded and notified.
    let acked = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/incidents/{incident_id}/acknowledge"),
            &admin,
            None,
        )
        .await;
    assert_eq!(acked["state_kind"], "acknowledged");
    let me = cp.ok(Method::GET, "/api/v1/me", &admin, None).await;
    assert_eq!(acked["acknowledged_by"], me["id"]);

    // Recovery: back to operational, the incident resolved by itself.
    // After the acknowledgement (times are whole seconds).
    let t3 = chrono::Utc::now().timestamp() + 1;
    probe_result(
        &key,
        "r3",
        &p,
        &m,
        t3,
        json!({"is_online": true, "status_code": 200}),
    )
    .await;
    status_becomes(&cp, &admin, &p, &m, "Operational").await;
    let detail = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incidents/{incident_id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(detail["state_kind"], "resolved");
    assert!(detail["resolved_at"].is_string());
    let states: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["Created", "Acknowledged", "Resolved"]);
    let got = http.wait_for("/hook", 5, WAIT).await;
    assert_eq!(
        events(&got),
        [
            "incident.acknowledged",
            "incident.opened",
            "incident.resolved",
            "monitor.status_changed",
            "monitor.status_changed"
        ]
    );
    // Each delivered once (the failed first attempt was retried, not repeated after success).
    let mut ids: Vec<&str> = got
        .iter()
        .map(|r| r.headers["x-vigil-delivery"].to_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    assert_eq!(http.attempts("/hook"), 6);

    // Every result is a row in ClickHouse with the status its criteria gave.
    let rows = clickhouse(&format!(
        "SELECT event_id, source, is_online, status_code, criterion, error \
         FROM {}.monitor_results FINAL WHERE monitor_id = '{m}' ORDER BY time FORMAT TabSeparated",
        worker.clickhouse_database
    ))
    .await;
    assert_eq!(
        rows.lines().collect::<Vec<_>>(),
        [
            "r1\tprobe\t1\t200\t\t",
            "r2\tprobe\t0\t0\tOffline\tconnect refused",
            "r3\tprobe\t1\t200\t\t"
        ]
    );

    // An entry that is not a result goes to the dead-letter stream with the reason.
    let mut conn = redis().await;
    let _: String = conn
        .xadd(&key, "*", &[("event_id", "bad"), ("project_id", "nope")])
        .await
        .unwrap();
    let dead = wait_until(WAIT, "a dead-lettered entry", || {
        let key = format!("{key}:dead");
        async move {
            let entries = tests::redis_stream(&redis_url(), &key).await;
            (!entries.is_empty()).then_some(entries)
        }
    })
    .await;
    assert!(dead[0]["dead_reason"].contains("UUID"), "{dead:?}");
    assert_eq!(dead[0]["event_id"], "bad");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn heartbeats_through_the_engine_keep_a_monitor_up_and_missing_ones_bring_it_down() {
    let (cp, admin, p) = setup().await;
    let worker = TestWorker::start(&cp, "hb", |_| {}).await;
    let engine = engine_for(&cp, &worker, "hbeng").await;
    let created = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/monitors"),
            &admin,
            Some(json!({"name": "Nightly backup", "kind": "heartbeat", "interval_secs": 10})),
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
    let open = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incidents?open=true"),
            &admin,
            None,
        )
        .await;
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
    let open = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incidents?open=true"),
            &admin,
            None,
        )
        .await;
    assert_eq!(open["items"], json!([]));
    engine.stop().await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_a_dead_consumer_took_are_reclaimed_and_processed_once() {
    let (cp, admin, p) = setup().await;
    let m = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/monitors"),
            &admin,
            Some(json!({"name": "API", "kind": "api",
                        "settings": {"url": "https://api.test/health", "method": "HEAD"}})),
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
    let again = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/monitors/{m}/timeline"),
            &admin,
            None,
        )
        .await;
    assert_eq!(again["items"].as_array().unwrap().len(), 3);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_maintenance_window_suppresses_incidents_but_not_statuses() {
    let (cp, admin, p) = setup().await;
    let mut ids = Vec::new();
    for name in ["In maintenance", "Not covered"] {
        let m = cp
            .ok(
                Method::POST,
                &format!("/api/v1/projects/{p}/monitors"),
                &admin,
                Some(
                    json!({"name": name, "kind": "tcp", "settings": {"host": "db", "port": 5432}}),
                ),
            )
            .await;
        ids.push(m["monitor"]["id"].as_str().unwrap().to_owned());
    }
    let now = chrono::Utc::now();
    cp.ok(
        Method::POST,
        &format!("/api/v1/projects/{p}/maintenance-windows"),
        &admin,
        Some(
            json!({"title": "db upgrade", "starts_at": now - chrono::Duration::hours(1),
                    "ends_at": now + chrono::Duration::hours(1), "monitor_ids": [ids[0]]}),
        ),
    )
    .await;
    let worker = TestWorker::start(&cp, "mw", |_| {}).await;
    let key = format!("{}probe_result", worker.stream_prefix);
    let t = now.timestamp() + 1;
    for (i, m) in ids.iter().enumerate() {
        probe_result(
            &key,
            &format!("d{i}"),
            &p,
            m,
            t,
            json!({"is_online": false}),
        )
        .await;
    }
    for m in &ids {
        status_becomes(&cp, &admin, &p, m, "Offline").await;
    }
    let open = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incidents?open=true"),
            &admin,
            None,
        )
        .await;
    let titles: Vec<&str> = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Not covered is offline"]);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_reports_through_the_engine_are_judged_by_their_metrics() {
    let (cp, admin, p) = setup().await;
    let degraded = status_id(&cp, &admin, &p, "Degraded").await;
    let worker = TestWorker::start(&cp, "ag", |_| {}).await;
    let engine = engine_for(&cp, &worker, "agent_eng").await;
    let created = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/monitors"),
            &admin,
            Some(json!({"name": "db-1", "kind": "server", "criteria": [
                {"name": "Busy", "match": "any", "status_id": degraded, "filters": [
                    {"check": "cpu_percent", "op": "gt", "value": 90},
                    {"check": "disk_percent", "op": "gte", "value": 95}]}]})),
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
    let timeline = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/monitors/{m}/timeline"),
            &admin,
            None,
        )
        .await;
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
async fn periodic_jobs_mark_silent_probes_offline_and_drop_old_partitions() {
    let (cp, admin, p) = setup().await;
    let probes = format!("/api/v1/projects/{p}/probes");
    let key = cp
        .ok(Method::POST, &probes, &admin, Some(json!({"name": "edge"})))
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let poll = reqwest::Client::new()
        .get(format!("{}/api/v1/probe/assignments", cp.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(poll.status(), StatusCode::OK);
    let listed = cp.ok(Method::GET, &probes, &admin, None).await;
    assert_eq!(listed["items"][0]["is_online"], true);
    let worker = TestWorker::start(&cp, "jobs", |w| {
        w.probe_offline_secs = 2;
        w.retention_days = 7;
    })
    .await;
    let db = worker.clickhouse_database.clone();
    wait_until(WAIT, "the worker's schema", || async {
        let sql = format!(
            "SELECT count() FROM system.tables WHERE database = '{db}' AND name = 'monitor_results'"
        );
        (clickhouse(&sql).await.trim() == "1").then_some(())
    })
    .await;
    // A row 30 days old and one of today, in their daily partitions.
    clickhouse(&format!(
        "INSERT INTO {db}.monitor_results (project_id, monitor_id, time, time_unix_nano, event_id) \
         VALUES ('{p}', 'm', now() - 30 * 86400, 0, 'old'), ('{p}', 'm', now(), 0, 'new')"
    ))
    .await;
    wait_until(WAIT, "the old partition dropped", || async {
        let sql = format!("SELECT event_id FROM {db}.monitor_results ORDER BY event_id");
        (clickhouse(&sql).await.trim() == "new").then_some(())
    })
    .await;
    wait_until(WAIT, "the silent probe offline", || async {
        let listed = cp.ok(Method::GET, &probes, &admin, None).await;
        (listed["items"][0]["is_online"] == false).then_some(())
    })
    .await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_batch_leaves_its_entries_to_another_that_processes_them_once() {
    let (cp, admin, p) = setup().await;
    let m = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/monitors"),
            &admin,
            Some(json!({"name": "API", "kind": "tcp", "settings": {"host": "db", "port": 5432}})),
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

/// Sends `batch` to the engine's `ProbeResults/Report` with the probe's `key`, as a probe does.
async fn report(
    engine: &TestEngine,
    key: &str,
    batch: proto::probe::ResultBatch,
) -> Result<u32, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", engine.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.unwrap();
    let mut request = tonic::Request::new(batch);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(proto::probe::REPORT);
    let codec = tonic_prost::ProstCodec::<_, proto::probe::ReportReply>::default();
    client
        .unary(request, path, codec)
        .await
        .map(|r| r.into_inner().accepted)
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_results_sent_over_grpc_reach_the_worker_through_the_engine() {
    let (cp, admin, p) = setup().await;
    let probe = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/probes"),
            &admin,
            Some(json!({"name": "eu"})),
        )
        .await;
    let key = probe["key"].as_str().unwrap().to_owned();
    let probe_id = probe["probe"]["id"].as_str().unwrap().to_owned();
    let m = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/monitors"),
            &admin,
            Some(
                json!({"name": "Shop", "kind": "http", "probe_ids": [probe_id],
                        "settings": {"url": "https://shop.test"}}),
            ),
        )
        .await["monitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let worker = TestWorker::start(&cp, "pr", |_| {}).await;
    let engine = engine_for(&cp, &worker, "pr_eng").await;
    let t0 = (chrono::Utc::now().timestamp() as u64 + 1) * 1_000_000_000;
    let result = |id: &str, at: u64, online: bool| proto::probe::CheckResult {
        id: id.into(),
        monitor_id: m.clone(),
        checked_at_unix_nano: at,
        is_online: online,
        status_code: online.then_some(200),
        response_time_ms: Some(31.5),
        error: (!online).then(|| "connection refused".into()),
        failed_phase: (!online).then(|| "connect".into()),
        details_json: r#"{"timings": {"dns_ms": 0.4, "connect_ms": 0.2}}"#.into(),
        ..Default::default()
    };
    // The key reaches the engine within seconds; then a batch is taken whole.
    let batch = proto::probe::ResultBatch {
        results: vec![
            result("r1", t0, true),
            result("r2", t0 + 1_000_000_000, false),
        ],
    };
    let accepted = wait_until(WAIT, "the probe key works", || {
        let batch = batch.clone();
        let engine = &engine;
        let key = key.clone();
        async move { report(engine, &key, batch).await.ok() }
    })
    .await;
    assert_eq!(accepted, 2);
    status_becomes(&cp, &admin, &p, &m, "Offline").await;
    let rows = clickhouse(&format!(
        "SELECT event_id, probe_id, is_online, error, criterion, \
         visitParamExtractString(result, 'failed_phase') \
         FROM {}.monitor_results FINAL WHERE monitor_id = '{m}' ORDER BY time FORMAT TabSeparated",
        worker.clickhouse_database
    ))
    .await;
    assert_eq!(
        rows.lines().collect::<Vec<_>>(),
        [
            format!("{probe_id}:r1\t{probe_id}\t1\t\t\t"),
            format!("{probe_id}:r2\t{probe_id}\t0\tconnection refused\tOffline\tconnect"),
        ]
    );
    // Sent again (a lost answer): deduplicated. Bad batches and unknown keys are refused.
    assert_eq!(report(&engine, &key, batch.clone()).await.unwrap(), 2);
    let bad = proto::probe::ResultBatch {
        results: vec![proto::probe::CheckResult {
            failed_phase: Some("lunch".into()),
            ..result("r3", t0, false)
        }],
    };
    let refused = report(&engine, &key, bad).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().contains("failed_phase"),
        "{}",
        refused.message()
    );
    let unknown = report(&engine, "vpk_nope", batch).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::Unauthenticated);
    wait_until(WAIT, "the resent batch processed", || async {
        let sql = format!(
            "SELECT count() FROM {}.monitor_results WHERE monitor_id = '{m}'",
            worker.clickhouse_database
        );
        (clickhouse(&sql).await.trim() == "4").then_some(())
    })
    .await;
    let timeline = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/monitors/{m}/timeline"),
            &admin,
            None,
        )
        .await;
    assert_eq!(timeline["items"].as_array().unwrap().len(), 2);
    engine.stop().await;
    worker.stop().await;
}

/// An HTTP server on `listener` answering `GET /health` with 200 until the task is aborted.
fn http_target(listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
    let app = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    tokio::spawn(async move {
        let _stopped = axum::serve(listener, app).await;
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_probe_checks_a_website_and_its_outage_opens_and_resolves_an_incident() {
    let (cp, admin, p) = setup().await;
    let http = HttpReceiver::start(0).await;
    cp.ok(
        Method::POST,
        &format!("/api/v1/projects/{p}/notification-channels"),
        &admin,
        Some(json!({"name": "hook", "kind": "webhook",
                    "settings": {"url": format!("{}/hook", http.base)}})),
    )
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = http_target(listener);
    let registered = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/probes"),
            &admin,
            Some(json!({"name": "local"})),
        )
        .await;
    let key = registered["key"].as_str().unwrap().to_owned();
    let interval = 10;
    let m = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/monitors"),
            &admin,
            Some(
                json!({"name": "Shop", "kind": "http", "interval_secs": interval,
                        "timeout_ms": 2000, "probe_ids": [registered["probe"]["id"]],
                        "settings": {"url": format!("http://127.0.0.1:{port}/health")}}),
            ),
        )
        .await["monitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let worker = TestWorker::start(&cp, "e2e", |_| {}).await;
    let engine = engine_for(&cp, &worker, "e2e_eng").await;
    let mut config = probe::Config::new(key);
    config.control_url = cp.base.clone();
    config.ingest_url = format!("http://{}", engine.grpc);
    config.flush_every = Duration::from_millis(200);
    let metrics_port = tests::free_port();
    config.metrics_addr = Some(([127, 0, 0, 1], metrics_port).into());
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(probe::run(config, stop.clone()));
    // Within three intervals each: checked and stored; down after the server stops; up again.
    let bound = Duration::from_secs(3 * interval);
    let db = worker.clickhouse_database.clone();
    wait_until(bound, "a probe result in ClickHouse", || async {
        let sql = format!(
            "SELECT count() FROM system.tables WHERE database = '{db}' AND name = 'monitor_results'"
        );
        if clickhouse(&sql).await.trim() != "1" {
            return None;
        }
        let sql = format!(
            "SELECT visitParamExtractString(result, 'failed_phase'), is_online, status_code, source, probe_id \
             FROM {db}.monitor_results WHERE monitor_id = '{m}' FORMAT TabSeparated"
        );
        let rows = clickhouse(&sql).await;
        rows.lines().next().map(str::to_owned)
    })
    .await
    .split('\t')
    .zip([
        "",
        "1",
        "200",
        "probe",
        registered["probe"]["id"].as_str().unwrap(),
    ])
    .for_each(|(got, want)| assert_eq!(got, want));
    server.abort();
    let _aborted = server.await;
    wait_until(bound, "the monitor offline", || async {
        let path = format!("/api/v1/projects/{p}/monitors/{m}");
        let monitor = cp.ok(Method::GET, &path, &admin, None).await;
        (monitor["current_status_id"] == status_id(&cp, &admin, &p, "Offline").await).then_some(())
    })
    .await;
    let opened = http.wait_for("/hook", 2, WAIT).await;
    assert!(events(&opened).contains(&"incident.opened".to_owned()));
    let failure = clickhouse(&format!(
        "SELECT error, visitParamExtractString(result, 'failed_phase') FROM {db}.monitor_results \
         WHERE monitor_id = '{m}' AND is_online = 0 LIMIT 1 FORMAT TabSeparated"
    ))
    .await;
    assert!(failure.contains("connect"), "{failure}");
    // The server is back on the same port.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let server = http_target(listener);
    status_becomes(&cp, &admin, &p, &m, "Operational").await;
    let open = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incidents?open=true"),
            &admin,
            None,
        )
        .await;
    assert_eq!(open["items"], json!([]));
    // A changed assignment reaches the probe, which checks the new URL from its next tick.
    cp.ok(
        Method::PATCH,
        &format!("/api/v1/projects/{p}/monitors/{m}"),
        &admin,
        Some(json!({"settings": {"url": format!("http://127.0.0.1:{port}/moved")}})),
    )
    .await;
    let rows_where = |filter: String| {
        let sql = format!(
            "SELECT count() FROM {db}.monitor_results WHERE monitor_id = '{m}' AND {filter}"
        );
        async move { clickhouse(&sql).await.trim().parse::<u64>().unwrap() }
    };
    wait_until(bound, "a check of the new URL", || async {
        (rows_where("status_code = 404".into()).await > 0).then_some(())
    })
    .await;
    // The ingest engine restarts (same port, same WAL): what the probe checked meanwhile waits
    // in its buffer and arrives afterwards; nothing is dropped.
    let (grpc, database, wal) = (engine.grpc, engine.database.clone(), engine.wal_dir.clone());
    let down_from = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    engine.shutdown().await;
    tokio::time::sleep(Duration::from_secs(interval + 2)).await;
    let down_until = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let (database_url, prefix) = (cp.database_url.clone(), worker.stream_prefix.clone());
    let engine = TestEngine::launch(&database, &wal, |c| {
        c.otlp_grpc_addr = grpc;
        c.keys.database_url = Secret(database_url);
        c.redis.stream_prefix = prefix;
    })
    .await;
    wait_until(
        bound,
        "results checked while the engine was down",
        || async {
            let during = format!("time_unix_nano BETWEEN {down_from} AND {down_until}");
            (rows_where(during).await > 0).then_some(())
        },
    )
    .await;
    // The control plane restarts too: the probe polls the new one and takes the next change.
    cp.restart().await;
    cp.ok(
        Method::PATCH,
        &format!("/api/v1/projects/{p}/monitors/{m}"),
        &admin,
        Some(json!({"settings": {"url": format!("http://127.0.0.1:{port}/health")}})),
    )
    .await;
    let changed_at = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    wait_until(
        bound,
        "a check of the URL set after the restart",
        || async {
            let after = format!("status_code = 200 AND time_unix_nano > {changed_at}");
            (rows_where(after).await > 0).then_some(())
        },
    )
    .await;
    // The probe's own account of it.
    let metrics = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sample = |name: &str| tests::metric(&metrics, name);
    assert!(sample("vigil_probe_checks_total") >= 3.0, "{metrics}");
    assert!(
        sample("vigil_probe_checks_failed_total{phase=\"connect\"}") >= 1.0,
        "{metrics}"
    );
    assert!(sample("vigil_probe_results_sent_total") >= 3.0, "{metrics}");
    assert_eq!(sample("vigil_probe_results_dropped_total"), 0.0);
    assert_eq!(sample("vigil_probe_monitors{state=\"scheduled\"}"), 1.0);
    stop.cancel();
    let telemetry = running.await.unwrap().unwrap();
    assert!(telemetry.checks.load(std::sync::atomic::Ordering::Relaxed) >= 3);
    assert_eq!(
        telemetry.dropped.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    server.abort();
    engine.stop().await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_that_cannot_reach_the_engine_keeps_a_bounded_buffer_and_counts_what_it_drops() {
    let (cp, admin, p) = setup().await;
    let registered = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/probes"),
            &admin,
            Some(json!({"name": "cut off"})),
        )
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _target = http_target(listener);
    for i in 0..6 {
        cp.ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/monitors"),
            &admin,
            Some(
                json!({"name": format!("site {i}"), "kind": "http", "interval_secs": 10,
                        "probe_ids": [registered["probe"]["id"]],
                        "settings": {"url": format!("http://127.0.0.1:{port}/health")}}),
            ),
        )
        .await;
    }
    let mut config = probe::Config::new(registered["key"].as_str().unwrap());
    config.control_url = cp.base.clone();
    // Nothing listens there.
    config.ingest_url = format!("http://127.0.0.1:{}", tests::free_port());
    config.buffer = 2;
    config.metrics_addr = None;
    config.flush_every = Duration::from_millis(100);
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(probe::run(config, stop.clone()));
    // Every monitor is checked within one interval; at most two results are held.
    tokio::time::sleep(Duration::from_secs(12)).await;
    stop.cancel();
    let t = running.await.unwrap().unwrap();
    use std::sync::atomic::Ordering::Relaxed;
    let (checks, dropped, sent) = (
        t.checks.load(Relaxed),
        t.dropped.load(Relaxed),
        t.sent.load(Relaxed),
    );
    assert!(checks >= 6, "{checks} checks");
    assert_eq!(sent, 0);
    assert!(t.buffered.load(Relaxed) <= 2);
    assert!(dropped >= checks - 2, "{dropped} dropped of {checks}");
}
