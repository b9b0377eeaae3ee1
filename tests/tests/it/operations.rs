//! Probes (registration, keys, assignments and the long-polled assignment endpoint), incidents
//! declared and handled by hand, incident states and severities, notification channels and
//! maintenance windows through the API: roles, isolation and bad input included.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::control::{Auth, ControlPlane, PASSWORD, accounts};

struct Setup {
    cp: ControlPlane,
    admin: Auth,
    member: Auth,
    viewer: Auth,
    p: String,
    other: String,
}

async fn setup() -> Setup {
    let cp = ControlPlane::start(|_| {}).await;
    let admin = accounts(&cp, &["member", "viewer"]).await;
    let mut ids = Vec::new();
    for name in ["ops", "other"] {
        let p = cp
            .ok(
                Method::POST,
                "/api/v1/projects",
                &admin,
                Some(json!({"name": name})),
            )
            .await;
        ids.push(p["id"].as_str().unwrap().to_owned());
    }
    for role in ["member", "viewer"] {
        cp.join(&ids[0], &admin, &format!("{role}@vigil.test"), role)
            .await;
    }
    let member = cp.login("member@vigil.test", PASSWORD).await;
    let viewer = cp.login("viewer@vigil.test", PASSWORD).await;
    let other = ids.pop().unwrap();
    let p = ids.pop().unwrap();
    Setup {
        cp,
        admin,
        member,
        viewer,
        p,
        other,
    }
}

/// The assignment poll as a probe makes it.
async fn poll(cp: &ControlPlane, key: &str, query: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/probe/assignments{query}", cp.base))
        .bearer_auth(key)
        .header("x-vigil-probe-version", "0.3.1")
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_register_get_assignments_and_hear_of_changes_within_seconds() {
    let Setup {
        cp,
        admin,
        member,
        viewer,
        p,
        other,
    } = setup().await;
    let probes = format!("/api/v1/projects/{p}/probes");
    cp.answer(
        StatusCode::FORBIDDEN,
        Method::POST,
        &probes,
        &member,
        Some(json!({"name": "edge"})),
    )
    .await;
    let registered = cp
        .answer(
            StatusCode::CREATED,
            Method::POST,
            &probes,
            &admin,
            Some(json!({"name": "eu-west"})),
        )
        .await;
    let key = registered["key"].as_str().unwrap().to_owned();
    let probe = registered["probe"]["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("vpk_"));
    assert_eq!(registered["probe"]["is_online"], false);
    let m = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/monitors"),
            &member,
            Some(json!({"name": "Site", "kind": "http", "interval_secs": 20,
                        "settings": {"url": "https://site.test"}, "probe_ids": [probe]})),
        )
        .await["monitor"]
        .clone();
    assert_eq!(m["probe_ids"], json!([probe]));
    let monitor = m["id"].as_str().unwrap().to_owned();

    // The probe's view: its monitors, with what to check.
    let (status, first) = poll(&cp, &key, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["probe_id"], probe.as_str());
    assert_eq!(first["monitors"].as_array().unwrap().len(), 1);
    let assigned = &first["monitors"][0];
    assert_eq!(assigned["id"], monitor.as_str());
    assert_eq!(assigned["kind"], "http");
    assert_eq!(assigned["settings"]["url"], "https://site.test");
    assert_eq!(assigned["interval_secs"], 20);
    let listed = cp.ok(Method::GET, &probes, &viewer, None).await;
    let seen = &listed["items"][0];
    assert_eq!(seen["version"], "0.3.1");
    assert_eq!(seen["is_online"], true);
    assert!(seen["last_seen_at"].is_string());
    assert_eq!(seen["monitor_ids"], json!([monitor]));

    // Holding the current version, the poll waits; a change answers it at once.
    let version = first["version"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let (_, same) = poll(&cp, &key, &format!("?version={version}&wait=1")).await;
    assert_eq!(same["version"], version.as_str());
    assert!(started.elapsed() >= Duration::from_millis(900));
    let waiting = {
        let (base, key, version) = (cp.base.clone(), key.clone(), version.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let cp_base = base;
            let response = reqwest::Client::new()
                .get(format!(
                    "{cp_base}/api/v1/probe/assignments?version={version}&wait=20"
                ))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            (started.elapsed(), response.json::<Value>().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    cp.ok(
        Method::PATCH,
        &format!("/api/v1/projects/{p}/monitors/{monitor}"),
        &member,
        Some(json!({"interval_secs": 60})),
    )
    .await;
    let (took, changed) = waiting.await.unwrap();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_ne!(changed["version"], version.as_str());
    assert_eq!(changed["monitors"][0]["interval_secs"], 60);

    // Assignments from the probe's side; push monitors cannot be assigned.
    let beat = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/monitors"),
            &member,
            Some(json!({"name": "cron", "kind": "heartbeat"})),
        )
        .await["monitor"]["id"]
        .clone();
    let assign = format!("{probes}/{probe}/monitors");
    cp.answer(
        StatusCode::BAD_REQUEST,
        Method::PUT,
        &assign,
        &member,
        Some(json!({"monitor_ids": [beat]})),
    )
    .await;
    cp.answer(
        StatusCode::FORBIDDEN,
        Method::PUT,
        &assign,
        &viewer,
        Some(json!({"monitor_ids": []})),
    )
    .await;
    let emptied = cp
        .ok(
            Method::PUT,
            &assign,
            &member,
            Some(json!({"monitor_ids": []})),
        )
        .await;
    assert_eq!(emptied["monitor_ids"], json!([]));
    let (_, now) = poll(&cp, &key, "").await;
    assert_eq!(now["monitors"], json!([]));

    // Bad input and bad keys.
    assert_eq!(poll(&cp, &key, "?wait=99").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(poll(&cp, "vpk_nope", "").await.0, StatusCode::UNAUTHORIZED);
    cp.answer(
        StatusCode::NOT_FOUND,
        Method::DELETE,
        &format!("/api/v1/projects/{other}/probes/{probe}"),
        &admin,
        None,
    )
    .await;
    cp.answer(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        &format!("{probes}/{probe}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(poll(&cp, &key, "").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn incidents_by_hand_states_severities_notes_channels_and_maintenance() {
    let Setup {
        cp,
        admin,
        member,
        viewer,
        p,
        other,
    } = setup().await;
    let severities = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incident-severities"),
            &viewer,
            None,
        )
        .await;
    let names: Vec<&str> = severities["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Critical", "Major", "Minor"]);
    let major = severities["items"][1]["id"].as_str().unwrap().to_owned();
    cp.answer(
        StatusCode::FORBIDDEN,
        Method::POST,
        &format!("/api/v1/projects/{p}/incident-severities"),
        &member,
        Some(json!({"name": "Cosmetic", "color": "#999999"})),
    )
    .await;
    let cosmetic = cp
        .answer(
            StatusCode::CREATED,
            Method::POST,
            &format!("/api/v1/projects/{p}/incident-severities"),
            &admin,
            Some(json!({"name": "Cosmetic", "color": "#999999", "position": 3})),
        )
        .await;
    assert_eq!(
        (&cosmetic["kind"], &cosmetic["position"]),
        (&Value::Null, &json!(3))
    );
    let severities_now = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incident-severities"),
            &viewer,
            None,
        )
        .await;
    assert_eq!(severities_now["items"][3]["name"], "Cosmetic");
    let investigating = cp
        .answer(
            StatusCode::CREATED,
            Method::POST,
            &format!("/api/v1/projects/{p}/incident-states"),
            &admin,
            Some(json!({"name": "Investigating", "color": "#ff8800"})),
        )
        .await;
    assert_eq!(investigating["kind"], "custom");
    let monitor = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/monitors"),
            &member,
            Some(json!({"name": "DB", "kind": "tcp", "settings": {"host": "db", "port": 5432}})),
        )
        .await["monitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Declared by hand.
    let incidents = format!("/api/v1/projects/{p}/incidents");
    for bad in [
        json!({"title": "", "severity_id": major}),
        json!({"title": "x", "severity_id": severities["items"][0]["id"], "monitor_ids": [p]}),
        json!({"title": "x"}),
    ] {
        cp.answer(
            StatusCode::BAD_REQUEST,
            Method::POST,
            &incidents,
            &member,
            Some(bad),
        )
        .await;
    }
    cp.answer(
        StatusCode::FORBIDDEN,
        Method::POST,
        &incidents,
        &viewer,
        Some(json!({"title": "x", "severity_id": major})),
    )
    .await;
    let declared = cp
        .answer(
            StatusCode::CREATED,
            Method::POST,
            &incidents,
            &member,
            Some(json!({"title": "Slow checkout", "description": "p99 up",
                        "severity_id": major, "monitor_ids": [monitor]})),
        )
        .await;
    assert_eq!(declared["number"], 1);
    assert_eq!(declared["state_kind"], "created");
    assert_eq!(declared["severity"]["name"], "Major");
    assert_eq!(declared["monitor_ids"], json!([monitor]));
    assert_eq!(declared["source_monitor_id"], Value::Null);
    let id = declared["id"].as_str().unwrap().to_owned();
    let one = format!("{incidents}/{id}");
    let moved = cp
        .ok(
            Method::POST,
            &format!("{one}/state"),
            &member,
            Some(json!({"state_id": investigating["id"]})),
        )
        .await;
    assert_eq!(moved["state"]["name"], "Investigating");
    assert_eq!(moved["state_kind"], "custom");
    cp.answer(
        StatusCode::CREATED,
        Method::POST,
        &format!("{one}/notes"),
        &member,
        Some(json!({"note": "rolled back deploy 42"})),
    )
    .await;
    cp.answer(
        StatusCode::BAD_REQUEST,
        Method::POST,
        &format!("{one}/notes"),
        &member,
        Some(json!({"note": "  "})),
    )
    .await;
    cp.answer(
        StatusCode::FORBIDDEN,
        Method::POST,
        &format!("{one}/acknowledge"),
        &viewer,
        None,
    )
    .await;
    let resolved = cp
        .ok(Method::POST, &format!("{one}/resolve"), &member, None)
        .await;
    assert_eq!(resolved["state_kind"], "resolved");
    cp.answer(
        StatusCode::CONFLICT,
        Method::POST,
        &format!("{one}/resolve"),
        &member,
        None,
    )
    .await;
    let detail = cp.ok(Method::GET, &one, &viewer, None).await;
    let timeline: Vec<(String, Value)> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["kind"].as_str().unwrap().to_owned(), t["state"].clone()))
        .collect();
    assert_eq!(
        timeline,
        [
            ("state".into(), json!("Created")),
            ("state".into(), json!("Investigating")),
            ("note".into(), Value::Null),
            ("state".into(), json!("Resolved")),
        ]
    );
    assert_eq!(detail["timeline"][2]["note"], "rolled back deploy 42");
    let open = cp
        .ok(
            Method::GET,
            &format!("{incidents}?open=true"),
            &viewer,
            None,
        )
        .await;
    assert_eq!(open["items"], json!([]));
    let closed = cp
        .ok(
            Method::GET,
            &format!("{incidents}?open=false"),
            &viewer,
            None,
        )
        .await;
    assert_eq!(closed["items"][0]["id"], id.as_str());
    cp.answer(
        StatusCode::NOT_FOUND,
        Method::GET,
        &format!("/api/v1/projects/{other}/incidents/{id}"),
        &admin,
        None,
    )
    .await;

    // Channels: admins manage, members read, secrets never shown, bad settings refused.
    let channels = format!("/api/v1/projects/{p}/notification-channels");
    cp.answer(
        StatusCode::FORBIDDEN,
        Method::POST,
        &channels,
        &member,
        Some(json!({"name": "s", "kind": "slack", "settings": {"url": "https://hooks.test/s"}})),
    )
    .await;
    let hook = cp
        .answer(
            StatusCode::CREATED,
            Method::POST,
            &channels,
            &admin,
            Some(json!({"name": "hook", "kind": "webhook",
                        "settings": {"url": "https://hooks.test/w", "secret": "0123456789abcdef"}})),
        )
        .await;
    assert_eq!(hook["secret"], Value::Null);
    let hook_url = format!("{channels}/{}", hook["channel"]["id"].as_str().unwrap());
    cp.answer(
        StatusCode::BAD_REQUEST,
        Method::PATCH,
        &hook_url,
        &admin,
        Some(json!({"settings": {"url": "nope"}})),
    )
    .await;
    let changed = cp
        .ok(
            Method::PATCH,
            &hook_url,
            &admin,
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(changed["enabled"], false);
    let listed = cp.ok(Method::GET, &channels, &member, None).await;
    assert_eq!(
        listed["items"][0]["settings"],
        json!({"url": "https://hooks.test/w"})
    );
    cp.answer(StatusCode::FORBIDDEN, Method::GET, &channels, &viewer, None)
        .await;
    let deliveries = cp
        .ok(
            Method::GET,
            &format!("{hook_url}/deliveries"),
            &member,
            None,
        )
        .await;
    assert_eq!(deliveries["items"], json!([]));
    cp.answer(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        &hook_url,
        &admin,
        None,
    )
    .await;
    cp.answer(
        StatusCode::NOT_FOUND,
        Method::DELETE,
        &hook_url,
        &admin,
        None,
    )
    .await;

    // Maintenance windows.
    let windows = format!("/api/v1/projects/{p}/maintenance-windows");
    cp.answer(
        StatusCode::BAD_REQUEST,
        Method::POST,
        &windows,
        &member,
        Some(
            json!({"title": "db upgrade", "starts_at": "2026-11-24T10:00:00Z",
                    "ends_at": "2026-11-24T09:00:00Z"}),
        ),
    )
    .await;
    let w = cp
        .answer(
            StatusCode::CREATED,
            Method::POST,
            &windows,
            &member,
            Some(
                json!({"title": "db upgrade", "starts_at": "2026-11-24T10:00:00Z",
                        "ends_at": "2026-11-24T11:00:00Z", "monitor_ids": [monitor]}),
            ),
        )
        .await;
    assert_eq!(w["monitor_ids"], json!([monitor]));
    let listed = cp.ok(Method::GET, &windows, &viewer, None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    cp.answer(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        &format!("{windows}/{}", w["id"].as_str().unwrap()),
        &member,
        None,
    )
    .await;
}
