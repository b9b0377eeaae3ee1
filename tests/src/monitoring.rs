//! The monitoring chain in a test: a control plane with a project, an ingest engine on its keys
//! feeding a worker's streams, monitors and probes made through the API, results appended as
//! the engine publishes them, and waits on what the worker makes of them.

use std::time::Duration;

use ingest_engine::config::Secret;
use redis::AsyncCommands;
use reqwest::Method;
use serde_json::{Value, json};

use crate::control::{Auth, ControlPlane, TestWorker, accounts};
use crate::receiver::{Received, json as body_json};
use crate::{TestEngine, redis_url, wait_until};

/// How long a test waits for the worker.
pub const WAIT: Duration = Duration::from_secs(30);

/// A control plane with its instance admin and one project.
pub async fn setup() -> (ControlPlane, Auth, String) {
    setup_with(|_| {}).await
}

/// `setup` with the control plane's configuration adjusted by `tweak`.
pub async fn setup_with(
    tweak: impl FnOnce(&mut control_plane::config::Config),
) -> (ControlPlane, Auth, String) {
    let cp = ControlPlane::start(tweak).await;
    let admin = accounts(&cp, &[]).await;
    let p = project(&cp, &admin).await;
    (cp, admin, p)
}

/// An ingest engine reading the control plane's keys and publishing to `worker`'s streams.
pub async fn engine_for(cp: &ControlPlane, worker: &TestWorker, label: &str) -> TestEngine {
    let (database_url, prefix) = (cp.database_url.clone(), worker.stream_prefix.clone());
    TestEngine::start_with(label, |c| {
        c.keys.database_url = Secret(database_url);
        c.redis.stream_prefix = prefix;
    })
    .await
}

/// The id of the project's status named `name`.
pub async fn status_id(cp: &ControlPlane, auth: &Auth, project: &str, name: &str) -> Value {
    let path = format!("/api/v1/projects/{project}/monitor-statuses");
    let statuses = cp.ok(Method::GET, &path, auth, None).await;
    statuses["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()["id"]
        .clone()
}

/// The monitor went down and up once: its timeline, and one incident opened and resolved.
pub async fn down_and_up_once(cp: &ControlPlane, admin: &Auth, p: &str, m: &str) {
    let path = format!("/api/v1/projects/{p}/monitors/{m}/timeline");
    let timeline = cp.ok(Method::GET, &path, admin, None).await;
    let reasons: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["no criteria met", "Offline", "created"]);
    let path = format!("/api/v1/projects/{p}/incidents");
    let incidents = cp.ok(Method::GET, &path, admin, None).await;
    assert_eq!(incidents["items"].as_array().unwrap().len(), 1);
    assert_eq!(incidents["items"][0]["state_kind"], "resolved");
}

async fn project(cp: &ControlPlane, admin: &Auth) -> String {
    cp.ok(
        Method::POST,
        "/api/v1/projects",
        admin,
        Some(json!({"name": "shop"})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A connection to the test Redis.
pub async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Appends a probe result as the ingest engine publishes it.
pub async fn probe_result(
    key: &str,
    event_id: &str,
    project: &str,
    monitor: &str,
    at_secs: i64,
    result: Value,
) {
    let mut conn = redis().await;
    let probe = FIXTURE_PROBE;
    let nanos = (at_secs * 1_000_000_000).to_string();
    let _: String = conn
        .xadd(
            key,
            "*",
            &[
                ("event_id", event_id),
                ("project_id", project),
                ("monitor_id", monitor),
                ("probe_id", probe),
                ("checked_at_unix_nano", &nanos),
                ("result", &result.to_string()),
            ],
        )
        .await
        .unwrap();
}

/// Waits until the monitor's current status is the one named `status`.
pub async fn status_becomes(
    cp: &ControlPlane,
    auth: &Auth,
    project: &str,
    monitor: &str,
    status: &str,
) {
    let want = status_id(cp, auth, project, status).await;
    let path = format!("/api/v1/projects/{project}/monitors/{monitor}");
    wait_until(WAIT, &format!("monitor {status}"), || async {
        let m = cp.ok(Method::GET, &path, auth, None).await;
        (m["current_status_id"] == want).then_some(())
    })
    .await;
}

/// The `event` of each received notification, sorted.
pub fn events(received: &[Received]) -> Vec<String> {
    let mut e: Vec<String> = received
        .iter()
        .map(|r| body_json(r)["event"].as_str().unwrap().to_owned())
        .collect();
    e.sort();
    e
}

/// An HTTP server on `listener` answering `GET /health` with 200 until the task is aborted.
pub fn http_target(listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
    let app = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    tokio::spawn(async move {
        let _stopped = axum::serve(listener, app).await;
    })
}

/// The probe [`probe_result`] appends results as.
pub const FIXTURE_PROBE: &str = "00000000-0000-4000-8000-000000000001";

/// Creates a monitor from `body` in project `p`; the API's answer (`monitor`, and `key` for
/// push monitors). A probe-checked monitor made without `probe_ids` is assigned
/// [`FIXTURE_PROBE`], so that the results [`probe_result`] appends for it are the monitor's
/// (the worker drops results of probes not assigned to a monitor).
pub async fn create_monitor(cp: &ControlPlane, auth: &Auth, p: &str, body: Value) -> Value {
    let path = format!("/api/v1/projects/{p}/monitors");
    let created = cp.ok(Method::POST, &path, auth, Some(body.clone())).await;
    if body.get("probe_ids").is_none() && created["key"].is_null() {
        let pool = sqlx::PgPool::connect(&cp.database_url).await.unwrap();
        sqlx::query(
            "INSERT INTO probes (id, project_id, name, digest, hint) \
             VALUES ($1::uuid, $2::uuid, 'fixture', 'fixture-' || $2, 'fixture') \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(FIXTURE_PROBE)
        .bind(p)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO monitor_probes (monitor_id, probe_id, project_id) \
             VALUES ($1::uuid, $2::uuid, $3::uuid)",
        )
        .bind(created["monitor"]["id"].as_str().unwrap())
        .bind(FIXTURE_PROBE)
        .bind(p)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    created
}

/// Registers a probe named `name` in project `p`; the API's answer (`probe`, `key`).
pub async fn register_probe(cp: &ControlPlane, auth: &Auth, p: &str, name: &str) -> Value {
    let path = format!("/api/v1/projects/{p}/probes");
    cp.ok(Method::POST, &path, auth, Some(json!({"name": name})))
        .await
}

/// Monitor `m`'s status timeline (the API's page).
pub async fn timeline(cp: &ControlPlane, auth: &Auth, p: &str, m: &str) -> Value {
    let path = format!("/api/v1/projects/{p}/monitors/{m}/timeline");
    cp.ok(Method::GET, &path, auth, None).await
}

/// The project's incidents (the API's page); `query` is e.g. `?open=true` or empty.
pub async fn incidents(cp: &ControlPlane, auth: &Auth, p: &str, query: &str) -> Value {
    let path = format!("/api/v1/projects/{p}/incidents{query}");
    cp.ok(Method::GET, &path, auth, None).await
}

/// Monitor `m`'s history: operational from 20 days ago, offline for one hour 10 days ago,
/// operational since — written into its status timeline as the worker would have.
pub async fn status_history(cp: &ControlPlane, p: &str, m: &str) {
    let pool = sqlx::PgPool::connect(&cp.database_url).await.unwrap();
    sqlx::query(
        "WITH s AS (SELECT \
           (SELECT id FROM monitor_statuses WHERE project_id = $1::uuid AND name = 'Operational') ok, \
           (SELECT id FROM monitor_statuses WHERE project_id = $1::uuid AND name = 'Offline') off), \
         moved AS (UPDATE monitor_status_timeline SET starts_at = now() - interval '10 days' + interval '1 hour' \
           WHERE monitor_id = $2::uuid RETURNING 1) \
         INSERT INTO monitor_status_timeline (id, project_id, monitor_id, status_id, starts_at, ends_at, reason) \
         SELECT gen_random_uuid(), $1::uuid, $2::uuid, s.ok, now() - interval '20 days', now() - interval '10 days', 'history' FROM s \
         UNION ALL SELECT gen_random_uuid(), $1::uuid, $2::uuid, s.off, now() - interval '10 days', \
           now() - interval '10 days' + interval '1 hour', 'history' FROM s",
    )
    .bind(p)
    .bind(m)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}
