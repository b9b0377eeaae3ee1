//! Vigil behind nginx, configured as `deploy/nginx/` ships it: TLS at the edge, two ingest
//! engines behind it (each with its own WAL) writing to the ClickHouse cluster (2 shards × 2
//! replicas) through different nodes, two control planes (`vigil serve`) on one database — a
//! session and a status page's changes hold whichever one answers. The OpenTelemetry SDK sends
//! over TLS by gRPC and HTTP and every record is in the cluster once; the UI, a status page on its
//! own domain (with its own certificate) and the live tail answer through nginx; login limits
//! count the client nginx names, not nginx; a `vigil-probe` that knows only the edge (and its
//! private CA) follows its assignments and reports its results through it; with no engine to reach, gRPC clients hear
//! UNAVAILABLE and HTTP clients 503 with Retry-After; bodies are capped as Vigil caps them.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tests::TestEngine;
use tests::control::TestWorker;
use tests::edge::{Https, Nginx, certificate, next_chunk, text};
use tests::explorer::python_client;
use tests::monitoring::{create_monitor, engine_for, http_target, register_probe, setup_with};
use tests::{test_dir, unique_name, wait_until};

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// The `VIGIL_EDGE_*` settings for the certificate `tls/server.{pem,key}` and these upstreams
/// (space-separated `host:port` lists).
fn edge(tls: &Path, control: String, http: String, grpc: String) -> Vec<(&'static str, String)> {
    vec![
        (
            "VIGIL_EDGE_CERT",
            tls.join("server.pem").display().to_string(),
        ),
        (
            "VIGIL_EDGE_KEY",
            tls.join("server.key").display().to_string(),
        ),
        ("VIGIL_EDGE_CONTROL", control),
        ("VIGIL_EDGE_INGEST_HTTP", http),
        ("VIGIL_EDGE_INGEST_GRPC", grpc),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn vigil_answers_through_nginx_over_tls() {
    // Everything on the ClickHouse cluster: the engines write through different nodes, the
    // control planes read through a third.
    let _shared = tests::cluster_shared().await;
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
    let mut settings = edge(
        &tls,
        control,
        format!("{} {}", one.http, two.http),
        format!("{} {}", one.grpc, two.grpc),
    );
    settings.push((
        "VIGIL_EDGE_STATUS_DOMAINS",
        format!(
            "status.shop.test={}:{}",
            tls.join("status.pem").display(),
            tls.join("status.key").display()
        ),
    ));
    let nginx = Nginx::start("edge_nginx", &settings).await;

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
        &edge(&tls, closed.clone(), closed.clone(), closed),
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

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_follows_its_assignments_and_reports_through_nginx_over_tls() {
    let (cp, admin, p) = setup_with(|c| c.trusted_proxies = "127.0.0.1".into()).await;
    let worker = TestWorker::start(&cp, "edge_probe", |_| {}).await;
    let engine = engine_for(&cp, &worker, "edge_probe_eng").await;
    let tls = test_dir("edge_probe_tls");
    let ca = certificate(&tls, "server", &["localhost", "127.0.0.1"]).await;
    let nginx = Nginx::start(
        "edge_probe_nginx",
        &edge(
            &tls,
            cp.base.trim_start_matches("http://").to_owned(),
            engine.http.to_string(),
            engine.grpc.to_string(),
        ),
    )
    .await;
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/health", target.local_addr().unwrap());
    let server = http_target(target);
    let registered = register_probe(&cp, &admin, &p, "behind the edge").await;
    let probe_id = registered["probe"]["id"].as_str().unwrap().to_owned();
    let m = create_monitor(
        &cp,
        &admin,
        &p,
        json!({"name": "Shop", "kind": "http", "interval_secs": 10, "timeout_ms": 2000,
               "probe_ids": [probe_id], "settings": {"url": url}}),
    )
    .await["monitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = test_dir("edge_probe_run");
    let probe = |label: &str, ca: Option<&Path>| {
        let log = dir.join(format!("{label}.log"));
        let mut command = tokio::process::Command::new(tests::required_env("VIGIL_TEST_PROBE_BIN"));
        command
            .env("VIGIL_PROBE_KEY", registered["key"].as_str().unwrap())
            .env("VIGIL_PROBE_CONTROL_URL", nginx.url())
            .env("VIGIL_PROBE_INGEST_URL", nginx.url())
            .env("VIGIL_PROBE_METRICS_ADDR", "off")
            .env_remove("VIGIL_PROBE_CA_FILE")
            .kill_on_drop(true);
        // Its log goes to stdout, start-up errors to stderr: both in one file.
        let file = std::fs::File::create(&log).unwrap();
        command.stderr(file.try_clone().unwrap()).stdout(file);
        if let Some(ca) = ca {
            command.env("VIGIL_PROBE_CA_FILE", ca);
        }
        (command.spawn().expect("vigil-probe runs"), log)
    };

    // Without the private CA the edge's certificate is refused, and the log says why.
    let (mut untrusting, log) = probe("untrusting", None);
    let said = wait_until(Duration::from_secs(20), "the refusal logged", || async {
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        said.contains("assignments not fetched").then_some(said)
    })
    .await;
    assert!(said.contains("UnknownIssuer"), "{said}");
    untrusting.kill().await.unwrap();

    // With it: assignments through the control plane's side of the edge, results through its
    // gRPC side, stored by the worker.
    let (mut trusting, log) = probe("trusting", Some(&ca));
    let db = worker.clickhouse_database.clone();
    let row = wait_until(
        Duration::from_secs(40),
        "the probe's result stored",
        || async {
            if !tests::table_exists(&db, "monitor_results").await {
                return None;
            }
            let sql = format!(
                "SELECT is_online, status_code, source, probe_id FROM {db}.monitor_results \
             WHERE monitor_id = '{m}' LIMIT 1 FORMAT TabSeparated"
            );
            let rows = tests::clickhouse(&sql).await;
            rows.lines().next().map(str::to_owned)
        },
    )
    .await;
    assert_eq!(
        row,
        format!("1\t200\tprobe\t{probe_id}"),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let access = std::fs::read_to_string(nginx.dir.join("access.log")).unwrap_or_default();
    assert!(
        access.contains("/api/v1/probe/assignments") && access.contains(proto::probe::REPORT),
        "both went through nginx: {access}"
    );
    trusting.kill().await.unwrap();
    server.abort();
    nginx.stop().await;
    engine.stop().await;
    worker.stop().await;
}
