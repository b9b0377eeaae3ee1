//! The explorer's exceptions over real data: the error logs of `explorer_logs.py` and the
//! span exception event of `explorer_traces.py` (both sent by the OpenTelemetry Python SDK)
//! grouped by type, message shape and top frame, with counts, services and a trace to open.

use reqwest::StatusCode;
use tests::explorer::{engine_for_project, get, python_client};
use tests::monitoring::setup_with;

#[tokio::test(flavor = "multi_thread")]
async fn exceptions_are_grouped_by_their_fingerprint() {
    let (cp, admin, p) = setup_with(|_| {}).await;
    let engine = engine_for_project(&cp, "explorer_exceptions", &p, "tok-e").await;
    let now_ns = chrono::Utc::now()
        .timestamp_nanos_opt()
        .unwrap()
        .to_string();
    let http = engine.http_url("");
    python_client("explorer_logs.py", &[&http, "tok-e", &now_ns]).await;
    let traces = python_client("explorer_traces.py", &[&http, "tok-e", &now_ns]).await;
    engine.settle().await;
    let trace =
        serde_json::from_slice::<serde_json::Value>(&traces).unwrap()["checkout"]["trace_id"]
            .clone();

    let (status, groups) = get(
        &cp,
        &admin,
        &format!("/api/v1/projects/{p}/exceptions"),
        &[("last", "2h")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{groups}");
    let groups = groups.as_array().unwrap();
    // Error and fatal logs (every fifth and fifth-plus-one of 30): two message shapes, six
    // each, across the three services; the span's exception alone.
    let shape = |m: &str| {
        groups
            .iter()
            .find(|g| g["message"] == m)
            .unwrap_or_else(|| panic!("{m}: {groups:?}"))
            .clone()
    };
    let cache = shape("cache miss for key cart:N");
    assert_eq!(cache["count"], 6);
    assert_eq!(cache["source"], "log");
    assert_eq!(cache["services"].as_array().unwrap().len(), 3);
    let rotated = shape("user's session expired; N% of tokens rotated");
    assert_eq!(rotated["count"], 6);
    let unique = shape("duplicate key N");
    assert_eq!(unique["exception_type"], "UniqueViolation");
    assert_eq!(unique["sample"], "duplicate key 7");
    assert_eq!(unique["count"], 1);
    assert_eq!(unique["source"], "span");
    assert_eq!(unique["services"], serde_json::json!(["checkout"]));
    assert_eq!(unique["trace_id"], trace);
    assert_eq!(groups.len(), 3, "{groups:?}");
    assert!(unique["first_seen"].as_i64().unwrap() <= unique["last_seen"].as_i64().unwrap());

    let mut b = crate::ui::Browser::new(&cp);
    b.sign_in("admin@vigil.test").await;
    let (status, _, html) = b.get(&format!("/projects/{p}/exceptions?last=6h")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        crate::ui::select(&html, "#exception-list tbody tr").len(),
        3
    );
    assert!(html.contains(&format!("/traces/{}", trace.as_str().unwrap())));
    engine.stop().await;
}
