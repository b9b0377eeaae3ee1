//! The operator UI in a real headless Chromium: `tests/browser/ui.test.js` (playwright-core,
//! run with `node --test`) drives the pages of a control plane that has a worker, an ingest
//! engine and — started by the script with the command the UI shows — a real `vigil-probe`.
//! This test starts the servers and fails with the script's output when any of its steps fails.

use std::time::Duration;

use tests::control::{ControlPlane, TestWorker};

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_ui_works_end_to_end_in_chromium() {
    // The engine's gRPC port is chosen first: the UI shows it in the probe's start command.
    let grpc_port = tests::free_port();
    let cp = ControlPlane::start(|c| {
        c.public_ingest_grpc_url = format!("http://127.0.0.1:{grpc_port}");
    })
    .await;
    let results = cp.results_database().to_owned();
    let worker = TestWorker::start(&cp, "ui_e2e", |w| {
        w.clickhouse_database = results;
    })
    .await;
    // As `monitoring::engine_for`, with the port fixed above.
    let engine = {
        let (database_url, prefix) = (cp.database_url.clone(), worker.stream_prefix.clone());
        tests::TestEngine::start_with("ui_e2e_eng", |c| {
            c.keys.database_url = ingest_engine::config::Secret(database_url);
            c.redis.stream_prefix = prefix;
            c.otlp_grpc_addr = ([127, 0, 0, 1], grpc_port).into();
        })
        .await
    };
    let shots = tests::test_dir(&tests::unique_name("ui_shots"));
    let root = tests::repo_root();
    let run = tests::node()
        .current_dir(&root)
        .args(["--test", "tests/browser/ui.test.js"])
        .env("VIGIL_UI_URL", &cp.base)
        .env(
            "VIGIL_PROBE_BIN",
            tests::required_env("VIGIL_TEST_PROBE_BIN"),
        )
        .env(
            "VIGIL_CHROMIUM",
            std::env::var("VIGIL_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
        )
        .env("VIGIL_SCREENSHOTS", &shots)
        .env("VIGIL_DOCS_DIR", root.join("docs"))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(420), run)
        .await
        .expect("the browser tests finish within 7 minutes")
        .expect("node runs");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "browser tests failed (screenshots in {}):\n{report}",
        shots.display()
    );
    assert!(report.contains("# fail 0"), "{report}");
    engine.stop().await;
    worker.stop().await;
}
