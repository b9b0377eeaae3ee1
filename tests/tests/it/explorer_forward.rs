//! The explorer over logs sent as Fluent Forward frames by the official Python `fluent-logger`
//! (`tests/python/explorer_forward.py`), as Fluent Bit and Fluentd send them: the tag is the
//! service, the body and severity come from the usual field spellings, and a numeric field
//! compares as a number. Each query returns exactly the records it should.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use tests::TestEngine;
use tests::explorer::{get, python_client};
use tests::monitoring::setup_with;

#[tokio::test(flavor = "multi_thread")]
async fn forward_records_are_searchable_like_any_log() {
    let (cp, admin, p) = setup_with(|_| {}).await;
    let database = cp.results_database().to_owned();
    let project = p.clone();
    let engine = TestEngine::start_with("explorer_forward", move |c| {
        c.clickhouse.database = database;
        c.forward.project = project;
    })
    .await;
    let forward = engine.forward.expect("a Forward listener");
    python_client(
        "explorer_forward.py",
        &[&forward.ip().to_string(), &forward.port().to_string()],
    )
    .await;
    engine.settle().await;

    let bodies = |page: &serde_json::Value| -> BTreeSet<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["body"].as_str().unwrap().to_owned())
            .collect()
    };
    let path = format!("/api/v1/projects/{p}/logs");
    // fluent-logger sends without acknowledgements: wait until the four records are stored.
    tests::wait_until(Duration::from_secs(30), "the four records", || async {
        let (_, page) = get(&cp, &admin, &path, &[("last", "1h")]).await;
        (page["items"].as_array()?.len() == 4).then_some(())
    })
    .await;
    for (q, want) in [
        (
            "service:checkout",
            vec!["payment failed: card declined", "payment accepted"],
        ),
        (
            "severity:>=warn",
            vec![
                "payment failed: card declined",
                "query timeout after 250 ms",
            ],
        ),
        (
            "http.status:>=500",
            vec![
                "payment failed: card declined",
                "query timeout after 250 ms",
            ],
        ),
        (
            "http.status:[500 TO 503]",
            vec!["payment failed: card declined"],
        ),
        ("\"payment failed\"", vec!["payment failed: card declined"]),
        ("NOT http.status:*", vec!["index rebuilt"]),
        ("service:search AND severity:<info", vec!["index rebuilt"]),
    ] {
        let (status, page) = get(&cp, &admin, &path, &[("q", q), ("last", "1h")]).await;
        assert_eq!(status, StatusCode::OK, "{q}: {page}");
        let want: BTreeSet<String> = want.into_iter().map(str::to_owned).collect();
        assert_eq!(bodies(&page), want, "{q}");
    }
    engine.stop().await;
}
