//! The explorer's traces over real data: three traces sent by the OpenTelemetry Python SDK
//! (`tests/python/explorer_traces.py`) through an ingest engine — one across two services
//! with an error and an exception event, one short, one of 1,200 spans. The trace list finds
//! each by its spans, a trace reads back in start order with parents, events and attributes,
//! a big one pages, the services' figures add up, and the pages show the waterfall.

use reqwest::StatusCode;
use serde_json::Value;
use tests::explorer::{engine_for_project, get, python_client};
use tests::monitoring::setup_with;

fn trace_ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn traces_are_found_by_their_spans_and_read_back_whole() {
    let (cp, admin, p) = setup_with(|_| {}).await;
    let engine = engine_for_project(&cp, "explorer_traces", &p, "tok-t").await;
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let out = python_client(
        "explorer_traces.py",
        &[&engine.http_url(""), "tok-t", &now_ns.to_string()],
    )
    .await;
    let sent: Value = serde_json::from_slice(&out).unwrap();
    engine.settle().await;
    let (checkout, health, batch) = (
        sent["checkout"]["trace_id"].as_str().unwrap(),
        sent["health"]["trace_id"].as_str().unwrap(),
        sent["batch"]["trace_id"].as_str().unwrap(),
    );
    let traces = format!("/api/v1/projects/{p}/traces");

    // Latest first, with their roots and figures.
    let (status, list) = get(&cp, &admin, &traces, &[("last", "1h")]).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(trace_ids(&list), [batch, health, checkout]);
    let first = &list["items"][2];
    assert_eq!(first["root_service"], "frontend");
    assert_eq!(first["root_name"], "GET /checkout");
    assert_eq!(first["spans"], 3);
    assert_eq!(first["errors"], 1);
    assert_eq!(first["duration_ns"], 300_000_000);
    assert_eq!(list["items"][0]["spans"], 1200);

    // Found by any of their spans.
    for (q, want) in [
        ("duration:>250ms", vec![batch, checkout]),
        ("status:error", vec![checkout]),
        ("service:checkout", vec![checkout]),
        ("\"INSERT payment\"", vec![checkout]),
        ("db.system:postgresql", vec![checkout]),
        ("kind:server AND duration:<10ms", vec![health]),
        ("item*", vec![batch]),
        (
            "resource.host.name:h1 -service:worker",
            vec![health, checkout],
        ),
    ] {
        let (status, list) = get(&cp, &admin, &traces, &[("last", "1h"), ("q", q)]).await;
        assert_eq!(status, StatusCode::OK, "{q}: {list}");
        assert_eq!(trace_ids(&list), want, "{q}");
    }
    let (status, _) = get(
        &cp,
        &admin,
        &traces,
        &[("last", "1h"), ("q", "duration:>soon")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Paging.
    let (_, page) = get(&cp, &admin, &traces, &[("last", "1h"), ("limit", "2")]).await;
    assert_eq!(trace_ids(&page), [batch, health]);
    let before = page["next_before"].as_u64().unwrap().to_string();
    let (_, page) = get(
        &cp,
        &admin,
        &traces,
        &[("last", "1h"), ("limit", "2"), ("before", &before)],
    )
    .await;
    assert_eq!(trace_ids(&page), [checkout]);
    assert!(page["next_before"].is_null());

    // A trace whole, in start order.
    let (status, trace) = get(
        &cp,
        &admin,
        &format!("{traces}/{checkout}"),
        &[("last", "1h")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    let spans = trace["spans"].as_array().unwrap();
    let names: Vec<&str> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["GET /checkout", "charge", "INSERT payment"]);
    assert_eq!(spans[1]["parent_span_id"], sent["checkout"]["root"]);
    assert_eq!(spans[2]["parent_span_id"], sent["checkout"]["charge"]);
    assert_eq!(spans[1]["service"], "checkout");
    assert_eq!(spans[2]["status_code"], 2);
    assert_eq!(spans[2]["status_message"], "duplicate key");
    assert_eq!(spans[2]["events"][0]["name"], "exception");
    assert!(
        spans[2]["events"][0]["attributes"]
            .as_str()
            .unwrap()
            .contains("UniqueViolation")
    );
    let amount = spans[1]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "amount")
        .unwrap();
    assert_eq!(amount["type"], "double");
    // A big one, a page at a time.
    let (_, page) = get(
        &cp,
        &admin,
        &format!("{traces}/{batch}"),
        &[("last", "1h"), ("limit", "1000")],
    )
    .await;
    assert_eq!(page["total"], 1200);
    assert_eq!(page["spans"].as_array().unwrap().len(), 1000);
    assert_eq!(page["spans"][0]["name"], "nightly batch");
    let (_, rest) = get(
        &cp,
        &admin,
        &format!("{traces}/{batch}"),
        &[("last", "1h"), ("limit", "1000"), ("offset", "1000")],
    )
    .await;
    assert_eq!(rest["spans"].as_array().unwrap().len(), 200);
    assert_eq!(rest["spans"][199]["name"], "item 1198");
    for missing in [
        "0123456789abcdef0123456789abcdef",
        "not-a-trace",
        "' OR 1=1 --",
    ] {
        let (status, _) = get(
            &cp,
            &admin,
            &format!("{traces}/{missing}"),
            &[("last", "1h")],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    }

    // Services: entry spans' rate, errors and percentiles.
    let (_, services) = get(
        &cp,
        &admin,
        &format!("/api/v1/projects/{p}/services"),
        &[("last", "1h")],
    )
    .await;
    let service = |name: &str| {
        services
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(service("frontend")["spans"], 2);
    assert_eq!(
        service("checkout")["spans"],
        1,
        "the server span; the client span is no entry"
    );
    assert_eq!(service("worker")["spans"], 1, "the root");
    assert_eq!(service("checkout")["error_rate"], 0.0);
    let p50 = service("frontend")["p50_ns"].as_f64().unwrap();
    assert!((5e6..=3e8).contains(&p50), "{p50}");

    // The pages: the list and the waterfall in tree order with the error marked.
    let mut b = crate::ui::Browser::new(&cp);
    b.sign_in("admin@vigil.test").await;
    let (status, _, html) = b.get(&format!("/projects/{p}/traces?last=1h")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(crate::ui::select(&html, "#trace-list tbody tr").len(), 3);
    assert_eq!(crate::ui::select(&html, "#service-list tbody tr").len(), 3);
    let insert = sent["checkout"]["insert"].as_str().unwrap();
    let (status, _, html) = b
        .get(&format!(
            "/projects/{p}/traces/{checkout}?last=1h&span={insert}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let rows = crate::ui::select(&html, "#waterfall tbody td:first-child");
    assert_eq!(rows.len(), 3);
    assert!(
        rows[2].starts_with("INSERT payment") && rows[2].contains("error"),
        "{rows:?}"
    );
    assert!(
        html.contains("class=\"d2\""),
        "the insert is two levels down"
    );
    assert!(
        crate::ui::select(&html, "#span-detail")
            .join(" ")
            .contains("UniqueViolation")
    );
    // The big trace: its root's 499 children on the page start folded; unfolded, they show.
    let (_, _, html) = b
        .get(&format!("/projects/{p}/traces/{batch}?last=1h"))
        .await;
    let rows = crate::ui::select(&html, "#waterfall tbody td:first-child");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].contains("nightly batch") && rows[0].contains("+499 spans"),
        "{rows:?}"
    );
    assert!(html.contains("Later spans"));
    let unfold = crate::ui::attribute(&html, "#waterfall a.fold", "href");
    assert_eq!(unfold, "?last=1h&fold=");
    let (_, _, html) = b
        .get(&format!("/projects/{p}/traces/{batch}{unfold}"))
        .await;
    assert_eq!(crate::ui::select(&html, "#waterfall tbody tr").len(), 500);
    let fold = crate::ui::attribute(&html, "#waterfall a.fold", "href");
    assert!(fold.starts_with("?last=1h&fold="), "{fold}");
    engine.stop().await;
}
