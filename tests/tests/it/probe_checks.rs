//! The probe's checks against real local targets: an HTTP server (statuses, redirects, a slow
//! answer, a large body, an API call with method, headers and body), closed ports, a name that
//! does not resolve, and HTTPS servers whose certificates (generated here) are valid for a CA
//! the probe trusts, self-signed, or expired — every result field checked.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method as AxumMethod, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{any, get};
use probe::assignments::Assignment;
use probe::check::connect::Tls;
use probe::check::{Checker, Outcome, Phase};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn assignment(kind: &str, settings: Value, timeout_ms: u64) -> Assignment {
    Assignment {
        id: "m".into(),
        project_id: "p".into(),
        name: "m".into(),
        kind: kind.into(),
        settings,
        interval_secs: 10,
        timeout_ms,
        retries: 0,
    }
}

fn checker(extra: &[CertificateDer<'static>]) -> Checker {
    Checker {
        tls: Tls::new(extra).unwrap(),
        pingers: std::sync::Arc::new(probe::check::Pingers::default()),
        body_limit: 64 << 10,
    }
}

async fn http_server() -> String {
    let app = axum::Router::new()
        .route(
            "/ok",
            get(|| async { ([("x-served-by", "test")], "hello probe") }),
        )
        .route("/redirect", get(|| async { Redirect::to("/ok") }))
        .route(
            "/error",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route("/big", get(|| async { "x".repeat(200 << 10) }))
        .route(
            "/echo",
            any(
                |method: AxumMethod, headers: HeaderMap, body: Bytes| async move {
                    let x = headers
                        .get("x-test")
                        .map_or("", |v| v.to_str().unwrap_or(""));
                    format!("{method} x-test={x} {}", String::from_utf8_lossy(&body))
                        .into_response()
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn number(o: &Outcome, key: &str) -> f64 {
    o.details[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} in {:?}", o.details))
}

#[tokio::test(flavor = "multi_thread")]
async fn http_checks_time_each_phase_follow_redirects_and_bound_bodies() {
    let base = http_server().await;
    let c = checker(&[]);
    let run = |kind: &str, settings: Value, timeout: u64| {
        let a = assignment(kind, settings, timeout);
        let c = c.clone();
        async move { probe::check::run(&a, &c).await }
    };

    let ok = run("http", json!({"url": format!("{base}/ok")}), 5000).await;
    assert!(ok.is_online && ok.failure.is_none(), "{ok:?}");
    assert_eq!(ok.status_code, Some(200));
    assert_eq!(ok.body.as_deref(), Some("hello probe"));
    for key in ["dns_ms", "connect_ms", "first_byte_ms", "download_ms"] {
        assert!(number(&ok, key) >= 0.0);
    }
    assert!(ok.details.get("tls_ms").is_none());
    assert_eq!(ok.details["headers"]["x-served-by"], "test");
    assert_eq!(ok.details["redirects"], 0);
    let total = ok.response_time_ms.unwrap();
    assert!(total > 0.0 && total >= number(&ok, "first_byte_ms"));

    let followed = run("http", json!({"url": format!("{base}/redirect")}), 5000).await;
    assert_eq!(followed.status_code, Some(200));
    assert_eq!(followed.details["redirects"], 1);
    assert_eq!(followed.details["final_url"], format!("{base}/ok"));
    let not_followed = run(
        "http",
        json!({"url": format!("{base}/redirect"), "follow_redirects": false}),
        5000,
    )
    .await;
    assert_eq!(not_followed.status_code, Some(303));
    assert_eq!(not_followed.details["headers"]["location"], "/ok");

    let api = run(
        "api",
        json!({"url": format!("{base}/echo"), "method": "PUT", "headers": {"x-test": "1"},
               "body": "payload"}),
        5000,
    )
    .await;
    assert_eq!(api.body.as_deref(), Some("PUT x-test=1 payload"));

    let error = run("http", json!({"url": format!("{base}/error")}), 5000).await;
    assert!(error.is_online);
    assert_eq!(
        (error.status_code, error.body.as_deref()),
        (Some(503), Some("down"))
    );

    let big = run("http", json!({"url": format!("{base}/big")}), 5000).await;
    assert_eq!(big.body.as_ref().map(String::len), Some(64 << 10));
    assert_eq!(big.details["body_truncated"], true);

    let slow = run("http", json!({"url": format!("{base}/slow")}), 500).await;
    assert!(!slow.is_online);
    assert_eq!(slow.failure.as_ref().map(|f| f.0), Some(Phase::Timeout));
    assert_eq!(slow.response_time_ms, Some(500.0));

    let closed = tests::free_port();
    let refused = run(
        "http",
        json!({"url": format!("http://127.0.0.1:{closed}/")}),
        5000,
    )
    .await;
    assert_eq!(refused.failure.as_ref().map(|f| f.0), Some(Phase::Connect));
    assert!(refused.details.contains_key("dns_ms"));
    let tcp_refused = run("tcp", json!({"host": "127.0.0.1", "port": closed}), 5000).await;
    assert_eq!(
        tcp_refused.failure.as_ref().map(|f| f.0),
        Some(Phase::Connect)
    );
    let nowhere = run("http", json!({"url": "http://nothing-here.invalid/"}), 5000).await;
    assert_eq!(nowhere.failure.as_ref().map(|f| f.0), Some(Phase::Dns));

    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let tcp = run("tcp", json!({"host": "localhost", "port": port}), 5000).await;
    assert!(tcp.is_online, "{tcp:?}");
    assert!(number(&tcp, "connect_ms") >= 0.0);
}

/// A TLS server answering every request with `200 ok`, with `chain` and `key`.
async fn tls_server(chain: Vec<CertificateDer<'static>>, key: &rcgen::KeyPair) -> u16 {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _read = tls.read(&mut buf).await;
                let _written = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _closed = tls.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_checks_tell_valid_self_signed_and_expired_certificates() {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Vigil Test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let ca = Issuer::new(ca_params, &ca_key);
    let leaf = |not_after: (i32, u8, u8)| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, "localhost");
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        (p, key)
    };
    let (valid_params, valid_key) = leaf((2036, 1, 1));
    let valid = valid_params.signed_by(&valid_key, &ca).unwrap();
    let (expired_params, expired_key) = leaf((2021, 1, 1));
    let expired = expired_params.signed_by(&expired_key, &ca).unwrap();
    let (own_params, own_key) = leaf((2036, 1, 1));
    let own = own_params.self_signed(&own_key).unwrap();
    let valid_port = tls_server(vec![valid.der().clone(), ca_cert.der().clone()], &valid_key).await;
    let expired_port = tls_server(vec![expired.der().clone()], &expired_key).await;
    let own_port = tls_server(vec![own.der().clone()], &own_key).await;
    let c = checker(&[ca_cert.der().clone()]);
    let run = |kind: &str, settings: Value| {
        let a = assignment(kind, settings, 5000);
        let c = c.clone();
        async move { probe::check::run(&a, &c).await }
    };

    let good = run("ssl", json!({"host": "localhost", "port": valid_port})).await;
    assert!(good.is_online, "{good:?}");
    assert_eq!(good.certificate_valid, Some(true));
    assert_eq!(good.certificate_self_signed, Some(false));
    let days = good.certificate_expires_in_days.unwrap();
    assert!((3000.0..4000.0).contains(&days), "{days}");
    assert_eq!(good.details["subject"], "CN=localhost");
    assert_eq!(good.details["issuer"], "CN=Vigil Test CA");
    assert_eq!(good.details["chain_length"], 2);
    assert_eq!(
        good.details["fingerprint_sha256"].as_str().unwrap().len(),
        64
    );
    assert_eq!(good.details["not_before"], 1_577_836_800);
    assert!(number(&good, "tls_ms") >= 0.0);
    assert!(good.details.get("validation_error").is_none());

    let old = run("ssl", json!({"host": "localhost", "port": expired_port})).await;
    assert_eq!(old.certificate_valid, Some(false));
    assert!(old.certificate_expires_in_days.unwrap() < -1000.0);
    assert!(
        old.details["validation_error"]
            .as_str()
            .unwrap()
            .contains("xpired"),
        "{old:?}"
    );

    let mine = run("ssl", json!({"host": "localhost", "port": own_port})).await;
    assert_eq!(mine.certificate_self_signed, Some(true));
    assert_eq!(mine.certificate_valid, Some(false));

    // HTTPS: trusted → 200 with the TLS time; self-signed → a TLS failure, unless allowed.
    let https = run(
        "http",
        json!({"url": format!("https://localhost:{valid_port}/")}),
    )
    .await;
    assert_eq!(
        (https.status_code, https.body.as_deref()),
        (Some(200), Some("ok"))
    );
    assert!(number(&https, "tls_ms") >= 0.0);
    let refused = run(
        "http",
        json!({"url": format!("https://localhost:{own_port}/")}),
    )
    .await;
    assert_eq!(
        refused.failure.as_ref().map(|f| f.0),
        Some(Phase::Tls),
        "{refused:?}"
    );
    let allowed = run(
        "http",
        json!({"url": format!("https://localhost:{own_port}/"), "allow_self_signed": true}),
    )
    .await;
    assert_eq!(allowed.status_code, Some(200));
}

/// dnsmasq on a free port, authoritative for `vigil.test`: A/AAAA (TTL 120), CNAME, MX, TXT.
struct Dnsmasq {
    port: u16,
    _child: tokio::process::Child,
}

impl Dnsmasq {
    async fn start() -> Self {
        let port = tests::free_port();
        let child = tokio::process::Command::new("/usr/sbin/dnsmasq")
            .args([
                "--no-daemon",
                &format!("--port={port}"),
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--pid-file=",
                "--local=/vigil.test/",
                "--host-record=web.vigil.test,10.0.0.5,fd00::5,120",
                "--cname=www.vigil.test,web.vigil.test",
                "--mx-host=vigil.test,mail.vigil.test,10",
                "--txt-record=vigil.test,v=spf1 -all",
            ])
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("dnsmasq runs (deploy/test.sh installs dnsmasq-base)");
        // Ready once it answers.
        tests::wait_until(Duration::from_secs(10), "dnsmasq answers", || async {
            let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.ok()?;
            // A query for web.vigil.test A.
            let mut q = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
            for label in ["web", "vigil", "test"] {
                q.push(label.len() as u8);
                q.extend_from_slice(label.as_bytes());
            }
            q.extend_from_slice(&[0, 0, 1, 0, 1]);
            socket.send_to(&q, ("127.0.0.1", port)).await.ok()?;
            let mut buf = [0u8; 512];
            tokio::time::timeout(Duration::from_millis(200), socket.recv(&mut buf))
                .await
                .ok()?
                .ok()
        })
        .await;
        Self {
            port,
            _child: child,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_checks_return_answers_with_ttls_and_nxdomain_as_a_result() {
    let dns = Dnsmasq::start().await;
    let c = checker(&[]);
    let resolver = format!("127.0.0.1:{}", dns.port);
    let run = |name: &str, record_type: &str| {
        let a = assignment(
            "dns",
            json!({"name": name, "record_type": record_type, "resolver": resolver}),
            5000,
        );
        let c = c.clone();
        async move { probe::check::run(&a, &c).await }
    };
    let a = run("web.vigil.test", "A").await;
    assert!(a.is_online && a.failure.is_none(), "{a:?}");
    assert_eq!(a.dns_answers.as_deref(), Some("10.0.0.5"));
    assert_eq!(a.details["rcode"], "NOERROR");
    assert_eq!(
        a.details["records"],
        json!([{"name": "web.vigil.test.", "type": "A", "value": "10.0.0.5", "ttl": 120}])
    );
    assert!(a.response_time_ms.unwrap() >= 0.0);
    let aaaa = run("web.vigil.test", "AAAA").await;
    assert_eq!(aaaa.dns_answers.as_deref(), Some("fd00::5"));
    let cname = run("www.vigil.test", "CNAME").await;
    assert_eq!(cname.dns_answers.as_deref(), Some("web.vigil.test."));
    let mx = run("vigil.test", "MX").await;
    assert_eq!(mx.dns_answers.as_deref(), Some("10 mail.vigil.test."));
    let txt = run("vigil.test", "TXT").await;
    assert!(
        txt.dns_answers.as_deref().unwrap().contains("v=spf1 -all"),
        "{txt:?}"
    );
    // NXDOMAIN is an answer, not a failure.
    let missing = run("nope.vigil.test", "A").await;
    assert!(
        missing.is_online && missing.failure.is_none(),
        "{missing:?}"
    );
    assert_eq!(missing.details["rcode"], "NXDOMAIN");
    assert_eq!(missing.dns_answers.as_deref(), Some(""));
    // A resolver that does not answer is a DNS failure.
    let silent = tests::free_port();
    let a = assignment(
        "dns",
        json!({"name": "web.vigil.test", "record_type": "A", "resolver": format!("127.0.0.1:{silent}")}),
        3000,
    );
    let dead = probe::check::run(&a, &c).await;
    assert!(!dead.is_online);
    assert!(
        matches!(
            dead.failure.as_ref().map(|f| f.0),
            Some(Phase::Dns | Phase::Timeout)
        ),
        "{dead:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ping_checks_count_loss_round_trips_and_jitter() {
    let c = checker(&[]);
    let a = assignment("ping", json!({"host": "127.0.0.1", "count": 4}), 4000);
    let local = probe::check::run(&a, &c).await;
    assert!(local.is_online && local.failure.is_none(), "{local:?}");
    assert_eq!(local.packet_loss_percent, Some(0.0));
    assert_eq!(local.details["packets_sent"], 4);
    assert_eq!(local.details["packets_received"], 4);
    let (min, avg, max) = (
        number(&local, "min_rtt_ms"),
        number(&local, "avg_rtt_ms"),
        number(&local, "max_rtt_ms"),
    );
    assert!(0.0 <= min && min <= avg && avg <= max, "{local:?}");
    assert_eq!(local.response_time_ms, Some(avg));
    assert!(local.jitter_ms.unwrap() >= 0.0);
    // TEST-NET-2 never answers (at most a router says it is unreachable): every request is lost.
    let a = assignment("ping", json!({"host": "198.51.100.1", "count": 2}), 1000);
    let lost = probe::check::run(&a, &c).await;
    assert!(!lost.is_online, "{lost:?}");
    assert_eq!(lost.packet_loss_percent, Some(100.0));
    assert_eq!(lost.failure.as_ref().map(|f| f.0), Some(Phase::Timeout));
}
