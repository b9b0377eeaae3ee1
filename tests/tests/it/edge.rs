//! Vigil behind nginx, configured as `deploy/nginx/` ships it: TLS at the edge, two ingest
//! engines behind it (each with its own WAL) writing to the ClickHouse cluster (2 shards × 2
//! replicas) through different nodes, two control planes (`vigil serve`) on one database — a
//! session and a status page's changes hold whichever one answers. The OpenTelemetry SDK sends
//! over TLS by gRPC and HTTP and every record is in the cluster once; the UI, a status page on its
//! own domain (with its own certificate) and the live tail answer through nginx; login limits
//! count the client nginx names, not nginx; with no engine to reach, gRPC clients hear
//! UNAVAILABLE and HTTP clients 503 with Retry-After; bodies are capped as Vigil caps them.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tests::TestEngine;
use tests::edge::{Https, Nginx, certificate, next_chunk, text};
use tests::explorer::python_client;
use tests::monitoring::setup_with;
use tests::{test_dir, unique_name, wait_until};

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

#[tokio::test(flavor = "multi_thread")]
async fn vigil_answers_through_nginx_over_tls() {
    // Everything on the ClickHouse cluster: the engines write through different nodes, the
    // control planes read through a third.
    let (cluster, nodes) = tests::cluster();
    let (cp, admin, p) = setup_with(|c| {
        c.trusted_proxies = "127.0.0.1".into();
        c.worker.clickhouse_url = nodes[1].clone();
        c.worker.clickhouse_cluster = cluster.clone();
    })
    .await;
    let engine = |label: &'static str, node: String| {
        let (database, project, cluster) =
            (cp.results_database().to_owned(), p.clone(), cluster.clone());
        TestEngine::start_with(label, move |c| {
            c.ingest_tokens = ingest_engine::config::Secret(format!("tok-edge={project}"));
            c.clickhouse.database = database;
            c.clickhouse.url = node;
            c.clickhouse.cluster = cluster;
        })
    };
    let one = engine("edge_one", nodes[0].clone()).await;
    let two = engine("edge_two", nodes[2].clone()).await;
    let tls = test_dir("edge_tls");
    let ca = certificate(&tls, "server", &["localhost", "127.0.0.1"]).await;
    certificate(&tls, "status", &["status.shop.test"]).await;
    let other = cp.another().await;
    let control = format!(
        "{} {}",
        cp.base.trim_start_matches("http://"),
        other.base.trim_start_matches("http://")
    );
    let nginx = Nginx::start(
        "edge_nginx",
        &[
            (
                "VIGIL_EDGE_CERT",
                tls.join("server.pem").display().to_string(),
            ),
            (
                "VIGIL_EDGE_KEY",
                tls.join("server.key").display().to_string(),
            ),
            ("VIGIL_EDGE_CONTROL", control),
            (
                "VIGIL_EDGE_INGEST_HTTP",
                format!("{} {}", one.http, two.http),
            ),
            (
                "VIGIL_EDGE_INGEST_GRPC",
                format!("{} {}", one.grpc, two.grpc),
            ),
            (
                "VIGIL_EDGE_STATUS_DOMAINS",
                format!(
                    "status.shop.test={}:{}",
                    tls.join("status.pem").display(),
                    tls.join("status.key").display()
                ),
            ),
        ],
    )
    .await;

    // The SDK over TLS, gRPC and HTTP: 200 logs and 200 spans each, in exports of 25.
    let ca_file = ca.display().to_string();
    let mut runs = Vec::new();
    for (protocol, endpoint) in [("grpc", nginx.url()), ("http", nginx.url())] {
        let run = unique_name(protocol);
        python_client(
            "edge_export.py",
            &[protocol, &endpoint, &ca_file, "tok-edge", &run, "200"],
        )
        .await;
        runs.push(run);
    }
    one.settle().await;
    two.settle().await;
    let database = cp.results_database();
    for run in &runs {
        for (table, column) in [("logs", "body"), ("spans", "name")] {
            // Read through a node neither engine wrote to: a replica has the rows once
            // replication caught up (and never twice: a duplicate would keep this from holding).
            let sql = format!(
                "SELECT count(), uniqExact({column}) FROM {database}.{table} \
                 WHERE project_id = '{p}' AND startsWith({column}, '{run} ') FORMAT TSV"
            );
            wait_until(
                Duration::from_secs(30),
                "each record once in the cluster",
                || async {
                    let stored = tests::clickhouse_at(&nodes[3], &sql).await;
                    (stored == "200\t200").then_some(())
                },
            )
            .await;
        }
    }
    // nginx spread the exports over both engines.
    for engine in [&one, &two] {
        let accepted = tests::metric(
            &engine.metrics().await,
            "vigil_ingest_records_accepted_total{signal=\"logs\"}",
        );
        assert!(accepted > 0.0, "{}", nginx.errors());
    }

    // The operator UI through nginx.
    let browser = Https::new(&ca, loopback(1));
    let login = browser.get(&format!("{}/login", nginx.url()), &[]).await;
    assert_eq!(login.status(), StatusCode::OK);
    assert!(
        login.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src")
    );
    assert!(text(login).await.contains("<form"));
    let ready = browser.get(&format!("{}/readyz", nginx.url()), &[]).await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(text(ready).await, "ready\n");

    // A status page on its own domain, with that domain's certificate.
    let page = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/status-pages"),
            &admin,
            Some(json!({"name": "Shop", "slug": "shop", "domains": ["status.shop.test"]})),
        )
        .await;
    assert_eq!(page["domains"], json!(["status.shop.test"]));
    let domain = format!("https://status.shop.test:{}/", nginx.addr.port());
    let html = wait_until(
        Duration::from_secs(20),
        "the status page's domain",
        || async {
            let got = browser.get(&domain, &[]).await;
            (got.status() == StatusCode::OK).then_some(text(got).await)
        },
    )
    .await;
    assert!(html.contains("<h1") && html.contains("Shop"), "{html}");
    // Renamed through one control plane, the page shows the new name from both (nginx takes
    // turns between them): each rebuilds its snapshot on PostgreSQL's change notice.
    let page_id = page["id"].as_str().unwrap();
    other
        .ok(
            Method::PATCH,
            &format!("/api/v1/projects/{p}/status-pages/{page_id}"),
            &admin,
            Some(json!({"name": "Shop Renamed"})),
        )
        .await;
    wait_until(
        Duration::from_secs(20),
        "both to show the new name",
        || async {
            for _ in 0..4 {
                let got = text(browser.get(&domain, &[]).await).await;
                if !got.contains("Shop Renamed") {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;

    // The live tail through nginx: a record sent after the stream opened arrives at once
    // (nginx does not buffer Server-Sent Events).
    let tests::control::Auth::Session { cookie, .. } = &admin else {
        panic!("a session")
    };
    let mut tail = browser
        .get(
            &format!(
                "{}/api/v1/projects/{p}/logs/tail?q=%22through+the+edge%22",
                nginx.url()
            ),
            &[("cookie", cookie.as_str())],
        )
        .await;
    assert_eq!(tail.status(), StatusCode::OK);
    assert_eq!(tail.headers()["content-type"], "text/event-stream");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = std::time::Instant::now();
    let body = tests::logs_json("edge", &["through the edge".to_owned()]).replace(
        "\"1700000000000000000\"",
        &format!("\"{}\"", chrono::Utc::now().timestamp_nanos_opt().unwrap()),
    );
    let answer = browser
        .send(
            Method::POST,
            &format!("{}/v1/logs", nginx.url()),
            &[
                ("x-vigil-token", "tok-edge"),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let mut seen = String::new();
    while !seen.contains("through the edge") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), next_chunk(&mut tail))
            .await
            .expect("the record arrives through nginx")
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        sent.elapsed() <= Duration::from_secs(3),
        "{:?}",
        sent.elapsed()
    );

    // Login limits count the client nginx names: 127.0.0.2 guessing locks out 127.0.0.2
    // only; the account still signs in from 127.0.0.3.
    let login = |from: &Https, password: &str| {
        let (from, password) = (from.clone(), password.to_owned());
        let url = format!("{}/api/v1/auth/login", nginx.url());
        async move {
            let body = json!({"email": "admin@vigil.test", "password": password}).to_string();
            from.send(
                Method::POST,
                &url,
                // A made-up address from the client is no help: nginx appends the real one.
                &[
                    ("content-type", "application/json"),
                    ("x-forwarded-for", "198.51.100.1"),
                ],
                body,
            )
            .await
            .status()
        }
    };
    let guesser = Https::new(&ca, loopback(2));
    let mut locked = false;
    for _ in 0..30 {
        match login(&guesser, "wrong guess").await {
            StatusCode::TOO_MANY_REQUESTS => {
                locked = true;
                break;
            }
            status => assert_eq!(status, StatusCode::UNAUTHORIZED),
        }
    }
    assert!(locked, "the guesser is stopped");
    let owner = Https::new(&ca, loopback(3));
    assert_eq!(
        login(&owner, tests::control::PASSWORD).await,
        StatusCode::OK,
        "another client is not locked out"
    );
    // A session made through nginx holds on either control plane.
    let signed_in = owner
        .send(
            Method::POST,
            &format!("{}/api/v1/auth/login", nginx.url()),
            &[("content-type", "application/json")],
            json!({"email": "admin@vigil.test", "password": tests::control::PASSWORD}).to_string(),
        )
        .await;
    let session = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    for _ in 0..6 {
        let me = owner
            .get(
                &format!("{}/api/v1/me", nginx.url()),
                &[("cookie", &session)],
            )
            .await;
        assert_eq!(me.status(), StatusCode::OK);
    }
    nginx.stop().await;
    one.stop().await;
    two.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_no_engine_to_reach_clients_are_told_to_retry() {
    let tls = test_dir("edge_down_tls");
    let ca = certificate(&tls, "server", &["localhost", "127.0.0.1"]).await;
    let closed = format!("127.0.0.1:{}", tests::free_port());
    let nginx = Nginx::start(
        "edge_down",
        &[
            (
                "VIGIL_EDGE_CERT",
                tls.join("server.pem").display().to_string(),
            ),
            (
                "VIGIL_EDGE_KEY",
                tls.join("server.key").display().to_string(),
            ),
            ("VIGIL_EDGE_CONTROL", closed.clone()),
            ("VIGIL_EDGE_INGEST_HTTP", closed.clone()),
            ("VIGIL_EDGE_INGEST_GRPC", closed),
        ],
    )
    .await;
    let code = python_client(
        "edge_export.py",
        &[
            "unavailable",
            &format!("localhost:{}", nginx.addr.port()),
            &ca.display().to_string(),
        ],
    )
    .await;
    assert_eq!(String::from_utf8_lossy(&code).trim(), "UNAVAILABLE");
    let answer = Https::new(&ca, loopback(1))
        .send(Method::POST, &format!("{}/v1/logs", nginx.url()), &[], "{}")
        .await;
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.headers()["retry-after"], "1");
    // Bodies are capped as Vigil caps them: 1 MiB for the control plane, 64 MiB for ingest.
    let client = Https::new(&ca, loopback(1));
    let two_mib = vec![b'x'; 2 << 20];
    let login = client
        .send(
            Method::POST,
            &format!("{}/api/v1/auth/login", nginx.url()),
            &[],
            two_mib.clone(),
        )
        .await;
    assert_eq!(login.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let logs = client
        .send(
            Method::POST,
            &format!("{}/v1/logs", nginx.url()),
            &[],
            two_mib,
        )
        .await;
    assert_eq!(
        logs.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "passed on, not refused"
    );
    nginx.stop().await;
}
