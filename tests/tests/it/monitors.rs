//! Monitors and their statuses through the API (shape checks, defaults, roles, isolation, the
//! timeline), and keys reaching the ingest engine: ingestion keys and monitor push keys made in
//! the control plane work at the engine, and revoking them is felt there within 5 s.

use std::time::{Duration, Instant};

use ingest_engine::config::Secret;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::control::{Auth, ControlPlane, accounts};
use tests::{TestEngine, logs_json, request, wait_until};

/// A project made by the admin; its id.
async fn project(cp: &ControlPlane, admin: &Auth, name: &str) -> String {
    let p = cp
        .ok(
            Method::POST,
            "/api/v1/projects",
            admin,
            Some(json!({"name": name})),
        )
        .await;
    p["id"].as_str().unwrap().to_owned()
}

/// The project's statuses by name.
async fn statuses(cp: &ControlPlane, auth: &Auth, project: &str) -> Value {
    let list = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{project}/monitor-statuses"),
            auth,
            None,
        )
        .await;
    let mut by_name = serde_json::Map::new();
    for s in list["items"].as_array().unwrap() {
        by_name.insert(s["name"].as_str().unwrap().to_owned(), s.clone());
    }
    Value::Object(by_name)
}

#[tokio::test(flavor = "multi_thread")]
async fn monitors_statuses_roles_isolation_and_timeline() {
    let cp = ControlPlane::start(|_| {}).await;
    let admin = accounts(&cp, &["viewer", "member"]).await;
    let p = project(&cp, &admin, "shop").await;
    let other = project(&cp, &admin, "other").await;
    for (who, role) in [("viewer", "viewer"), ("member", "member")] {
        cp.join(&p, &admin, &format!("{who}@vigil.test"), role)
            .await;
    }
    let viewer = cp
        .login("viewer@vigil.test", tests::control::PASSWORD)
        .await;
    let member = cp
        .login("member@vigil.test", tests::control::PASSWORD)
        .await;
    let monitors = format!("/api/v1/projects/{p}/monitors");

    // Every project starts with three statuses.
    let s = statuses(&cp, &viewer, &p).await;
    assert_eq!(s["Operational"]["is_operational"], true);
    assert_eq!(s["Offline"]["is_offline"], true);
    assert_eq!(s["Degraded"]["color"], "#e0a800");

    // A website monitor with defaults: the default criterion and the operational status.
    let created = cp
        .answer(
            StatusCode::CREATED,
            Method::POST,
            &monitors,
            &member,
            Some(json!({"name": "Home page", "kind": "http",
                        "settings": {"url": "https://shop.test/"}, "interval_secs": 30})),
        )
        .await;
    let m = &created["monitor"];
    let id = m["id"].as_str().unwrap();
    assert_eq!(created["key"], Value::Null);
    assert_eq!(m["settings"]["method"], "GET");
    assert_eq!(m["interval_secs"], 30);
    assert_eq!(m["timeout_ms"], 10000);
    assert_eq!(m["current_status_id"], s["Operational"]["id"]);
    assert_eq!(m["criteria"][0]["name"], "Offline");
    assert_eq!(
        m["criteria"][0]["filters"],
        json!([{"check": "is_online", "op": "is_false"},
               {"check": "status_code", "op": "gte", "value": 500.0}])
    );
    assert_eq!(m["criteria"][0]["status_id"], s["Offline"]["id"]);
    assert_eq!(
        m["criteria"][0]["incident"]["title"],
        "Home page is offline"
    );

    // Bad input: a clear 400 and nothing stored.
    for bad in [
        json!({"name": "x", "kind": "http", "settings": {"url": "ftp://x"}}),
        json!({"name": "x", "kind": "http", "settings": {"url": "https://x"}, "interval_secs": 5}),
        json!({"name": "x", "kind": "tcp", "settings": {"host": "db"}}),
        json!({"name": "x", "kind": "carrier-pigeon"}),
        json!({"name": "x", "kind": "http", "settings": {"url": "https://x"},
               "criteria": [{"name": "c", "match": "all", "status_id": s["Offline"]["id"],
                             "filters": [{"check": "status_code", "op": "contains", "value": "5"}]}]}),
        json!({"name": "x", "kind": "heartbeat", "probe_ids": [id]}),
    ] {
        let body = cp
            .answer(
                StatusCode::BAD_REQUEST,
                Method::POST,
                &monitors,
                &member,
                Some(bad),
            )
            .await;
        assert_eq!(body["error"]["code"], "bad_request");
    }
    // Another project's status is refused like a missing one.
    let foreign = statuses(&cp, &admin, &other).await["Offline"]["id"].clone();
    cp.answer(
        StatusCode::BAD_REQUEST,
        Method::POST,
        &monitors,
        &member,
        Some(
            json!({"name": "x", "kind": "http", "settings": {"url": "https://x"},
                    "criteria": [{"name": "c", "match": "any", "status_id": foreign,
                                  "filters": [{"check": "is_online", "op": "is_false"}]}]}),
        ),
    )
    .await;
    let list = cp.ok(Method::GET, &monitors, &viewer, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // Viewers read, members write.
    cp.answer(
        StatusCode::FORBIDDEN,
        Method::POST,
        &monitors,
        &viewer,
        Some(json!({"name": "y", "kind": "ping", "settings": {"host": "db"}})),
    )
    .await;
    let one = format!("{monitors}/{id}");
    cp.answer(StatusCode::FORBIDDEN, Method::DELETE, &one, &viewer, None)
        .await;
    let changed = cp
        .ok(
            Method::PATCH,
            &one,
            &member,
            Some(json!({"name": "Home", "enabled": false,
                        "settings": {"url": "https://shop.test/health"}})),
        )
        .await;
    assert_eq!(changed["name"], "Home");
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["settings"]["url"], "https://shop.test/health");
    assert_eq!(changed["criteria"], m["criteria"]);
    assert_eq!(changed["interval_secs"], 30);

    // Another project's monitor is a 404, through its URL or the other project's.
    cp.answer(
        StatusCode::NOT_FOUND,
        Method::GET,
        &format!("/api/v1/projects/{other}/monitors/{id}"),
        &admin,
        None,
    )
    .await;
    let outsider_key = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{other}/api-keys"),
            &admin,
            Some(json!({"name": "other", "role": "admin"})),
        )
        .await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let outsider = Auth::Bearer(outsider_key);
    cp.answer(StatusCode::NOT_FOUND, Method::GET, &one, &outsider, None)
        .await;
    cp.answer(
        StatusCode::NOT_FOUND,
        Method::PATCH,
        &one,
        &outsider,
        Some(json!({"name": "stolen"})),
    )
    .await;

    // The timeline starts with the creation.
    let timeline = cp
        .ok(Method::GET, &format!("{one}/timeline"), &viewer, None)
        .await;
    let entries = timeline["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["status_name"], "Operational");
    assert_eq!(entries[0]["reason"], "created");
    assert_eq!(entries[0]["ends_at"], Value::Null);

    // Custom statuses: admins add them; one in use by a criterion cannot go.
    let statuses_url = format!("/api/v1/projects/{p}/monitor-statuses");
    cp.answer(
        StatusCode::FORBIDDEN,
        Method::POST,
        &statuses_url,
        &member,
        Some(json!({"name": "Maintenance", "color": "#3366ff"})),
    )
    .await;
    cp.answer(
        StatusCode::BAD_REQUEST,
        Method::POST,
        &statuses_url,
        &admin,
        Some(json!({"name": "Blue", "color": "blue"})),
    )
    .await;
    let custom = cp
        .answer(
            StatusCode::CREATED,
            Method::POST,
            &statuses_url,
            &admin,
            Some(json!({"name": "Maintenance", "color": "#3366FF"})),
        )
        .await;
    assert_eq!(custom["color"], "#3366ff");
    cp.answer(
        StatusCode::CONFLICT,
        Method::POST,
        &statuses_url,
        &admin,
        Some(json!({"name": "Maintenance", "color": "#3366ff"})),
    )
    .await;
    let offline = s["Offline"]["id"].as_str().unwrap();
    cp.answer(
        StatusCode::CONFLICT,
        Method::DELETE,
        &format!("{statuses_url}/{offline}"),
        &admin,
        None,
    )
    .await;
    let custom_url = format!("{statuses_url}/{}", custom["id"].as_str().unwrap());
    cp.answer(
        StatusCode::FORBIDDEN,
        Method::PATCH,
        &custom_url,
        &member,
        Some(json!({"color": "#112233"})),
    )
    .await;
    let patched = cp
        .ok(
            Method::PATCH,
            &custom_url,
            &admin,
            Some(json!({"name": "Planned work", "color": "#112233"})),
        )
        .await;
    assert_eq!(
        (&patched["name"], &patched["color"]),
        (&json!("Planned work"), &json!("#112233"))
    );
    assert_eq!(patched["id"], custom["id"]);
    cp.answer(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        &custom_url,
        &admin,
        None,
    )
    .await;

    cp.answer(StatusCode::NO_CONTENT, Method::DELETE, &one, &member, None)
        .await;
    cp.answer(StatusCode::NOT_FOUND, Method::GET, &one, &member, None)
        .await;
}

/// Polls `check` (every 50 ms) until it is true; how long that took.
async fn time_until<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    wait_until(Duration::from_secs(20), what, || {
        let done = check();
        async move { done.await.then_some(()) }
    })
    .await;
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_made_in_the_control_plane_work_at_the_engine_and_revocation_reaches_it() {
    let cp = ControlPlane::start(|_| {}).await;
    let admin = accounts(&cp, &[]).await;
    let p = project(&cp, &admin, "telemetry").await;
    let database_url = cp.database_url.clone();
    let engine = TestEngine::start_with("keysync", |c| {
        c.keys.database_url = Secret(database_url);
        c.keys.refresh_secs = 3600;
    })
    .await;

    let key = cp
        .answer(
            StatusCode::CREATED,
            Method::POST,
            &format!("/api/v1/projects/{p}/ingestion-keys"),
            &admin,
            Some(json!({"name": "collector"})),
        )
        .await;
    let token = key["secret"].as_str().unwrap().to_owned();
    let export = |body: String| {
        let url = engine.http_url("/v1/logs");
        let token = token.clone();
        async move {
            request(
                Method::POST,
                url,
                &[
                    ("content-type", "application/json"),
                    ("authorization", &format!("Bearer {token}")),
                ],
                body,
            )
            .await
            .0
        }
    };
    // A new key is taken within seconds (NOTIFY), and its rows carry the project's id.
    let took = time_until("the new ingestion key works", || {
        { export(logs_json("checkout", &["first".into()])) }.then_is(200)
    })
    .await;
    assert!(took < Duration::from_secs(5), "new key took {took:?}");
    engine.settle().await;
    let rows = engine
        .rows(
            "logs",
            "project_id, body",
            "WHERE service_name = 'checkout'",
        )
        .await;
    assert_eq!(rows, vec![json!({"project_id": p, "body": "first"})]);

    // Revoked: refused with 401 within 5 s, and nothing more is stored.
    cp.answer(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        &format!(
            "/api/v1/projects/{p}/ingestion-keys/{}",
            key["key"]["id"].as_str().unwrap()
        ),
        &admin,
        None,
    )
    .await;
    let took = time_until("the revoked key is refused", || {
        { export(logs_json("checkout", &["after".into()])) }.then_is(401)
    })
    .await;
    assert!(took < Duration::from_secs(5), "revocation took {took:?}");
    // Requests made before the revocation reached the engine were taken (200); from now on
    // every one is refused and nothing of it stored.
    assert_eq!(
        export(logs_json("checkout", &["refused".into()])).await,
        401
    );
    engine.settle().await;
    assert!(
        engine
            .rows("logs", "body", "WHERE body = 'refused'")
            .await
            .is_empty()
    );

    // Push keys of heartbeat and server monitors: accepted, then refused once the monitor
    // is deleted or its key replaced.
    let monitors = format!("/api/v1/projects/{p}/monitors");
    let beat = cp
        .ok(
            Method::POST,
            &monitors,
            &admin,
            Some(json!({"name": "nightly", "kind": "heartbeat"})),
        )
        .await;
    let beat_key = beat["key"].as_str().unwrap().to_owned();
    assert!(beat_key.starts_with("vmk_"));
    let beat_url = engine.http_url(&format!("/heartbeat/{beat_key}"));
    let get = |url: String| async move { request(Method::GET, url, &[], "").await.0 };
    time_until("the heartbeat key works", || {
        get(beat_url.clone()).then_is(200)
    })
    .await;
    let server = cp
        .ok(
            Method::POST,
            &monitors,
            &admin,
            Some(json!({"name": "db-1", "kind": "server"})),
        )
        .await;
    let old_key = server["key"].as_str().unwrap().to_owned();
    let verify = |k: &str| engine.http_url(&format!("/server-monitor/secret-key/verify/{k}"));
    time_until("the agent key works", || get(verify(&old_key)).then_is(200)).await;
    let rotated = cp
        .ok(
            Method::POST,
            &format!(
                "{monitors}/{}/key",
                server["monitor"]["id"].as_str().unwrap()
            ),
            &admin,
            None,
        )
        .await;
    let new_key = rotated["key"].as_str().unwrap().to_owned();
    let took = time_until("the old agent key is refused", || {
        get(verify(&old_key)).then_is(404)
    })
    .await;
    assert!(took < Duration::from_secs(5), "key rotation took {took:?}");
    assert_eq!(get(verify(&new_key)).await, 200);
    // A disabled monitor's key is refused until it is enabled again.
    let beat_path = format!("{monitors}/{}", beat["monitor"]["id"].as_str().unwrap());
    let enable = |on: bool| {
        cp.ok(
            Method::PATCH,
            &beat_path,
            &admin,
            Some(json!({"enabled": on})),
        )
    };
    enable(false).await;
    let took = time_until("the disabled monitor's key is refused", || {
        get(beat_url.clone()).then_is(404)
    })
    .await;
    assert!(took < Duration::from_secs(5), "disabling took {took:?}");
    enable(true).await;
    time_until("the enabled monitor's key works again", || {
        get(beat_url.clone()).then_is(200)
    })
    .await;
    cp.answer(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        &format!("{monitors}/{}", beat["monitor"]["id"].as_str().unwrap()),
        &admin,
        None,
    )
    .await;
    let took = time_until("the deleted monitor's key is refused", || {
        get(beat_url.clone()).then_is(404)
    })
    .await;
    assert!(took < Duration::from_secs(5), "deletion took {took:?}");
    engine.stop().await;
}

/// `future.then_is(status)`: whether the status a future yields is `status`.
trait ThenIs: std::future::Future<Output = u16> + Sized {
    fn then_is(self, status: u16) -> impl std::future::Future<Output = bool> {
        async move { self.await == status }
    }
}

impl<F: std::future::Future<Output = u16>> ThenIs for F {}
