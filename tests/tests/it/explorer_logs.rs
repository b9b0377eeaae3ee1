//! The explorer's logs API over real data: records sent by the OpenTelemetry Python SDK
//! (`tests/python/explorer_logs.py`) through an ingest engine into ClickHouse, for two
//! projects; each query feature returns exactly the records it should (computed here from what
//! the script says it sent), cursors page through all of them once, the histogram and facets
//! count them, a record reads back whole with its attribute types, injection attempts return
//! an error or nothing, and the other project's records never show.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tests::control::{Auth, ControlPlane};
use tests::explorer::{get, python_client};
use tests::monitoring::setup_with;

async fn send(engine: &tests::TestEngine, token: &str, now_ns: i64) -> Vec<Value> {
    let out = python_client(
        "explorer_logs.py",
        &[&engine.http_url(""), token, &now_ns.to_string()],
    )
    .await;
    serde_json::from_slice::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn seqs(page: &Value) -> BTreeSet<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == "seq")
                .unwrap()["value"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

async fn query(
    cp: &ControlPlane,
    auth: &Auth,
    p: &str,
    params: &[(&str, &str)],
) -> (StatusCode, Value) {
    get(
        cp,
        auth,
        &format!("/api/v1/projects/{p}/logs?last=2h"),
        params,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn log_searches_return_exactly_the_matching_records() {
    let (cp, admin, p) = setup_with(|_| {}).await;
    let other = cp
        .ok(
            Method::POST,
            "/api/v1/projects",
            &admin,
            Some(serde_json::json!({"name": "other"})),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let database = cp.results_database().to_owned();
    let (p2, other2) = (p.clone(), other.clone());
    let engine = tests::TestEngine::start_with("explorer_logs", move |c| {
        c.ingest_tokens = ingest_engine::config::Secret(format!("tok-a={p2},tok-b={other2}"));
        c.clickhouse.database = database;
    })
    .await;
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let sent = send(&engine, "tok-a", now_ns).await;
    send(&engine, "tok-b", now_ns).await;
    engine.settle().await;

    // What each query must return, from what was sent.
    let all: BTreeSet<i64> = sent.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    let matching = |pred: &dyn Fn(&Value) -> bool| -> BTreeSet<i64> {
        sent.iter()
            .filter(|r| pred(r))
            .map(|r| r["seq"].as_i64().unwrap())
            .collect()
    };
    let body = |r: &Value| r["body"].as_str().unwrap().to_owned();
    let attr = |r: &Value, k: &str| r["attrs"][k].clone();
    let rank = |s: &str| {
        ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
            .iter()
            .position(|x| *x == s)
            .unwrap()
    };
    let cases: Vec<(&str, BTreeSet<i64>)> = vec![
        ("", all.clone()),
        (
            "timeout",
            matching(&|r| body(r).to_lowercase().contains("timeout")),
        ),
        (
            "TIMEOUT",
            matching(&|r| body(r).to_lowercase().contains("timeout")),
        ),
        (
            "\"Connection reset\"",
            matching(&|r| body(r).contains("Connection reset")),
        ),
        (
            "time*ms",
            matching(&|r| body(r).starts_with("timeout after")),
        ),
        ("service:cart", matching(&|r| r["service"] == "cart")),
        ("-service:cart", matching(&|r| r["service"] != "cart")),
        (
            "severity:>=error",
            matching(&|r| rank(r["severity"].as_str().unwrap()) >= 3),
        ),
        ("severity:warn", matching(&|r| r["severity"] == "WARN")),
        (
            "http.status_code:[500 TO 599]",
            matching(&|r| attr(r, "http.status_code") == 503),
        ),
        (
            "http.status_code:503",
            matching(&|r| attr(r, "http.status_code") == 503),
        ),
        (
            "duration.ms:>100",
            matching(&|r| attr(r, "duration.ms").as_f64().unwrap() > 100.0),
        ),
        (
            "seq:{5 TO 9}",
            matching(&|r| (6..9).contains(&r["seq"].as_i64().unwrap())),
        ),
        ("user.id:*", matching(&|r| !attr(r, "user.id").is_null())),
        (
            "resource.k8s.pod.name:*",
            matching(&|r| !r["pod"].is_null()),
        ),
        (
            "resource.k8s.pod.name:cart-1a2",
            matching(&|r| r["pod"] == "cart-1a2"),
        ),
        (
            "http.route:/api/*",
            matching(&|r| attr(r, "http.route").as_str().unwrap().starts_with("/api/")),
        ),
        ("retry:true", matching(&|r| attr(r, "retry") == true)),
        (
            "service:checkout AND NOT severity:debug",
            matching(&|r| r["service"] == "checkout" && r["severity"] != "DEBUG"),
        ),
        (
            "(service:cart OR service:search) retry:true",
            matching(&|r| r["service"] != "checkout" && attr(r, "retry") == true),
        ),
        ("\"50%\"", matching(&|r| body(r).contains("50%"))),
        ("user's", matching(&|r| body(r).contains("user's"))),
    ];
    for (q, want) in &cases {
        let (status, page) = query(&cp, &admin, &p, &[("q", q), ("limit", "500")]).await;
        assert_eq!(status, StatusCode::OK, "{q}: {page}");
        assert_eq!(&seqs(&page), want, "{q}");
    }
    assert!(
        !cases[1].1.is_empty() && cases[1].1.len() < all.len(),
        "the cases discriminate"
    );

    // Injection attempts in every place a value goes: an error that says why, or no rows —
    // never another project's records or a ClickHouse error.
    for q in [
        "service:\"x' OR 1=1 --\"",
        "') OR ('1'='1",
        "resource.k8s.pod.name:\"' OR project_id != '\"",
        "http.route:\"\\' OR 1=1) --\"",
        "seq:>\"1 OR 1=1\"",
        "seq:[\"0\" TO 9)",
        "x\\:y:1",
        "time*'||'*",
        "trace_id:*' UNION ALL SELECT * FROM system.tables --",
    ] {
        let (status, page) = query(&cp, &admin, &p, &[("q", q)]).await;
        match status {
            StatusCode::OK => assert_eq!(seqs(&page), BTreeSet::new(), "{q}"),
            StatusCode::BAD_REQUEST => {
                let message = page["error"]["message"].as_str().unwrap();
                assert!(message.starts_with("q: "), "{q}: {message}");
            }
            other => panic!("{q}: {other} {page}"),
        }
    }
    for (name, value) in [
        ("last", "1h' OR 1=1"),
        ("cursor", "1-2' OR 1=1"),
        ("limit", "1; DROP TABLE logs"),
        ("from", "2026-01-01T00:00:00Z' OR '1"),
    ] {
        let (status, _) = query(&cp, &admin, &p, &[(name, value)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}={value}");
    }

    // Errors say where and why, and nothing else.
    for (q, why) in [
        ("(a OR b", "at character 1"),
        ("body:>3", "not compared"),
        ("duration.ms:>", "missing"),
    ] {
        let (status, error) = query(&cp, &admin, &p, &[("q", q)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{q}: {message}");
        assert!(!message.to_lowercase().contains("clickhouse"), "{message}");
    }

    // Pages by cursor: every record once, newest first.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params = vec![("limit", "7")];
        if let Some(c) = &cursor {
            params.push(("cursor", c));
        }
        let (status, page) = query(&cp, &admin, &p, &params).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let times: Vec<u64> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["time_unix_nano"].as_u64().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), all.len());
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        all.len(),
        "no record twice"
    );

    // The histogram and facets count what the search finds.
    let (_, hist, _) = cp
        .call(
            Method::GET,
            &format!("/api/v1/projects/{p}/logs/histogram?last=2h&q=service:checkout"),
            &admin,
            None,
        )
        .await;
    let bars = hist["bars"].as_array().unwrap();
    let count = |level: &str| bars.iter().map(|b| b[level].as_u64().unwrap()).sum::<u64>();
    assert_eq!(
        count("debug") + count("info") + count("warn") + count("error") + count("fatal"),
        10
    );
    assert_eq!(count("error"), 2);
    assert!(hist["step_secs"].as_i64().unwrap() * 120 >= 7200);
    let (_, facets, _) = cp
        .call(
            Method::GET,
            &format!("/api/v1/projects/{p}/logs/facets?last=2h&field=service&field=severity&field=http.route&field=resource.k8s.pod.name"),
            &admin,
            None,
        )
        .await;
    let facet = |field: &str| -> Vec<(String, u64)> {
        facets
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == field)
            .unwrap()["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["value"].as_str().unwrap().to_owned(),
                    v["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        facet("service"),
        [
            ("cart".to_owned(), 10),
            ("checkout".to_owned(), 10),
            ("search".to_owned(), 10)
        ]
    );
    assert_eq!(facet("severity").iter().map(|v| v.1).sum::<u64>(), 30);
    assert_eq!(facet("http.route").len(), 3);
    assert_eq!(
        facet("resource.k8s.pod.name")
            .iter()
            .map(|v| v.1)
            .sum::<u64>(),
        20
    );

    // A record whole, with its attributes' types.
    let (_, page) = query(&cp, &admin, &p, &[("q", "seq:3"), ("limit", "1")]).await;
    let id = page["items"][0]["id"].as_str().unwrap();
    let record = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/logs/{id}"),
            &admin,
            None,
        )
        .await;
    let typed = |key: &str| {
        record["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .unwrap()["type"]
            .clone()
    };
    assert_eq!(typed("seq"), "int");
    assert_eq!(typed("duration.ms"), "double");
    assert_eq!(typed("retry"), "bool");
    assert_eq!(typed("http.route"), "string");
    assert_eq!(record["service"], "checkout");
    let sent3 = sent.iter().find(|r| r["seq"] == 3).unwrap();
    assert_eq!(record["body"], sent3["body"]);
    assert_eq!(
        record["time_unix_nano"].as_i64().unwrap(),
        sent3["time_ns"].as_i64().unwrap()
    );

    // Another project's caller sees only its own; a stranger sees nothing at all.
    let (_, theirs) = query(&cp, &admin, &other, &[("limit", "500")]).await;
    assert_eq!(seqs(&theirs).len(), 30);
    let (status, _, _) = cp
        .call(
            Method::GET,
            &format!("/api/v1/projects/{p}/logs?last=1h"),
            &Auth::None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Ranges are bounded.
    let (status, _, _) = cp
        .call(
            Method::GET,
            &format!("/api/v1/projects/{p}/logs?last=90d"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A live tail: a record sent now arrives within 2 s, and a reconnect resumes after it.
    let tail = reqwest::Client::new()
        .get(format!("{}/api/v1/projects/{p}/logs/tail?q=tail", cp.base))
        .header(
            "cookie",
            match &admin {
                Auth::Session { cookie, .. } => cookie.clone(),
                _ => unreachable!("the admin signs in with a session"),
            },
        )
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), StatusCode::OK);
    assert!(
        tail.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut events = tail;
    let sent_at = std::time::Instant::now();
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let otlp = serde_json::json!({"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "checkout"}}]},
        "scopeLogs": [{"logRecords": [
            {"timeUnixNano": now.to_string(), "severityText": "INFO", "body": {"stringValue": "tail me please"}},
            {"timeUnixNano": now.to_string(), "severityText": "INFO", "body": {"stringValue": "not this one"}}]}]}]});
    let accepted = reqwest::Client::new()
        .post(engine.http_url("/v1/logs"))
        .header("x-vigil-token", "tok-a")
        .json(&otlp)
        .send()
        .await
        .unwrap();
    assert!(accepted.status().is_success());
    let mut seen = String::new();
    let arrived = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(chunk) = events.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("tail me please") {
                return;
            }
        }
    })
    .await;
    assert!(arrived.is_ok(), "nothing arrived: {seen}");
    assert!(
        sent_at.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        sent_at.elapsed()
    );
    assert!(
        seen.contains("event: log") && !seen.contains("not this one"),
        "{seen}"
    );
    let last_id = seen
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .to_owned();
    drop(events);
    let (status, bad, _) = cp
        .call(
            Method::GET,
            &format!("/api/v1/projects/{p}/logs/tail?q=(oops"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    // Resuming after the record it got: nothing again until something new.
    let resumed = reqwest::Client::new()
        .get(format!("{}/api/v1/projects/{p}/logs/tail?q=tail", cp.base))
        .header(
            "cookie",
            match &admin {
                Auth::Session { cookie, .. } => cookie.clone(),
                _ => unreachable!("the admin signs in with a session"),
            },
        )
        .header("last-event-id", last_id)
        .send()
        .await
        .unwrap();
    let mut again = resumed;
    let repeat = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        let mut text = String::new();
        while let Some(chunk) = again.chunk().await.unwrap() {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains("tail me please") {
                return text;
            }
        }
        text
    })
    .await;
    assert!(repeat.is_err(), "the record came again: {repeat:?}");

    // The logs page shows the same: the records, the histogram and facets that add to the
    // search.
    let mut b = crate::ui::Browser::new(&cp);
    b.sign_in("admin@vigil.test").await;
    let (status, _, html) = b
        .get(&format!("/projects/{p}/logs?q=service%3Acart&last=6h"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(crate::ui::select(&html, "#log-list tbody tr").len(), 10);
    assert!(html.contains("10 records in the range"), "{html}");
    assert!(
        html.contains("<rect class=\"lvl-"),
        "the histogram has bars"
    );
    let facet_links = crate::ui::select(&html, ".facets a");
    assert!(facet_links.iter().any(|l| l == "cart"), "{facet_links:?}");
    let (status, _, html) = b
        .get(&format!("/projects/{p}/logs?q=%28oops&last=1h"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(crate::ui::select(&html, ".error")[0].contains("not closed"));
    let (status, _, html) = b.get(&format!("/projects/{p}/logs/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("duration.ms") && html.contains("double"));
    engine.stop().await;
}

/// A query whose request goes away is killed: ClickHouse logs it as cancelled, not finished.
#[tokio::test(flavor = "multi_thread")]
async fn a_query_whose_client_goes_away_is_killed() {
    let (cp, admin, p) = setup_with(|c| c.explorer_log_queries = true).await;
    let db = cp.results_database().to_owned();
    let engine = tests::explorer::engine_for_project(&cp, "explorer_cancel", &p, "tok-c").await;
    tests::wait_until(std::time::Duration::from_secs(30), "the schema", || async {
        tests::schema_ready(&db).await.then_some(())
    })
    .await;
    // Enough records that a week's attribute filter scans for a good while.
    tests::clickhouse(&format!(
        "INSERT INTO {db}.logs (project_id, service_name, time, body, attributes_keys, \
         attributes_values, attributes_types) \
         SELECT '{p}', 'bulk', toDateTime(toUInt32(now()) - number % 600000), \
                concat('record ', toString(number)), ['k'], [toString(number)], [1] \
         FROM system.numbers LIMIT 10000000"
    ))
    .await;
    let Auth::Session { cookie, .. } = &admin else {
        panic!("the admin signs in with a session")
    };
    // A wildcard on an attribute's value over every record of the week.
    let url = format!(
        "{}/api/v1/projects/{p}/logs?last=7d&q=k%3A%2Acancelme%2A",
        cp.base
    );
    let request = reqwest::Client::new()
        .get(url)
        .header("cookie", cookie.as_str())
        .send();
    let gone = tokio::time::timeout(std::time::Duration::from_millis(200), request).await;
    assert!(
        gone.is_err(),
        "the search answered within 200 ms: it must run longer to be cancelled"
    );
    let logged = |kind: u8| {
        let db = db.clone();
        async move {
            tests::clickhouse("SYSTEM FLUSH LOGS").await;
            tests::clickhouse(&format!(
                "SELECT count() FROM system.query_log WHERE type = {kind} \
                 AND query LIKE '%{db}.logs%' AND query LIKE '%cancelme%'"
            ))
            .await
            .trim()
            .parse::<u64>()
            .unwrap()
        }
    };
    // Cancelled (QUERY_WAS_CANCELLED, 394) while processing, and never finished.
    tests::wait_until(
        std::time::Duration::from_secs(10),
        "the query cancelled",
        || async { (logged(4).await == 1).then_some(()) },
    )
    .await;
    let cancelled = tests::clickhouse(&format!(
        "SELECT exception FROM system.query_log WHERE type = 4 \
         AND query LIKE '%{db}.logs%' AND query LIKE '%cancelme%'"
    ))
    .await;
    assert!(cancelled.contains("Code: 394"), "{cancelled}");
    assert_eq!(logged(2).await, 0, "it never finished");
    engine.stop().await;
}
