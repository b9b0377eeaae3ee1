//! The explorer in a real headless Chromium: `tests/browser/explorer.test.js` searches logs,
//! opens a trace's waterfall and charts a metric over data the Python SDK sent, then follows
//! the live tail while this test sends a record, which must show within 2 s.

use tests::control::Auth;
use tests::explorer::python_client;
use tests::monitoring::setup_with;

#[tokio::test(flavor = "multi_thread")]
async fn the_explorer_works_in_chromium() {
    let (cp, admin, p) = setup_with(|_| {}).await;
    let engine = tests::explorer::engine_for_project(&cp, "explorer_browser", &p, "tok-x").await;
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let http = engine.http_url("");
    python_client("explorer_logs.py", &[&http, "tok-x", &now_ns.to_string()]).await;
    let traces = python_client("explorer_traces.py", &[&http, "tok-x", &now_ns.to_string()]).await;
    python_client("explorer_metrics.py", &[&http, "tok-x"]).await;
    engine.settle().await;
    let trace =
        serde_json::from_slice::<serde_json::Value>(&traces).unwrap()["checkout"]["trace_id"]
            .as_str()
            .unwrap()
            .to_owned();
    let Auth::Session { cookie, .. } = &admin else {
        panic!("the admin signs in with a session")
    };
    let session = cookie.trim_start_matches("vigil_session=").to_owned();

    let browser = tests::browser::BrowserRun::start(
        "explorer.test.js",
        "explorer",
        &[
            ("VIGIL_UI_URL", cp.base.clone()),
            ("VIGIL_SESSION", session),
            ("VIGIL_PROJECT", p.clone()),
            ("VIGIL_TRACE", trace),
        ],
    );
    browser.signalled("tailing").await;
    let now = chrono::Utc::now();
    let otlp = serde_json::json!({"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "cart"}}]},
        "scopeLogs": [{"logRecords": [{"timeUnixNano": now.timestamp_nanos_opt().unwrap().to_string(),
            "severityText": "WARN", "body": {"stringValue": "a record from the tail test"}}]}]}]});
    let sent = reqwest::Client::new()
        .post(engine.http_url("/v1/logs"))
        .header("x-vigil-token", "tok-x")
        .json(&otlp)
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success());
    browser.signal("sent", &now.timestamp_millis().to_string());
    browser.passed().await;
    engine.stop().await;
}
