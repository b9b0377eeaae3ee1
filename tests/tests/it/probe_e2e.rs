//! The probe in the whole chain: results sent over gRPC (deduplicated, refused when malformed
//! or unauthenticated) reaching the worker through the ingest engine; a running probe checking
//! a website whose outage opens an incident and a webhook, through assignment changes and
//! restarts of the ingest engine and the control plane; and a probe cut off from the engine.

use std::time::Duration;

use ingest_engine::config::Secret;
use reqwest::Method;
use serde_json::json;
use tests::control::TestWorker;
use tests::monitoring::{
    WAIT, create_monitor, engine_for, events, http_target, incidents, register_probe, setup,
    status_becomes, status_id, timeline,
};
use tests::receiver::HttpReceiver;
use tests::{TestEngine, clickhouse, wait_until};

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
    let probe = register_probe(&cp, &admin, &p, "eu").await;
    let key = probe["key"].as_str().unwrap().to_owned();
    let probe_id = probe["probe"]["id"].as_str().unwrap().to_owned();
    let m = create_monitor(
        &cp,
        &admin,
        &p,
        json!({"name": "Shop", "kind": "http", "probe_ids": [probe_id],
                        "settings": {"url": "https://shop.test"}}),
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
    let timeline = timeline(&cp, &admin, &p, &m).await;
    assert_eq!(timeline["items"].as_array().unwrap().len(), 2);
    engine.stop().await;
    worker.stop().await;
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
    let registered = register_probe(&cp, &admin, &p, "local").await;
    let key = registered["key"].as_str().unwrap().to_owned();
    let interval = 10;
    let m = create_monitor(
        &cp,
        &admin,
        &p,
        json!({"name": "Shop", "kind": "http", "interval_secs": interval,
                        "timeout_ms": 2000, "probe_ids": [registered["probe"]["id"]],
                        "settings": {"url": format!("http://127.0.0.1:{port}/health")}}),
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
        if !tests::table_exists(&db, "monitor_results").await {
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
    // The incident says what failed, in its description and on its opening timeline entry.
    let open = incidents(&cp, &admin, &p, "?open=true").await;
    let description = open["items"][0]["description"].as_str().unwrap().to_owned();
    assert!(
        description.contains("What failed: connect: "),
        "{description}"
    );
    let id = open["items"][0]["id"].as_str().unwrap();
    let detail = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incidents/{id}"),
            &admin,
            None,
        )
        .await;
    assert!(
        detail["timeline"][0]["note"]
            .as_str()
            .unwrap_or("")
            .starts_with("connect: "),
        "{detail}"
    );
    // The server is back on the same port.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let server = http_target(listener);
    status_becomes(&cp, &admin, &p, &m, "Operational").await;
    let open = incidents(&cp, &admin, &p, "?open=true").await;
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
    assert!(telemetry.checks() >= 3);
    assert_eq!(telemetry.dropped(), 0);
    server.abort();
    engine.stop().await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_that_cannot_reach_the_engine_keeps_a_bounded_buffer_and_counts_what_it_drops() {
    let (cp, admin, p) = setup().await;
    let registered = register_probe(&cp, &admin, &p, "cut off").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _target = http_target(listener);
    for i in 0..6 {
        create_monitor(
            &cp,
            &admin,
            &p,
            json!({"name": format!("site {i}"), "kind": "http", "interval_secs": 10,
                        "probe_ids": [registered["probe"]["id"]],
                        "settings": {"url": format!("http://127.0.0.1:{port}/health")}}),
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
    let (checks, dropped, sent) = (t.checks(), t.dropped(), t.sent());
    assert!(checks >= 6, "{checks} checks");
    assert_eq!(sent, 0);
    assert!(t.buffered() <= 2);
    assert!(dropped >= checks - 2, "{dropped} dropped of {checks}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_moves_only_its_own_monitors_and_never_into_the_future() {
    let (cp, admin, p) = setup().await;
    let probe = register_probe(&cp, &admin, &p, "eu").await;
    let key = probe["key"].as_str().unwrap().to_owned();
    let probe_id = probe["probe"]["id"].as_str().unwrap().to_owned();
    let monitor = |name: &str, probes: Vec<String>| {
        json!({"name": name, "kind": "http", "probe_ids": probes,
               "settings": {"url": "https://shop.test"}})
    };
    let id = |v: serde_json::Value| v["monitor"]["id"].as_str().unwrap().to_owned();
    let mine = id(create_monitor(&cp, &admin, &p, monitor("Mine", vec![probe_id])).await);
    let other = id(create_monitor(&cp, &admin, &p, monitor("Other", vec![])).await);
    let other_before = timeline(&cp, &admin, &p, &other).await;
    let path = |m: &str| format!("/api/v1/projects/{p}/monitors/{m}");
    let fresh = cp
        .ok(reqwest::Method::GET, &path(&mine), &admin, None)
        .await;
    assert_eq!(
        fresh["last_result_at"],
        serde_json::Value::Null,
        "no result yet: unknown"
    );
    let worker = TestWorker::start(&cp, "pa", |_| {}).await;
    let engine = engine_for(&cp, &worker, "pa_eng").await;
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap() as u64;
    let result = |id: &str, monitor: &str, at: u64, online: bool| proto::probe::CheckResult {
        id: id.into(),
        monitor_id: monitor.into(),
        checked_at_unix_nano: at,
        is_online: online,
        ..Default::default()
    };
    // A result dated in the year 2262 for its own monitor, and one for a monitor of the same
    // project that is not assigned to it.
    let batch = proto::probe::ResultBatch {
        results: vec![
            result("far", &mine, i64::MAX as u64, true),
            result("foreign", &other, now, false),
        ],
    };
    wait_until(WAIT, "the probe key works", || {
        let (batch, engine, key) = (batch.clone(), &engine, key.clone());
        async move { report(engine, &key, batch).await.ok() }
    })
    .await;
    // A real result a second later still counts: the far one did not freeze the monitor.
    let later = proto::probe::ResultBatch {
        results: vec![result("real", &mine, now + 2_000_000_000, false)],
    };
    report(&engine, &key, later).await.unwrap();
    status_becomes(&cp, &admin, &p, &mine, "Offline").await;
    let rows = clickhouse(&format!(
        "SELECT monitor_id, toUnixTimestamp(time) < {} FROM {}.monitor_results FINAL \
         ORDER BY time FORMAT TabSeparated",
        now / 1_000_000_000 + 3600,
        worker.clickhouse_database
    ))
    .await;
    assert_eq!(
        rows.lines().collect::<Vec<_>>(),
        [format!("{mine}\t1"), format!("{mine}\t1")],
        "only the assigned monitor's results, none in the future"
    );
    assert_eq!(timeline(&cp, &admin, &p, &other).await, other_before);
    let judged = cp
        .ok(reqwest::Method::GET, &path(&mine), &admin, None)
        .await;
    assert!(judged["last_result_at"].is_string(), "{judged}");
    let untouched = cp
        .ok(reqwest::Method::GET, &path(&other), &admin, None)
        .await;
    assert_eq!(untouched["last_result_at"], serde_json::Value::Null);
    engine.stop().await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_with_a_wrong_key_gives_up_with_a_clear_error_and_the_binary_has_help() {
    let (cp, _admin, _p) = setup().await;
    let mut config = probe::Config::new("vpk_not-a-key");
    config.control_url = cp.base.clone();
    config.metrics_addr = None;
    config.max_key_refusals = 3;
    let stop = tokio_util::sync::CancellationToken::new();
    let ended = tokio::time::timeout(Duration::from_secs(30), probe::run(config, stop))
        .await
        .expect("the probe gives up by itself");
    let Err(error) = ended else {
        panic!("a refused key is an error")
    };
    assert!(
        matches!(error, probe::ProbeError::KeyRefused { .. }),
        "{error}"
    );
    let error = error.to_string();
    assert!(
        error.contains("VIGIL_PROBE_KEY") && error.contains("401") && error.contains("3 times"),
        "{error}"
    );
    // `--help` explains the settings without needing any.
    let out = tokio::process::Command::new(tests::required_env("VIGIL_TEST_PROBE_BIN"))
        .arg("--help")
        .env_remove("VIGIL_PROBE_KEY")
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("VIGIL_PROBE_KEY") && help.contains("VIGIL_PROBE_CONTROL_URL"),
        "{help}"
    );
}
