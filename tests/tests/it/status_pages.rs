//! Public status pages through a real server, worker and PostgreSQL: a page with a resource
//! and a group, 90-day bars and uptime from the worker's rollups of a history put in the
//! status timeline, a live outage opened by probe results (group partly down, incident with
//! its public updates), an announcement and maintenance; the Statuspage JSON documents checked
//! against a schema and the feeds read by Python's feedparser; badges; a password-protected
//! page refused without its password and served with it; a custom host; the rate limit; and
//! the last page still served, marked stale, when PostgreSQL refuses connections. Subscribers
//! are `status_subscribers.rs`, the operator's forms `status_page_forms.rs`, refused settings,
//! the logo and the per-client bound `status_page_settings.rs`.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::control::{Auth, ControlPlane, TestWorker};
use tests::monitoring::{
    WAIT, create_monitor, probe_result, setup_with, status_becomes, status_history,
};
use tests::wait_until;

use crate::ui::select;

pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
    base: String,
}

impl Client {
    pub(crate) fn new(cp: &ControlPlane) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: cp.base.clone(),
        }
    }

    pub(crate) async fn get(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, String) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.text().await.unwrap())
    }
}

pub(crate) async fn http_monitor(cp: &ControlPlane, admin: &Auth, p: &str, name: &str) -> String {
    let created = create_monitor(
        cp,
        admin,
        p,
        json!({"name": name, "kind": "http", "settings": {"url": format!("https://{name}.test")}}),
    )
    .await;
    created["monitor"]["id"].as_str().unwrap().to_owned()
}

/// The text of the first element matching `css`.
pub(crate) fn text(html: &str, css: &str) -> String {
    select(html, css).into_iter().next().unwrap_or_default()
}

#[tokio::test]
async fn a_status_page_shows_history_outages_incidents_and_serves_tools_browsers_and_hosts() {
    let (cp, admin, p) = setup_with(|c| c.status_snapshot_max_age_secs = 2).await;
    let api = http_monitor(&cp, &admin, &p, "api").await;
    let db = http_monitor(&cp, &admin, &p, "db").await;
    let cdn = http_monitor(&cp, &admin, &p, "cdn").await;
    status_history(&cp, &p, &api).await;
    // The worker's first rollup covers the last 90 days.
    let results = cp.results_database().to_owned();
    let worker = TestWorker::start(&cp, "status", |w| w.clickhouse_database = results).await;
    let key = format!("{}probe_result", worker.stream_prefix);
    let t = chrono::Utc::now().timestamp();
    let fast = json!({"is_online": true, "status_code": 200, "response_time_ms": 42.0});
    probe_result(&key, "f1", &p, &api, t - 60, fast).await;
    let pool = sqlx::PgPool::connect(&cp.database_url).await.unwrap();
    wait_until(WAIT, "the rollup of ten days ago", || async {
        let (down,): (i64,) = sqlx::query_as(
            "SELECT COALESCE(sum(down_secs), 0)::int8 FROM monitor_daily WHERE monitor_id = $1::uuid",
        )
        .bind(&api)
        .fetch_one(&pool)
        .await
        .unwrap();
        (down == 3600).then_some(())
    })
    .await;

    let page = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/status-pages"),
            &admin,
            Some(json!({"name": "Shop <status>", "slug": "shop", "description": "How the shop is doing",
                        "footer_links": [{"label": "Home", "url": "https://shop.test"}]})),
        )
        .await;
    let page_id = page["id"].as_str().unwrap().to_owned();
    let layout = json!({
        "resources": [{"monitor_id": api, "display_name": "Public API", "show_chart": true}],
        "groups": [{"name": "Backend", "resources": [
            {"monitor_id": db, "display_name": "Database"},
            {"monitor_id": cdn, "display_name": "CDN"}]}]
    });
    let base = format!("/api/v1/projects/{p}/status-pages/{page_id}");
    let stored = cp
        .ok(Method::PUT, &format!("{base}/layout"), &admin, Some(layout))
        .await;
    assert_eq!(stored["groups"][0]["resources"][1]["display_name"], "CDN");
    cp.ok(
        Method::POST,
        &format!("{base}/announcements"),
        &admin,
        Some(json!({"title": "New region", "body": "Frankfurt is open."})),
    )
    .await;
    let soon = chrono::Utc::now() + chrono::Duration::days(2);
    cp.ok(
        Method::POST,
        &format!("/api/v1/projects/{p}/maintenance-windows"),
        &admin,
        Some(
            json!({"title": "Database upgrade", "description": "Postgres 17",
                    "starts_at": soon, "ends_at": soon + chrono::Duration::hours(1),
                    "monitor_ids": [db]}),
        ),
    )
    .await;

    // What a visitor sees.
    let client = Client::new(&cp);
    let (status, headers, html) = client.get("/status/shop", &[]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(!html.contains("<status>"), "the name is escaped");
    assert_eq!(text(&html, "header h1"), "Shop <status>");
    assert_eq!(text(&html, ".banner"), "All Systems Operational");
    assert_eq!(
        select(&html, ".name"),
        ["Public API", "Backend", "Database", "CDN"]
    );
    assert_eq!(select(&html, "ol.bar").len(), 4);
    assert_eq!(select(&html, "ol.bar > li").len(), 4 * 90);
    let ten_days_ago = (chrono::Utc::now() - chrono::Duration::days(10))
        .format("%-d %b %Y")
        .to_string();
    let api_days = select(&html, "#systems ~ ul > li:first-child > ol.bar .tip");
    let outage = api_days
        .iter()
        .find(|d| d.starts_with(&ten_days_ago))
        .unwrap();
    assert!(outage.contains("1 h 0 min down"), "{outage}");
    assert!(api_days[0].ends_with("no data"), "{}", api_days[0]);
    let uptime = select(&html, "#systems ~ ul > li:first-child > ul.uptime li");
    assert_eq!(
        uptime,
        [
            "24 h: 100 %",
            "7 d: 100 %",
            "30 d: 99.79 %",
            "90 d: 99.79 %"
        ]
    );
    assert!(html.contains("New region") && html.contains("Frankfurt is open."));
    assert!(text(&html, "#maintenance ~ article h3").contains("Database upgrade"));
    // The response-time chart, once ClickHouse has the result.
    let chart = wait_until(WAIT, "the chart", || async {
        let (_, _, html) = client.get("/status/shop", &[]).await;
        let doc = scraper::Html::parse_document(&html);
        let svg = scraper::Selector::parse("svg.chart").unwrap();
        let label = doc
            .select(&svg)
            .next()?
            .value()
            .attr("aria-label")?
            .to_owned();
        Some(label)
    })
    .await;
    assert!(chart.ends_with("up to 42 ms"), "{chart}");

    // An outage of one group member: the group is partly down, the page says so within 2 s,
    // and the incident the criteria open is listed with its updates. The incident is of the
    // project's first severity (critical), so the page's indicator is critical.
    probe_result(
        &key,
        "o1",
        &p,
        &db,
        t,
        json!({"is_online": false, "error": "refused"}),
    )
    .await;
    status_becomes(&cp, &admin, &p, &db, "Offline").await;
    let seen = std::time::Instant::now();
    let html = wait_until(Duration::from_secs(2), "the outage on the page", || async {
        let (_, _, html) = client.get("/status/shop", &[]).await;
        (text(&html, ".banner") == "Major System Outage").then_some(html)
    })
    .await;
    assert!(seen.elapsed() < Duration::from_secs(2));
    let states: Vec<String> = select(&html, ".state");
    assert_eq!(
        states,
        [
            "Operational",
            "Partial outage",
            "Major outage",
            "Operational"
        ]
    );
    let incidents = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incidents?open=true"),
            &admin,
            None,
        )
        .await;
    let incident = incidents["items"][0]["id"].as_str().unwrap().to_owned();
    assert!(text(&html, "#active-incidents ~ article").contains("investigating"));
    cp.ok(
        Method::POST,
        &format!("/api/v1/projects/{p}/incidents/{incident}/public-updates"),
        &admin,
        Some(json!({"status": "identified", "body": "A disk filled up; <b>cleaning</b>."})),
    )
    .await;
    let html = wait_until(Duration::from_secs(2), "the public update", || async {
        let (_, _, html) = client.get("/status/shop", &[]).await;
        html.contains("A disk filled up").then_some(html)
    })
    .await;
    assert!(!html.contains("<b>cleaning"), "updates are escaped");
    assert!(
        text(&html, "#active-incidents ~ article").contains("A disk filled up; <b>cleaning</b>.")
    );
    let (status, _, detail) = client
        .get(&format!("/status/shop/incidents/{incident}"), &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail.contains("Affects Database"), "{detail}");

    // Conditional requests and gzip.
    let (_, headers, _) = client
        .get("/status/shop", &[("accept-encoding", "gzip")])
        .await;
    assert_eq!(headers["content-encoding"], "gzip");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, _) = client
        .get(
            "/status/shop",
            &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // Tools: the Statuspage documents against the schema, the feeds through feedparser.
    let checked = status_check(&cp, "/status/shop", None).await;
    for (name, document) in checked["documents"].as_object().unwrap() {
        assert_eq!(document["errors"], json!([]), "{name}: {document}");
    }
    let summary = &checked["documents"]["summary.json"]["body"];
    assert_eq!(summary["status"]["indicator"], "critical");
    assert_eq!(summary["incidents"][0]["impact"], "critical");
    let components = summary["components"].as_array().unwrap();
    let by_name = |name: &str| {
        components
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("Database")["status"], "major_outage");
    assert_eq!(by_name("Backend")["status"], "partial_outage");
    assert_eq!(by_name("Backend")["group"], true);
    assert_eq!(by_name("CDN")["group_id"], by_name("Backend")["id"]);
    assert_eq!(by_name("Public API")["status"], "operational");
    let open = &summary["incidents"][0];
    assert_eq!(open["status"], "identified");
    assert_eq!(
        open["incident_updates"][0]["body"],
        "A disk filled up; <b>cleaning</b>."
    );
    assert_eq!(open["components"][0]["name"], "Database");
    let upcoming = &checked["documents"]["scheduled-maintenances/upcoming.json"]["body"];
    assert_eq!(
        upcoming["scheduled_maintenances"][0]["name"],
        "Database upgrade"
    );
    assert_eq!(upcoming["scheduled_maintenances"][0]["status"], "scheduled");
    for kind in ["rss", "atom"] {
        let feed = &checked["feeds"][kind];
        assert_eq!(feed["bozo"], false, "{feed}");
        assert_eq!(feed["title"], "Shop <status>");
        let titles: Vec<&str> = feed["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["title"].as_str().unwrap())
            .collect();
        assert!(
            titles.iter().any(|t| t.ends_with("(identified)")),
            "{titles:?}"
        );
        assert!(
            titles.contains(&"Maintenance: Database upgrade (scheduled)"),
            "{titles:?}"
        );
    }

    // Badges.
    let (status, headers, svg) = client.get("/status/shop/badge.svg", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/svg+xml");
    assert!(svg.contains("major system outage"), "{svg}");
    let db_id = by_name("Database")["id"].as_str().unwrap().to_owned();
    let (_, _, svg) = client
        .get(&format!("/status/shop/badges/{db_id}/status.svg"), &[])
        .await;
    assert!(svg.contains("major outage"), "{svg}");

    // A custom host serves the page at `/`.
    cp.ok(
        Method::PATCH,
        &base,
        &admin,
        Some(json!({"domains": ["Status.Shop.Test"]})),
    )
    .await;
    let (status, _, html) = wait_until(WAIT, "the custom host", || async {
        let got = client.get("/", &[("host", "status.shop.test")]).await;
        (got.0 == StatusCode::OK).then_some(got)
    })
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text(&html, ".banner"), "Major System Outage");
    let (_, _, json) = client
        .get("/api/v2/status.json", &[("host", "status.shop.test:8443")])
        .await;
    assert!(json.contains("\"indicator\":\"critical\""), "{json}");
    let (_, headers, _) = client.get("/status/shop/api/v2/summary.json", &[]).await;
    assert_eq!(
        headers["access-control-allow-origin"], "*",
        "public documents are shared"
    );

    // A private page: nothing without the password, everything with it.
    cp.ok(
        Method::PATCH,
        &base,
        &admin,
        Some(json!({"visibility": "password", "password": "correct horse battery staple"})),
    )
    .await;
    let private_paths = [
        "/status/shop",
        "/status/shop/feed.rss",
        "/status/shop/feed.atom",
        "/status/shop/badge.svg",
        "/status/shop/api/v2/summary.json",
        &format!("/status/shop/incidents/{incident}"),
    ];
    let refused = wait_until(WAIT, "the page made private", || async {
        let (status, _, html) = client.get("/status/shop", &[]).await;
        (status == StatusCode::UNAUTHORIZED).then_some(html)
    })
    .await;
    assert!(!refused.contains("Database"), "nothing of the page leaks");
    for path in &private_paths {
        let (status, _, body) = client.get(path, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(!body.contains("disk filled"), "{path}: {body}");
    }
    let enter = |password: &'static str, origin: Option<&'static str>| {
        let mut request = client
            .http
            .post(format!("{}/status/shop/login", cp.base))
            .form(&[("password", password)]);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        async move { request.send().await.unwrap() }
    };
    let wrong = enter("guess", None).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let forged = enter("correct horse battery staple", Some("https://evil.test")).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let right = enter("correct horse battery staple", None).await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    let set_cookie = right.headers()["set-cookie"].to_str().unwrap();
    assert!(set_cookie.contains("HttpOnly"));
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    for path in &private_paths {
        let (status, headers, _) = client.get(path, &[("cookie", &cookie)]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            headers["cache-control"]
                .to_str()
                .unwrap()
                .starts_with("private")
        );
    }
    let (_, headers, _) = client
        .get("/status/shop/api/v2/summary.json", &[("cookie", &cookie)])
        .await;
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "private stays private"
    );
    let checked = status_check(&cp, "/status/shop", Some(&cookie)).await;
    assert_eq!(
        checked["documents"]["status.json"]["body"]["status"]["indicator"],
        "critical"
    );
    let (status, _, _) = client
        .get("/status/shop", &[("cookie", "vigil_page_x=1.00")])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    cp.ok(
        Method::PATCH,
        &base,
        &admin,
        Some(json!({"visibility": "public"})),
    )
    .await;

    // PostgreSQL refusing connections: the last page is still served, marked stale.
    let database = cp.database_url.rsplit('/').next().unwrap().to_owned();
    let (_, _, before) = wait_until(WAIT, "the page public again", || async {
        let got = client.get("/status/shop", &[]).await;
        (got.0 == StatusCode::OK).then_some(got)
    })
    .await;
    assert!(before.contains("A disk filled up"));
    worker.stop().await;
    pool.close().await;
    let admin_pool = sqlx::PgPool::connect(&tests::required_env("VIGIL_TEST_DATABASE_URL"))
        .await
        .unwrap();
    sqlx::query(&format!(
        "ALTER DATABASE {database} ALLOW_CONNECTIONS false"
    ))
    .execute(&admin_pool)
    .await
    .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&database)
        .execute(&admin_pool)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, headers, html) = client.get("/status/shop", &[]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(
        headers.get("x-vigil-stale"),
        Some(&HeaderValue::from_static("true"))
    );
    assert!(text(&html, ".stale").contains("could not be brought up to date"));
    assert!(
        html.contains("A disk filled up"),
        "the last content is still there"
    );
    let (status, _, json) = client.get("/status/shop/api/v2/summary.json", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(json.contains("major_outage"));
    sqlx::query(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true"))
        .execute(&admin_pool)
        .await
        .unwrap();
}

/// What `tests/python/status_check.py` makes of the page at `path`.
async fn status_check(cp: &ControlPlane, path: &str, cookie: Option<&str>) -> Value {
    let script = tests::repo_root().join("tests/python/status_check.py");
    let schema = tests::repo_root().join("tests/statuspage/schema.json");
    let mut command = tokio::process::Command::new(tests::python());
    command
        .arg(script)
        .arg(format!("{}{path}", cp.base))
        .arg(schema);
    if let Some(cookie) = cookie {
        command.arg(cookie);
    }
    let out = command.output().await.unwrap();
    assert!(
        out.status.success(),
        "status_check.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
