//! The real Node client `@fluent-org/logger` (tests/node): the `shared_key` handshake with its
//! acks, and a project's ingestion key logging in until it is revoked.

use std::net::SocketAddr;
use std::time::Duration;

use tests::{PROJECT_2, TestEngine, repo_root, unique_name, wait_until};

use super::engine_with_forward;

#[tokio::test]
async fn the_node_fluent_logger_passes_the_handshake_and_gets_its_acks() {
    let (engine, addr) = engine_with_forward("fw_node", |c| {
        c.forward.shared_keys = ingest_engine::config::Secret(format!("node-key={PROJECT_2}"));
    })
    .await;
    let run_id = unique_name("node");
    let out = tests::node()
        .arg(repo_root().join("tests/node/fluent_send.js"))
        .args([
            addr.ip().to_string(),
            addr.port().to_string(),
            "node-key".into(),
            run_id.clone(),
        ])
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "fluent_send.js failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Acknowledged, so stored, in the project the shared key selects.
    let rows = engine
        .rows("logs", "project_id, service_name, body", "ORDER BY body")
        .await;
    let bodies: Vec<&str> = rows.iter().map(|r| r["body"].as_str().unwrap()).collect();
    assert_eq!(
        bodies,
        (0..3)
            .map(|n| format!("{run_id} n={n}"))
            .collect::<Vec<_>>()
    );
    for r in &rows {
        assert_eq!(r["project_id"], PROJECT_2);
        assert_eq!(r["service_name"], "node.app");
    }
    engine.stop().await;
}

/// Runs `fluent_send.js` against `addr`; whether every record was acknowledged.
async fn node_send(addr: SocketAddr, args: &[&str]) -> bool {
    tests::node()
        .arg(repo_root().join("tests/node/fluent_send.js"))
        .args([addr.ip().to_string(), addr.port().to_string()])
        .args(args)
        // Acknowledged within a second when accepted; refusals end at this deadline.
        .env("FLUENT_SEND_TIMEOUT_MS", "4000")
        .output()
        .await
        .expect("node runs")
        .status
        .success()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_projects_ingestion_key_logs_in_over_forward_until_it_is_revoked() {
    use reqwest::Method;
    use tests::control::{ControlPlane, accounts};
    let cp = ControlPlane::start(|_| {}).await;
    let admin = accounts(&cp, &[]).await;
    let p = cp
        .ok(
            Method::POST,
            "/api/v1/projects",
            &admin,
            Some(serde_json::json!({"name": "fluent"})),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/ingestion-keys"),
            &admin,
            Some(serde_json::json!({"name": "fluent-bit"})),
        )
        .await;
    let key = created["secret"].as_str().unwrap().to_owned();
    let key_id = created["key"]["id"].as_str().unwrap().to_owned();
    let database_url = cp.database_url.clone();
    let engine = TestEngine::start_with("fw_login", |c| {
        c.keys.database_url = ingest_engine::config::Secret(database_url);
        c.forward.key_login_shared_key = ingest_engine::config::Secret("vigil-login".into());
    })
    .await;
    let addr = engine.forward.expect("key logins turn the listener on");
    let run_id = unique_name("login");
    // The key made through the API works without a restart (once the engine has loaded it).
    wait_until(
        Duration::from_secs(10),
        "an ingestion-key login",
        || async {
            node_send(addr, &["vigil-login", &run_id, &key, "unused"])
                .await
                .then_some(())
        },
    )
    .await;
    let rows = engine
        .rows("logs", "project_id, body", "ORDER BY body")
        .await;
    assert!(!rows.is_empty());
    for r in &rows {
        assert_eq!(r["project_id"], p.as_str());
    }
    // A wrong key, or the right key with another shared key, is refused.
    assert!(!node_send(addr, &["vigil-login", &run_id, "vik_wrong", "unused"]).await);
    assert!(!node_send(addr, &["other", &run_id, &key, "unused"]).await);
    // Revoked: refused within seconds.
    cp.ok(
        Method::DELETE,
        &format!("/api/v1/projects/{p}/ingestion-keys/{key_id}"),
        &admin,
        None,
    )
    .await;
    wait_until(
        Duration::from_secs(10),
        "the revoked key refused",
        || async {
            (!node_send(addr, &["vigil-login", &run_id, &key, "unused"]).await).then_some(())
        },
    )
    .await;
    engine.stop().await;
}
