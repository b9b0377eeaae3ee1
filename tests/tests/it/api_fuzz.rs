//! Schemathesis (PyPI) against the live OpenAPI document: every operation fuzzed with an
//! admin API key of a real project, and no answer may be a 5xx, or have a status, content type,
//! headers or body the document does not give.

use std::process::Stdio;

use reqwest::Method;
use serde_json::json;
use tests::control::{ControlPlane, accounts};

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let cp = ControlPlane::start(|_| {}).await;
    let admin = accounts(&cp, &[]).await;
    let project = cp
        .ok(
            Method::POST,
            "/api/v1/projects",
            &admin,
            Some(json!({"name": "fuzzed"})),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{project}/api-keys"),
            &admin,
            Some(json!({"name": "schemathesis", "role": "admin"})),
        )
        .await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    // Path parameters named `project_id` take the real project, so the fuzzer gets past 404.
    let dir = tests::test_dir(&tests::unique_name("schemathesis"));
    std::fs::write(
        dir.join("schemathesis.toml"),
        format!("[parameters]\nproject_id = \"{project}\"\n"),
    )
    .unwrap();
    let python = std::path::PathBuf::from(tests::python());
    let schemathesis = python.with_file_name("schemathesis");
    let output = tokio::process::Command::new(&schemathesis)
        .current_dir(&dir)
        .args([
            "run",
            &format!("{}/api/v1/openapi.json", cp.base),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance",
            "--header",
            &format!("Authorization: Bearer {key}"),
            "--max-examples",
            "25",
            "--seed",
            "20261124",
            "--request-timeout",
            "30",
            // Revoking its own key would leave the rest of the run unauthenticated.
            "--exclude-name",
            "DELETE /api/v1/projects/{project_id}/api-keys/{key_id}",
            // A live tail never ends (its stream is tested in explorer_logs.rs).
            "--exclude-name",
            "GET /api/v1/projects/{project_id}/logs/tail",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap_or_else(|e| panic!("{} runs: {e}", schemathesis.display()));
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Every operation of the document but the excluded two was tested.
    let doc = cp
        .ok(Method::GET, "/api/v1/openapi.json", &admin, None)
        .await;
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert!(
        report.contains(&format!("Tested: {}", operations - 2)),
        "{operations} operations; {report}"
    );
}
