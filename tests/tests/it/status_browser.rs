//! A public status page in a real headless Chromium: `tests/browser/status.test.js`
//! (playwright-core, run with `node --test`) reads a page with a group, 90-day bars, an
//! incident with a public update, scheduled maintenance and an announcement; then this test
//! makes a monitor go down through the worker and the script sees it on the page within 2 s.

use reqwest::Method;
use serde_json::json;
use tests::control::TestWorker;
use tests::monitoring::{create_monitor, probe_result, setup_with, status_becomes, status_history};

#[tokio::test(flavor = "multi_thread")]
async fn a_visitor_reads_the_status_page_in_chromium_and_sees_an_outage_within_2_s() {
    let (cp, admin, p) = setup_with(|_| {}).await;
    let mut ids = Vec::new();
    for name in ["web", "db", "queue"] {
        let made = create_monitor(
            &cp,
            &admin,
            &p,
            json!({"name": name, "kind": "http", "settings": {"url": format!("https://{name}.test")}}),
        )
        .await;
        ids.push(made["monitor"]["id"].as_str().unwrap().to_owned());
    }
    let (web, db, queue) = (&ids[0], &ids[1], &ids[2]);
    // History for the bars (the worker's first rollup reads it), results for the chart.
    for m in [web, db] {
        status_history(&cp, &p, m).await;
    }
    let results = cp.results_database().to_owned();
    let worker = TestWorker::start(&cp, "status_browser", |w| {
        w.clickhouse_database = results;
    })
    .await;
    let key = format!("{}probe_result", worker.stream_prefix);
    let t = chrono::Utc::now().timestamp();
    for (i, ms) in [120.0, 95.0, 180.0, 110.0].into_iter().enumerate() {
        let result = json!({"is_online": true, "status_code": 200, "response_time_ms": ms});
        probe_result(
            &key,
            &format!("r{i}"),
            &p,
            web,
            t - 3600 * (4 - i as i64),
            result,
        )
        .await;
    }
    let page = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/status-pages"),
            &admin,
            Some(json!({"name": "Shop", "slug": "shop", "description": "The shop's systems"})),
        )
        .await;
    let base = format!(
        "/api/v1/projects/{p}/status-pages/{}",
        page["id"].as_str().unwrap()
    );
    cp.ok(
        Method::PUT,
        &format!("{base}/layout"),
        &admin,
        Some(json!({
            "resources": [{"monitor_id": web, "display_name": "Website", "show_chart": true}],
            "groups": [{"name": "Backend", "resources": [
                {"monitor_id": db, "display_name": "Database"},
                {"monitor_id": queue, "display_name": "Queue"}]}]})),
    )
    .await;
    cp.ok(
        Method::POST,
        &format!("{base}/announcements"),
        &admin,
        Some(json!({"title": "New region open", "body": "Frankfurt serves the EU now."})),
    )
    .await;
    let soon = chrono::Utc::now() + chrono::Duration::days(3);
    cp.ok(
        Method::POST,
        &format!("/api/v1/projects/{p}/maintenance-windows"),
        &admin,
        Some(json!({"title": "Queue upgrade", "starts_at": soon,
                    "ends_at": soon + chrono::Duration::hours(2), "monitor_ids": [queue]})),
    )
    .await;
    let severities = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incident-severities"),
            &admin,
            None,
        )
        .await;
    let incident = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/incidents"),
            &admin,
            Some(
                json!({"title": "Slow checkout", "severity_id": severities["items"][2]["id"],
                        "monitor_ids": [db]}),
            ),
        )
        .await;
    cp.ok(
        Method::POST,
        &format!(
            "/api/v1/projects/{p}/incidents/{}/public-updates",
            incident["id"].as_str().unwrap()
        ),
        &admin,
        Some(json!({"status": "identified", "body": "We found a slow query."})),
    )
    .await;

    let browser = tests::browser::BrowserRun::start(
        "status.test.js",
        "status",
        &[("VIGIL_STATUS_URL", format!("{}/status/shop", cp.base))],
    );
    // When the page is open: the database goes down, and the script is told when.
    browser.signalled("ready").await;
    let t = chrono::Utc::now().timestamp();
    probe_result(&key, "b1", &p, db, t, json!({"is_online": false})).await;
    status_becomes(&cp, &admin, &p, db, "Offline").await;
    // The moment the status changed (the worker's clock is this machine's).
    let monitor = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/monitors/{db}"),
            &admin,
            None,
        )
        .await;
    let at = chrono::DateTime::parse_from_rfc3339(monitor["status_since"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    browser.signal("changed", &at.to_string());
    browser.passed().await;
    worker.stop().await;
}
