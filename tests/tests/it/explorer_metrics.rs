//! The explorer's metrics over real data: a gauge, a counter and a histogram sent by the
//! OpenTelemetry Python SDK (`tests/python/explorer_metrics.py`) in three exports; the names
//! list them with their types, and each aggregation — avg/sum/min/max, rate, p50/p95/p99
//! from buckets, grouped by an attribute — gives the values computed here by hand.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tests::control::{Auth, ControlPlane};
use tests::explorer::{engine_for_project, get, python_client};
use tests::monitoring::setup_with;

async fn series(
    cp: &ControlPlane,
    auth: &Auth,
    p: &str,
    params: &[(&str, &str)],
) -> (StatusCode, Value) {
    get(
        cp,
        auth,
        &format!("/api/v1/projects/{p}/metrics/series?last=1h"),
        params,
    )
    .await
}

/// Each group's values, all points.
fn values(chart: &Value) -> Vec<(String, Vec<f64>)> {
    chart["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["group"].as_str().unwrap().to_owned(),
                s["points"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["v"].as_f64().unwrap())
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn metric_charts_aggregate_exactly() {
    let (cp, admin, p) = setup_with(|_| {}).await;
    let engine = engine_for_project(&cp, "explorer_metrics", &p, "tok-m").await;
    python_client("explorer_metrics.py", &[&engine.http_url(""), "tok-m"]).await;
    engine.settle().await;

    let names = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/metrics?last=1h"),
            &admin,
            None,
        )
        .await;
    let listed: Vec<(String, String, String)> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                m["metric_type"].as_str().unwrap().to_owned(),
                m["service"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (name, kind) in [
        ("latency", "histogram"),
        ("orders", "sum"),
        ("queue.depth", "gauge"),
    ] {
        assert!(
            listed.contains(&(name.into(), kind.into(), "shop".into())),
            "{listed:?}"
        );
    }

    // The gauge by queue: a was 10, 30, 30 and b 40 three times (steps may split the exports,
    // so sums add up over points and extremes hold over them).
    let total = |chart: &Value, group: &str| -> f64 {
        values(chart)
            .into_iter()
            .find(|(g, _)| g == group)
            .unwrap()
            .1
            .iter()
            .sum()
    };
    let (status, chart) = series(
        &cp,
        &admin,
        &p,
        &[
            ("name", "queue.depth"),
            ("agg", "sum"),
            ("group_by", "queue"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{chart}");
    assert_eq!(total(&chart, "a"), 70.0);
    assert_eq!(total(&chart, "b"), 120.0);
    let (_, chart) = series(
        &cp,
        &admin,
        &p,
        &[
            ("name", "queue.depth"),
            ("agg", "max"),
            ("group_by", "queue"),
        ],
    )
    .await;
    assert_eq!(
        values(&chart)[0].1.iter().copied().fold(f64::MIN, f64::max),
        30.0
    );
    let (_, chart) = series(
        &cp,
        &admin,
        &p,
        &[
            ("name", "queue.depth"),
            ("agg", "min"),
            ("group_by", "queue"),
        ],
    )
    .await;
    assert_eq!(
        values(&chart)[0].1.iter().copied().fold(f64::MAX, f64::min),
        10.0
    );
    let (_, chart) = series(
        &cp,
        &admin,
        &p,
        &[("name", "queue.depth"), ("agg", "avg"), ("step", "86400")],
    )
    .await;
    let avg = values(&chart);
    assert_eq!(avg.len(), 1);
    assert!(
        (avg[0].1[0] - 190.0 / 6.0).abs() < 1e-9,
        "(10 + 30 + 30 + 3 × 40) / 6: {avg:?}"
    );
    assert_eq!(chart["step_secs"], 86400);

    // The counter's rate per route over a day-long step: cumulative 5 → 12 and 1 → 2.
    let (_, chart) = series(
        &cp,
        &admin,
        &p,
        &[
            ("name", "orders"),
            ("agg", "rate"),
            ("group_by", "route"),
            ("step", "86400"),
        ],
    )
    .await;
    let rates = values(&chart);
    assert_eq!(rates.len(), 2);
    assert_eq!((rates[0].1[0] * 86400.0).round(), 7.0, "/buy: {rates:?}");
    assert_eq!((rates[1].1[0] * 86400.0).round(), 1.0, "/cart: {rates:?}");

    // Histogram percentiles from the buckets: 1, 7, 30, 200 in 0|5|10|25|50|75|100|250|….
    for (agg, want) in [("p50", 10.0), ("p95", 220.0)] {
        let (_, chart) = series(&cp, &admin, &p, &[("name", "latency"), ("agg", agg)]).await;
        let points = &values(&chart)[0].1;
        assert!(
            !points.is_empty() && points.iter().all(|v| (*v - want).abs() < 1e-9),
            "{agg}: {points:?}"
        );
    }

    // Steps keep a series short; bad requests say why.
    let (_, chart) = series(&cp, &admin, &p, &[("name", "queue.depth")]).await;
    assert!(3600 / chart["step_secs"].as_i64().unwrap() <= 2000);
    for params in [
        vec![("name", "queue.depth"), ("agg", "median")],
        vec![("name", "")],
    ] {
        let (status, body) = series(&cp, &admin, &p, &params).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{params:?}: {body}");
    }
    let (status, chart) = series(
        &cp,
        &admin,
        &p,
        &[("name", "x' OR 1=1 --"), ("group_by", "') --")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(chart["series"], serde_json::json!([]));

    // The page draws the chart.
    let mut b = crate::ui::Browser::new(&cp);
    b.sign_in("admin@vigil.test").await;
    let (status, _, html) = b
        .get(&format!(
            "/projects/{p}/metrics?name=queue.depth&agg=max&group_by=queue&last=1h"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        crate::ui::select(&html, "svg.metric-chart polyline").len(),
        2,
        "{html}"
    );
    assert!(
        crate::ui::select(&html, "#metric-names a")
            .iter()
            .any(|n| n.contains("latency"))
    );
    engine.stop().await;
}
