//! Telemetry monitors end to end: a worker measures `logs`, `traces` and `metrics` monitors in
//! the ClickHouse an ingest engine writes. A logs monitor opens an incident while error logs
//! flow — its cause names the measure and links the query in the explorer — and resolves it
//! once they age out of its window; traces and metrics monitors measure exactly what the
//! OpenTelemetry SDK sent (an error rate, an average duration, a count, a gauge's average, a
//! histogram's p95); another project's monitor sees none of it.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tests::control::{Auth, ControlPlane, TestWorker};
use tests::explorer::{engine_for_project, python_client};
use tests::monitoring::{create_monitor, incidents, setup_with, status_id};
use tests::wait_until;

use crate::ui::{Browser, attribute, select};

/// A project's first incident severity.
async fn severity(cp: &ControlPlane, auth: &Auth, p: &str) -> Value {
    let path = format!("/api/v1/projects/{p}/incident-severities");
    let levels = cp.ok(Method::GET, &path, auth, None).await;
    levels["items"][0]["id"].clone()
}

/// `n` logs of `service` at `severity` (OTLP severity number), sent now as OTLP/HTTP JSON.
async fn send_logs(engine: &tests::TestEngine, token: &str, service: &str, severity: u8, n: usize) {
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let records: Vec<Value> = (0..n)
        .map(|i| {
            json!({"timeUnixNano": (now + i as i64).to_string(), "severityNumber": severity,
                   "body": {"stringValue": format!("payment failed {i}")}})
        })
        .collect();
    let body = json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeLogs": [{"logRecords": records}]}]});
    let answer = reqwest::Client::new()
        .post(engine.http_url("/v1/logs"))
        .header("x-vigil-token", token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
}

/// The value monitor `m`'s latest result measured (waits for one).
async fn measured(cp: &ControlPlane, auth: &Auth, p: &str, m: &str) -> Option<f64> {
    let path = format!("/api/v1/projects/{p}/monitors/{m}/latest-results");
    wait_until(Duration::from_secs(30), "a telemetry result", || async {
        let latest = cp.ok(Method::GET, &path, auth, None).await;
        let result = latest.as_array()?.first()?.clone();
        Some(result["result"]["telemetry_value"].as_f64())
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_logs_monitor_opens_an_incident_while_errors_flow_and_resolves_after() {
    let (cp, admin, p) = setup_with(|_| {}).await;
    let database = cp.results_database().to_owned();
    let worker =
        TestWorker::start(&cp, "telemetry_logs", |w| w.clickhouse_database = database).await;
    let engine = engine_for_project(&cp, "telemetry_logs", &p, "tok-tl").await;
    let offline = status_id(&cp, &admin, &p, "Offline").await;
    let severity = severity(&cp, &admin, &p).await;
    let created = create_monitor(
        &cp,
        &admin,
        &p,
        json!({"name": "Checkout errors", "kind": "logs", "probe_ids": [],
               "interval_secs": 10, "timeout_ms": 5000,
               "settings": {"query": "severity:>=error service:checkout", "window_secs": 20},
               "criteria": [{"name": "Too many errors", "match": "all",
                   "filters": [{"check": "telemetry_value", "op": "gt", "value": 2}],
                   "status_id": offline,
                   "incident": {"title": "Checkout is failing", "severity_id": severity}}]}),
    )
    .await;
    let m = created["monitor"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["monitor"]["settings"]["measure"], "count");
    assert!(created["key"].is_null(), "{created}");

    // Five errors of checkout count; other services' errors and checkout's infos do not. The
    // window is longer than the interval, so some measurement sees them whenever they land.
    send_logs(&engine, "tok-tl", "checkout", 17, 5).await;
    send_logs(&engine, "tok-tl", "search", 17, 3).await;
    send_logs(&engine, "tok-tl", "checkout", 9, 4).await;
    engine.settle().await;
    let incident = wait_until(Duration::from_secs(40), "the incident", || async {
        let open = incidents(&cp, &admin, &p, "?open=true").await;
        open["items"].as_array()?.first().cloned()
    })
    .await;
    assert_eq!(incident["title"], "Checkout is failing");
    assert_eq!(incident["monitor_ids"], json!([m]));
    let description = incident["description"].as_str().unwrap();
    assert!(
        description.contains(
            "count of logs matching \"severity:>=error service:checkout\" over 20 s: 5 — "
        ),
        "{description}"
    );
    let link = format!("/projects/{p}/logs?q=severity%3A%3E%3Derror+service%3Acheckout&from=");
    assert!(description.contains(&link), "{description}");
    // The incident's page links the query.
    let mut browser = Browser::new(&cp);
    browser.sign_in("admin@vigil.test").await;
    let id = incident["id"].as_str().unwrap();
    let (_, _, html) = browser.get(&format!("/projects/{p}/incidents/{id}")).await;
    let href = attribute(&html, ".description a", "href");
    assert!(href.contains(&link), "{href}");
    // The worker links under the public URL; the test's server listens elsewhere.
    let path = &href[href.find("/projects/").unwrap()..];
    let (status, _, explorer) = browser.get(path).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(
        select(&explorer, "#log-list tbody tr").len(),
        5,
        "{explorer}"
    );

    // Nothing new: the errors leave the window and the incident resolves by itself.
    wait_until(
        Duration::from_secs(60),
        "the incident to resolve",
        || async {
            let open = incidents(&cp, &admin, &p, "?open=true").await;
            open["items"].as_array()?.is_empty().then_some(())
        },
    )
    .await;
    assert_eq!(measured(&cp, &admin, &p, &m).await, Some(0.0));
    worker.stop().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn traces_and_metrics_monitors_measure_exactly_what_was_sent() {
    let (cp, admin, p) = setup_with(|_| {}).await;
    let database = cp.results_database().to_owned();
    let engine = engine_for_project(&cp, "telemetry_values", &p, "tok-tv").await;
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    python_client(
        "explorer_traces.py",
        &[&engine.http_url(""), "tok-tv", &now_ns.to_string()],
    )
    .await;
    python_client("explorer_metrics.py", &[&engine.http_url(""), "tok-tv"]).await;
    engine.settle().await;

    let hour = 3600;
    let monitors = [
        // checkout's spans: "charge" (200 ms) and "INSERT payment" (50 ms, error).
        (
            "traces",
            json!({"query": "service:checkout", "measure": "error_rate", "window_secs": hour}),
            Some(50.0),
        ),
        (
            "traces",
            json!({"query": "service:checkout", "measure": "avg", "window_secs": hour}),
            Some(125.0),
        ),
        (
            "traces",
            json!({"query": "service:worker", "measure": "count", "window_secs": hour}),
            Some(1200.0),
        ),
        // Nothing matches: no error rate to judge, and a count of 0.
        (
            "traces",
            json!({"query": "service:nobody", "measure": "error_rate", "window_secs": hour}),
            None,
        ),
        ("logs", json!({"query": "", "window_secs": hour}), Some(0.0)),
        // The gauge: a 10, 30, 30 and b 40, 40, 40.
        (
            "metrics",
            json!({"metric": "queue.depth", "measure": "avg", "window_secs": hour}),
            Some(31.666667),
        ),
        // The histogram 1, 7, 30, 200 ms in the default buckets.
        (
            "metrics",
            json!({"metric": "latency", "service": "shop", "measure": "p95", "window_secs": hour}),
            Some(220.0),
        ),
        (
            "metrics",
            json!({"metric": "latency", "service": "elsewhere", "measure": "p95", "window_secs": hour}),
            None,
        ),
    ];
    let mut ids = Vec::new();
    for (i, (kind, settings, _)) in monitors.iter().enumerate() {
        let created = create_monitor(
            &cp,
            &admin,
            &p,
            json!({"name": format!("m{i}"), "kind": kind, "settings": settings, "probe_ids": []}),
        )
        .await;
        ids.push(created["monitor"]["id"].as_str().unwrap().to_owned());
    }
    // Another project's monitor of every span reads none of this project's.
    let other = cp
        .ok(
            Method::POST,
            "/api/v1/projects",
            &admin,
            Some(json!({"name": "Elsewhere"})),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let theirs = create_monitor(
        &cp,
        &admin,
        &other,
        json!({"name": "all spans", "kind": "traces", "probe_ids": [],
               "settings": {"measure": "count", "window_secs": hour}}),
    )
    .await["monitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let worker = TestWorker::start(&cp, "telemetry_values", |w| {
        w.clickhouse_database = database
    })
    .await;
    for ((kind, settings, want), m) in monitors.iter().zip(&ids) {
        assert_eq!(
            measured(&cp, &admin, &p, m).await,
            *want,
            "{kind} {settings}"
        );
    }
    assert_eq!(measured(&cp, &admin, &other, &theirs).await, Some(0.0));
    worker.stop().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn telemetry_monitor_settings_are_checked() {
    let (cp, admin, p) = setup_with(|_| {}).await;
    let path = format!("/api/v1/projects/{p}/monitors");
    for (kind, settings, why) in [
        (
            "logs",
            json!({"query": "(unclosed"}),
            "settings: query at character",
        ),
        (
            "logs",
            json!({"measure": "p95"}),
            "measure of a logs monitor is one of count",
        ),
        (
            "traces",
            json!({"window_secs": 5}),
            "window_secs is 10 to 86400",
        ),
        (
            "metrics",
            json!({"measure": "avg"}),
            "metric: the name of a metric",
        ),
        ("metrics", json!({"metric": "x", "query": "a"}), "not query"),
    ] {
        let (status, body, _) = cp
            .call(
                Method::POST,
                &path,
                &admin,
                Some(json!({"name": "bad", "kind": kind, "settings": settings})),
            )
            .await;
        assert_eq!(
            status,
            reqwest::StatusCode::BAD_REQUEST,
            "{kind} {settings}: {body}"
        );
        assert!(
            body["error"]["message"].as_str().unwrap().contains(why),
            "{body}"
        );
    }
    // Probes do not check telemetry monitors.
    let probe = tests::monitoring::register_probe(&cp, &admin, &p, "p1").await;
    let (status, body, _) = cp
        .call(
            Method::POST,
            &path,
            &admin,
            Some(json!({"name": "probed", "kind": "logs", "settings": {},
                        "probe_ids": [probe["probe"]["id"]]})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
    // Nothing was stored.
    let list = cp.ok(Method::GET, &path, &admin, None).await;
    assert_eq!(list["items"], json!([]), "{list}");

    // The form: a search, a measure and a window; a bad search is refused beside its field.
    let mut browser = Browser::new(&cp);
    browser.sign_in("admin@vigil.test").await;
    let (_, _, form) = browser
        .get(&format!("/projects/{p}/monitors/new?kind=traces"))
        .await;
    let csrf = attribute(&form, "input[name=csrf_token]", "value");
    assert_eq!(
        select(&form, "#measure option"),
        ["count", "error_rate", "avg", "p50", "p95", "p99"]
    );
    assert!(select(&form, "input[name=probe]").is_empty());
    let action = format!("/projects/{p}/monitors?kind=traces");
    let mut fields = vec![
        ("csrf_token", csrf.as_str()),
        ("name", "Checkout latency"),
        ("enabled", "on"),
        ("query", "service:checkout AND (duration:>250ms"),
        ("measure", "p95"),
        ("window_secs", "600"),
        ("interval_secs", "60"),
        ("timeout_ms", "5000"),
    ];
    let (status, _, refused) = browser.post(&action, &fields).await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST);
    assert!(
        select(&refused, "#settings-error")[0].contains("query at character"),
        "{refused}"
    );
    fields[3].1 = "service:checkout AND duration:>250ms";
    let (status, _, _) = browser.post(&action, &fields).await;
    assert_eq!(status, reqwest::StatusCode::SEE_OTHER);
    let list = cp.ok(Method::GET, &path, &admin, None).await;
    let made = &list["items"][0];
    assert_eq!(made["kind"], "traces");
    assert_eq!(
        made["settings"],
        json!({"query": "service:checkout AND duration:>250ms", "measure": "p95", "window_secs": 600})
    );
    assert_eq!(
        made["criteria"][0]["filters"][0]["check"],
        "telemetry_value"
    );
}
