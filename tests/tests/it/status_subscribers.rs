//! Status page subscribers through a real server, worker, aiosmtpd and an HTTP receiver:
//! email with double opt-in and unsubscribe links, signed webhooks and Slack, each told of
//! every incident and maintenance event once, and per-system subscriptions.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::control::TestWorker;
use tests::monitoring::{WAIT, probe_result, setup_with, status_becomes};
use tests::wait_until;

use crate::status_pages::{Client, http_monitor, text};

/// The text of a mail as aiosmtpd received it: its body, quoted-printable or base64 decoded.
fn mail_text(mail: &Value) -> String {
    let data = mail["data"].as_str().unwrap().replace("\r\n", "\n");
    let (headers, body) = data.split_once("\n\n").unwrap();
    let headers = headers.to_ascii_lowercase();
    if headers.contains("content-transfer-encoding: base64") {
        use base64::Engine as _;
        let joined: String = body.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(joined)
            .unwrap();
        return String::from_utf8(bytes).unwrap();
    }
    if !headers.contains("content-transfer-encoding: quoted-printable") {
        return body.to_owned();
    }
    let unfolded = body.replace("=\n", "");
    let mut out = Vec::new();
    let bytes = unfolded.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && let Some(b) = unfolded
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The path and query of the first link in `text` that contains `marker`.
fn link_with(text: &str, marker: &str) -> String {
    let url = text
        .split_whitespace()
        .find(|w| w.contains(marker))
        .unwrap_or_else(|| panic!("no {marker} link in {text}"));
    let rest = url.split_once("://").unwrap().1;
    format!("/{}", rest.split_once('/').unwrap().1)
}

#[tokio::test]
async fn subscribers_are_told_of_each_incident_and_maintenance_event_once() {
    use tests::receiver::{HttpReceiver, SmtpReceiver, json as body_json};
    let (cp, admin, p) = setup_with(|_| {}).await;
    let smtp = SmtpReceiver::start().await;
    let hooks = HttpReceiver::start(1).await;
    let channel = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/notification-channels"),
            &admin,
            Some(json!({"name": "mail", "kind": "email", "settings": {
                "host": "127.0.0.1", "port": smtp.port, "security": "none",
                "from": "status@shop.test", "to": ["oncall@shop.test"]}})),
        )
        .await;
    let db = http_monitor(&cp, &admin, &p, "db").await;
    let cdn = http_monitor(&cp, &admin, &p, "cdn").await;
    let page = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/status-pages"),
            &admin,
            Some(json!({"name": "Shop", "slug": "shop-subs",
                        "subscriber_channel_id": channel["channel"]["id"]})),
        )
        .await;
    let base = format!(
        "/api/v1/projects/{p}/status-pages/{}",
        page["id"].as_str().unwrap()
    );
    cp.ok(
        Method::PUT,
        &format!("{base}/layout"),
        &admin,
        Some(
            json!({"resources": [{"monitor_id": db, "display_name": "Database"},
                                  {"monitor_id": cdn, "display_name": "CDN"}]}),
        ),
    )
    .await;
    let worker = TestWorker::start(&cp, "subs", |_| {}).await;
    let client = Client::new(&cp);
    let (_, _, html) = client.get("/status/shop-subs", &[]).await;
    let cdn_id = {
        let doc = scraper::Html::parse_document(&html);
        let input = scraper::Selector::parse("input").unwrap();
        doc.select(&scraper::Selector::parse("label.check").unwrap())
            .find(|l| l.text().collect::<String>().contains("CDN"))
            .and_then(|l| {
                l.select(&input)
                    .next()?
                    .value()
                    .attr("value")
                    .map(str::to_owned)
            })
            .unwrap()
    };

    // Subscribing through the page's form.
    let form = |fields: Vec<(&'static str, String)>| {
        let request = client
            .http
            .post(format!("{}/status/shop-subs/subscribe", cp.base))
            .form(&fields);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    let (status, html) = form(vec![
        ("kind", "webhook".into()),
        ("target", format!("{}/hook", hooks.base)),
    ])
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let secret = text(&html, "code");
    assert!(secret.starts_with("vws_"), "{html}");
    form(vec![
        ("kind", "slack".into()),
        ("target", format!("{}/slack", hooks.base)),
    ])
    .await;
    // Told only of the CDN: hears nothing of the database's incident.
    form(vec![
        ("kind", "webhook".into()),
        ("target", format!("{}/cdn-only", hooks.base)),
        ("resource", cdn_id),
    ])
    .await;
    let (status, html) = form(vec![
        ("kind", "email".into()),
        ("target", "ann@people.test".into()),
    ])
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text(&html, "h2"), "Check your mail");
    let (status, html) = form(vec![
        ("kind", "email".into()),
        ("target", "not an address".into()),
    ])
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    let (status, _) = form(vec![
        ("kind", "webhook".into()),
        ("target", "ftp://x.test/".into()),
    ])
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Double opt-in: only the confirmation is mailed until its link is followed.
    let to_ann = |mails: Vec<Value>| -> Vec<String> {
        mails
            .iter()
            .filter(|m| m["to"] == json!(["ann@people.test"]))
            .map(mail_text)
            .collect()
    };
    let confirmation = wait_until(WAIT, "the confirmation mail", || async {
        to_ann(smtp.mails()).into_iter().next()
    })
    .await;
    let confirm = link_with(&confirmation, "/subscription/confirm");
    let (status, _, html) = client.get(&confirm, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let token = scraper::Html::parse_document(&html)
        .select(&scraper::Selector::parse("input[name=token]").unwrap())
        .next()
        .unwrap()
        .value()
        .attr("value")
        .unwrap()
        .to_owned();
    let confirmed = client
        .http
        .post(format!("{}/status/shop-subs/subscription/confirm", cp.base))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    let listed = cp
        .ok(Method::GET, &format!("{base}/subscribers"), &admin, None)
        .await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["confirmed"] == true)
    );
    assert_eq!(listed["items"].as_array().unwrap().len(), 4);

    // An incident of the database: opened, a public update, resolved.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let key = format!("{}probe_result", worker.stream_prefix);
    let t = chrono::Utc::now().timestamp();
    probe_result(&key, "s1", &p, &db, t, json!({"is_online": false})).await;
    status_becomes(&cp, &admin, &p, &db, "Offline").await;
    let incidents = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incidents?open=true"),
            &admin,
            None,
        )
        .await;
    let incident = incidents["items"][0]["id"].as_str().unwrap().to_owned();
    cp.ok(
        Method::POST,
        &format!("/api/v1/projects/{p}/incidents/{incident}/public-updates"),
        &admin,
        Some(json!({"status": "monitoring", "body": "A fix is out."})),
    )
    .await;
    probe_result(
        &key,
        "s2",
        &p,
        &db,
        t + 1,
        json!({"is_online": true, "status_code": 200}),
    )
    .await;
    status_becomes(&cp, &admin, &p, &db, "Operational").await;
    // Maintenance of the database, started and completed within seconds.
    let now = chrono::Utc::now();
    cp.ok(
        Method::POST,
        &format!("/api/v1/projects/{p}/maintenance-windows"),
        &admin,
        Some(
            json!({"title": "Disk swap", "starts_at": now + chrono::Duration::seconds(2),
                    "ends_at": now + chrono::Duration::seconds(4), "monitor_ids": [db]}),
        ),
    )
    .await;

    let expected = [
        "incident.opened",
        "incident.updated",
        "incident.resolved",
        "maintenance.scheduled",
        "maintenance.started",
        "maintenance.completed",
    ];
    hooks.wait_for("/hook", expected.len(), WAIT).await;
    let slack = hooks.wait_for("/slack", expected.len(), WAIT).await;
    wait_until(WAIT, "six mails to ann", || async {
        (to_ann(smtp.mails()).len() > expected.len()).then_some(())
    })
    .await;
    // Give a repeat time to show up: none may.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let hook = hooks.received("/hook");
    let mut events: Vec<String> = hook
        .iter()
        .map(|r| body_json(r)["event"].as_str().unwrap().to_owned())
        .collect();
    events.sort();
    let mut wanted: Vec<String> = expected.iter().map(|e| (*e).to_owned()).collect();
    wanted.sort();
    assert_eq!(
        events, wanted,
        "each event once, retried after a 500 but not repeated"
    );
    for r in &hook {
        let timestamp = r.headers["x-vigil-timestamp"].to_str().unwrap();
        let signed = format!("{timestamp}.{}", String::from_utf8_lossy(&r.body));
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(signed.as_bytes());
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            r.headers["x-vigil-signature"],
            format!("sha256={hex}").as_str()
        );
        assert!(
            body_json(r)["unsubscribe_url"]
                .as_str()
                .unwrap()
                .contains("/subscription/unsubscribe?")
        );
    }
    let update = hook
        .iter()
        .map(body_json)
        .find(|b| b["event"] == "incident.updated")
        .unwrap();
    assert_eq!(update["subject"]["body"], "A fix is out.");
    assert_eq!(update["subject"]["status"], "monitoring");
    assert_eq!(hooks.received("/slack").len(), expected.len(), "{slack:?}");
    assert!(
        body_json(&slack[0])["text"]
            .as_str()
            .unwrap()
            .starts_with("[Shop]")
    );
    assert!(
        hooks.received("/cdn-only").is_empty(),
        "not told of the database"
    );
    let mails = to_ann(smtp.mails());
    assert_eq!(mails.len(), 1 + expected.len(), "{mails:?}");
    assert!(
        mails
            .iter()
            .all(|m| m.contains("/subscription/unsubscribe?"))
    );
    assert!(mails.iter().any(|m| m.contains("A fix is out.")));

    // Unsubscribing by the mail's link: nothing more is mailed.
    let leave = link_with(&to_ann(smtp.mails())[1], "/subscription/unsubscribe");
    let (status, _, html) = client.get(&leave, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let doc = scraper::Html::parse_document(&html);
    let value = |name: &str| {
        doc.select(&scraper::Selector::parse(&format!("input[name={name}]")).unwrap())
            .next()
            .unwrap()
            .value()
            .attr("value")
            .unwrap()
            .to_owned()
    };
    let (id, key) = (value("id"), value("key"));
    let left = client
        .http
        .post(format!(
            "{}/status/shop-subs/subscription/unsubscribe",
            cp.base
        ))
        .form(&[("id", id.as_str()), ("key", key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(left.status(), StatusCode::OK);
    cp.ok(
        Method::POST,
        &format!("/api/v1/projects/{p}/incidents/{incident}/public-updates"),
        &admin,
        Some(json!({"status": "resolved", "body": "Postmortem to follow."})),
    )
    .await;
    hooks.wait_for("/hook", expected.len() + 1, WAIT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        to_ann(smtp.mails()).len(),
        1 + expected.len(),
        "no mail after leaving"
    );
    worker.stop().await;
}
