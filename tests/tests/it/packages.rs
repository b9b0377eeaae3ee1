//! The deployment packages, checked with the real tools (`tests/python/packages_check.py`):
//! the Helm chart lints and renders with Helm itself for each values set, and every manifest
//! validates against the Kubernetes schemas; the compose file validates against the Compose
//! specification's schema; the compose stack's nginx configuration is what `render.py` makes.
//! And the Dockerfile builds with the very cargo command `deploy/local/run.sh` runs.

use serde_json::Value;
use tests::explorer::python_client;
use tests::{repo_root, required_env};

#[tokio::test(flavor = "multi_thread")]
async fn the_chart_the_compose_file_and_their_nginx_validate() {
    let root = repo_root().display().to_string();
    let out = python_client(
        "packages_check.py",
        &[&root, &required_env("VIGIL_TEST_NODE_PATH")],
    )
    .await;
    let report: Value = serde_json::from_slice(&out).expect("a JSON report");
    let kinds = |values: &str| -> Vec<String> {
        report["charts"][values]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect()
    };
    let count = |values: &str, kind: &str| kinds(values).iter().filter(|k| *k == kind).count();
    // Engines, control plane, worker; the engines scale by CPU; three Ingresses (gRPC,
    // ingest HTTP, control plane); the migration Job.
    assert_eq!(count("defaults", "Deployment"), 3, "{report}");
    assert_eq!(count("defaults", "HorizontalPodAutoscaler"), 1);
    assert_eq!(count("defaults", "Ingress"), 3);
    assert_eq!(count("defaults", "Job"), 1);
    // Bundled PostgreSQL and Redis, the operator's ClickHouse, a probe.
    assert_eq!(count("bundled", "StatefulSet"), 2);
    assert_eq!(count("bundled", "ClickHouseInstallation"), 1);
    assert_eq!(count("bundled", "Deployment"), 4);
    assert_eq!(count("bundled", "HorizontalPodAutoscaler"), 0);
    // An existing Secret: the chart makes none.
    assert_eq!(count("existing-secret", "Secret"), 0);
    assert_eq!(
        report["compose"],
        serde_json::json!([
            "clickhouse",
            "control",
            "ingest",
            "migrate",
            "nginx",
            "postgres",
            "redis",
            "worker"
        ])
    );
    assert_eq!(report["nginx"].as_array().unwrap().len(), 3);
}

/// The `cargo build …` line of a file.
fn cargo_build(path: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join(path)).unwrap();
    let start = text.find("cargo build").expect("a cargo build");
    let line = text[start..].lines().next().unwrap();
    line.trim_end_matches(['\\', ' ']).to_owned()
}

#[test]
fn the_dockerfile_builds_with_the_run_commands_cargo_build() {
    assert_eq!(
        cargo_build("Dockerfile"),
        cargo_build("deploy/local/run.sh")
    );
    assert!(cargo_build("Dockerfile").contains("--locked"));
}
