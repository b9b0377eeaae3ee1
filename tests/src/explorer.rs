//! The explorer's tests' set-up: an ingest engine writing one project's telemetry into the
//! database the control plane reads, a Python client script run against it, and GETs with
//! query parameters through the control plane's API client.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::TestEngine;
use crate::control::{Auth, ControlPlane};

/// An engine that stores what `token` sends as project `project`'s, where `cp` reads.
pub async fn engine_for_project(
    cp: &ControlPlane,
    label: &str,
    project: &str,
    token: &str,
) -> TestEngine {
    let database = cp.results_database().to_owned();
    let tokens = format!("{token}={project}");
    TestEngine::start_with(label, move |c| {
        c.ingest_tokens = ingest_engine::config::Secret(tokens);
        c.clickhouse.database = database;
    })
    .await
}

/// Runs `tests/python/<script>` with `args`; its standard output (it must succeed).
pub async fn python_client(script: &str, args: &[&str]) -> Vec<u8> {
    let out = tokio::process::Command::new(crate::python())
        .arg(crate::repo_root().join("tests/python").join(script))
        .args(args)
        .output()
        .await
        .expect("python runs");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `GET path?params` (appended to any query `path` has) through the API client.
pub async fn get(
    cp: &ControlPlane,
    auth: &Auth,
    path: &str,
    params: &[(&str, &str)],
) -> (StatusCode, Value) {
    let url = reqwest::Url::parse_with_params(&format!("http://x{path}"), params).expect("a path");
    let path = format!("{}?{}", url.path(), url.query().unwrap_or(""));
    let (status, body, _) = cp.call(Method::GET, &path, auth, None).await;
    (status, body)
}
