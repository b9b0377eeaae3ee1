//! Where notifications may go: by default no channel reaches a loopback, private or link-local
//! address. The API refuses such a channel when it is saved; a worker refuses to send to one
//! saved while they were allowed, and says why in the channel's delivery log.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::control::TestWorker;
use tests::monitoring::{WAIT, create_monitor, probe_result, setup, setup_with, status_becomes};
use tests::receiver::{HttpReceiver, SmtpReceiver};
use tests::wait_until;

const HINT: &str = "notify_allow_private_networks";

#[tokio::test(flavor = "multi_thread")]
async fn channels_to_private_networks_are_refused_when_saved() {
    let (cp, admin, p) = setup_with(|c| c.worker.notify_allow_private_networks = false).await;
    let channels = format!("/api/v1/projects/{p}/notification-channels");
    let mail = |host: &str| {
        json!({"host": host, "port": 25, "security": "none",
               "from": "vigil@ops.test", "to": ["oncall@ops.test"]})
    };
    for (kind, settings) in [
        (
            "webhook",
            json!({"url": "http://169.254.169.254/latest/meta-data/"}),
        ),
        ("webhook", json!({"url": "http://[::1]:8080/hook"})),
        ("webhook", json!({"url": "https://10.1.2.3/hook"})),
        ("slack", json!({"url": "http://localhost:9000/services/x"})),
        ("email", mail("192.168.1.25")),
        ("email", mail("localhost")),
    ] {
        let refused = cp
            .answer(
                StatusCode::BAD_REQUEST,
                Method::POST,
                &channels,
                &admin,
                Some(json!({"name": "inside", "kind": kind, "settings": settings})),
            )
            .await;
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains(HINT), "{kind} {settings}: {message}");
    }
    assert_eq!(
        cp.ok(Method::GET, &channels, &admin, None).await["items"],
        json!([])
    );

    // Public targets are taken; moving one inside is refused and changes nothing.
    let hook = cp
        .answer(
            StatusCode::CREATED,
            Method::POST,
            &channels,
            &admin,
            Some(json!({"name": "hook", "kind": "webhook",
                        "settings": {"url": "https://hooks.example.com/w"}})),
        )
        .await;
    cp.answer(
        StatusCode::CREATED,
        Method::POST,
        &channels,
        &admin,
        Some(json!({"name": "mail", "kind": "email", "settings": mail("smtp.example.com")})),
    )
    .await;
    let hook_url = format!("{channels}/{}", hook["channel"]["id"].as_str().unwrap());
    let refused = cp
        .answer(
            StatusCode::BAD_REQUEST,
            Method::PATCH,
            &hook_url,
            &admin,
            Some(json!({"settings": {"url": "http://127.0.0.1:9/hook"}})),
        )
        .await;
    assert!(
        refused["error"]["message"].as_str().unwrap().contains(HINT),
        "{refused}"
    );
    let listed = cp.ok(Method::GET, &channels, &admin, None).await;
    let urls: Vec<&Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["settings"]["url"])
        .collect();
    assert!(
        urls.contains(&&json!("https://hooks.example.com/w")),
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_does_not_send_to_private_networks_unless_allowed() {
    // Channels saved while private networks were allowed (the test control plane allows them).
    let (cp, admin, p) = setup().await;
    let http = HttpReceiver::start(0).await;
    let smtp = SmtpReceiver::start().await;
    let channels = format!("/api/v1/projects/{p}/notification-channels");
    let mut ids = Vec::new();
    for settings in [
        json!({"name": "hook", "kind": "webhook",
               "settings": {"url": format!("{}/hook", http.base)}}),
        json!({"name": "named", "kind": "slack",
               "settings": {"url": format!("{}/slack", http.base.replace("127.0.0.1", "localhost"))}}),
        json!({"name": "mail", "kind": "email", "settings": {
            "host": "127.0.0.1", "port": smtp.port, "security": "none",
            "from": "vigil@ops.test", "to": ["oncall@ops.test"]}}),
    ] {
        let created = cp
            .answer(
                StatusCode::CREATED,
                Method::POST,
                &channels,
                &admin,
                Some(settings),
            )
            .await;
        ids.push(created["channel"]["id"].as_str().unwrap().to_owned());
    }
    let monitor = create_monitor(
        &cp,
        &admin,
        &p,
        json!({"name": "Shop", "kind": "http", "settings": {"url": "https://shop.test"}}),
    )
    .await;
    let m = monitor["monitor"]["id"].as_str().unwrap().to_owned();

    // A worker with the default rule: the status changes and an incident opens, but every
    // delivery fails with the reason, and nothing reaches the receivers.
    let worker = TestWorker::start(&cp, "egress", |w| {
        w.notify_allow_private_networks = false;
        w.notify_max_attempts = 1;
    })
    .await;
    let key = format!("{}probe_result", worker.stream_prefix);
    let t0 = chrono::Utc::now().timestamp();
    let up = json!({"is_online": true, "status_code": 200});
    probe_result(&key, "r1", &p, &m, t0, up).await;
    let down = json!({"is_online": false, "error": "connect refused"});
    probe_result(&key, "r2", &p, &m, t0 + 1, down).await;
    status_becomes(&cp, &admin, &p, &m, "Offline").await;
    for id in &ids {
        let path = format!("{channels}/{id}/deliveries");
        let failed = wait_until(WAIT, "failed deliveries", || async {
            let log = cp.ok(Method::GET, &path, &admin, None).await;
            let items = log["items"].as_array().unwrap().clone();
            (items.len() == 2 && items.iter().all(|d| d["state"] == "failed")).then_some(items)
        })
        .await;
        for delivery in &failed {
            assert_eq!(delivery["attempts"], 1, "{delivery}");
            let error = delivery["last_error"].as_str().unwrap();
            assert!(error.contains(HINT), "{error}");
        }
    }
    assert_eq!(http.attempts("/hook") + http.attempts("/slack"), 0);
    assert_eq!(smtp.mails(), Vec::<Value>::new());
    worker.stop().await;
}
