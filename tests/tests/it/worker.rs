//! The worker against real Redis, PostgreSQL and ClickHouse: results in → status timeline,
//! incident opened, notifications delivered (a local HTTP server for webhooks and Slack, aiosmtpd
//! for mail), recovery → incident resolved; poison entries dead-lettered; maintenance windows;
//! the periodic jobs; a webhook moved to a new URL still signed with its key. Pushes through the engine and redelivery are in `worker_streams.rs`, the
//! probe's part in `probe_e2e.rs`.

use hmac::{Hmac, Mac};
use redis::AsyncCommands;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use tests::control::TestWorker;
use tests::monitoring::{
    WAIT, create_monitor, events, incidents, probe_result, redis, register_probe, setup,
    status_becomes, timeline,
};
use tests::receiver::{HttpReceiver, SmtpReceiver, json as body_json};
use tests::{clickhouse, redis_url, wait_until};

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
    let monitor = create_monitor(
        &cp,
        &admin,
        &p,
        json!({"name": "Shop", "kind": "http", "settings": {"url": "https://shop.test"}}),
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
    let timeline = timeline(&cp, &admin, &p, &m).await;
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
    let open = incidents(&cp, &admin, &p, "?open=true").await;
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
async fn a_maintenance_window_suppresses_incidents_but_not_statuses() {
    let (cp, admin, p) = setup().await;
    let mut ids = Vec::new();
    for name in ["In maintenance", "Not covered"] {
        let m = create_monitor(
            &cp,
            &admin,
            &p,
            json!({"name": name, "kind": "tcp", "settings": {"host": "db", "port": 5432}}),
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
    let open = incidents(&cp, &admin, &p, "?open=true").await;
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
async fn periodic_jobs_mark_silent_probes_offline_and_drop_old_partitions() {
    let (cp, admin, p) = setup().await;
    let probes = format!("/api/v1/projects/{p}/probes");
    let key = register_probe(&cp, &admin, &p, "edge").await["key"]
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
        tests::schema_ready(&db).await.then_some(())
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
async fn a_webhook_moved_to_a_new_url_keeps_signing_with_its_key() {
    let (cp, admin, p) = setup().await;
    let http = HttpReceiver::start(0).await;
    let channels = format!("/api/v1/projects/{p}/notification-channels");
    let created = cp
        .answer(
            StatusCode::CREATED,
            Method::POST,
            &channels,
            &admin,
            Some(json!({"name": "hook", "kind": "webhook",
                        "settings": {"url": format!("{}/old", http.base)}})),
        )
        .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let c = created["channel"]["id"].as_str().unwrap().to_owned();
    // The API never shows the key back, so a client moving the URL cannot resend it: the
    // change keeps it.
    let changed = cp
        .ok(
            Method::PATCH,
            &format!("{channels}/{c}"),
            &admin,
            Some(json!({"settings": {"url": format!("{}/new", http.base)}})),
        )
        .await;
    assert_eq!(
        changed["settings"],
        json!({"url": format!("{}/new", http.base)})
    );
    let worker = TestWorker::start(&cp, "rehook", |_| {}).await;
    cp.answer(
        StatusCode::ACCEPTED,
        Method::POST,
        &format!("{channels}/{c}/test"),
        &admin,
        None,
    )
    .await;
    let got = http.wait_for("/new", 1, WAIT).await;
    verify_signature(&got[0], &secret);
    worker.stop().await;
}
