//! Test harness for Vigil's integration tests.
//!
//! The servers are real and are started by `deploy/test.sh`, which exports their URLs
//! (`VIGIL_TEST_CLICKHOUSE_URL`, …) and the Python with the real clients (`VIGIL_TEST_PYTHON`).
//! A test that needs one of them and does not find it panics with a message saying so; nothing
//! is ever skipped. Each test gets its own engine on `127.0.0.1:0` and its own ClickHouse
//! database, so tests run in parallel without seeing each other's rows.

// This crate is test code: failing loudly is its job.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::field_reassign_with_default
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ingest_engine::config::{Config, Secret};
use ingest_engine::{Listeners, RunningEngine};
use serde_json::Value;

/// The token every test engine accepts, for [`PROJECT`].
pub const TOKEN: &str = "test-token-1";
/// The project of [`TOKEN`].
pub const PROJECT: &str = "project-one";
/// A second token, for a second project.
pub const TOKEN_2: &str = "test-token-2";
/// The project of [`TOKEN_2`].
pub const PROJECT_2: &str = "project-two";

/// An environment variable the test command sets; panics with a clear message when missing.
pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests with `deploy/test.sh`, which starts the real servers"
        )
    })
}

/// The ClickHouse HTTP URL of the test server.
pub fn clickhouse_url() -> String {
    required_env("VIGIL_TEST_CLICKHOUSE_URL")
}

/// The Python interpreter that has the real clients installed.
pub fn python() -> String {
    required_env("VIGIL_TEST_PYTHON")
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A name unique within this run: `t_<label>_<pid>_<n>`.
pub fn unique_name(label: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "t_{label}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `sql` on the test ClickHouse and returns its output.
pub async fn clickhouse(sql: &str) -> String {
    let response = reqwest::Client::new()
        .post(clickhouse_url())
        .query(&[("output_format_json_quote_64bit_integers", "0")])
        .body(sql.to_owned())
        .send()
        .await
        .expect("clickhouse is reachable");
    let status = response.status();
    let text = response.text().await.expect("clickhouse answers");
    assert!(status.is_success(), "clickhouse refused `{sql}`: {text}");
    text
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after `timeout`.
pub async fn wait_until<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An in-process `vigil-ingest` writing to its own database on the test ClickHouse.
pub struct TestEngine {
    /// OTLP/gRPC address.
    pub grpc: SocketAddr,
    /// OTLP/HTTP address.
    pub http: SocketAddr,
    /// The ClickHouse database of this engine.
    pub database: String,
    running: Option<RunningEngine>,
}

impl TestEngine {
    /// Starts an engine with the test defaults.
    pub async fn start(label: &str) -> Self {
        Self::start_with(label, |_| {}).await
    }

    /// Starts an engine after `tweak` adjusted the test defaults.
    pub async fn start_with(label: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        let database = unique_name(label);
        let mut config = Config::default();
        config.ingest_tokens = Secret(format!("{TOKEN}={PROJECT},{TOKEN_2}={PROJECT_2}"));
        config.clickhouse.url = clickhouse_url();
        config.clickhouse.database = database.clone();
        config.batch.max_age_ms = 50;
        config.otlp_grpc_addr = "127.0.0.1:0".parse().expect("valid address");
        config.otlp_http_addr = "127.0.0.1:0".parse().expect("valid address");
        tweak(&mut config);
        let listeners = Listeners::bind(&config).await.expect("bind test listeners");
        let (grpc, http) = listeners.addrs().expect("bound addresses");
        let running = ingest_engine::start(config, listeners)
            .await
            .expect("engine starts");
        assert!(
            running.is_ready(),
            "engine not ready: is ClickHouse at {} up?",
            clickhouse_url()
        );
        Self {
            grpc,
            http,
            database,
            running: Some(running),
        }
    }

    /// `http://<otlp http addr><path>`.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Rows of `SELECT <columns> FROM <db>.<table> <rest>` as JSON objects.
    pub async fn rows(&self, table: &str, columns: &str, rest: &str) -> Vec<Value> {
        let sql = format!(
            "SELECT {columns} FROM {}.{table} {rest} FORMAT JSONEachRow",
            self.database
        );
        clickhouse(&sql)
            .await
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSONEachRow line"))
            .collect()
    }

    /// Rows in `table`.
    pub async fn count(&self, table: &str) -> u64 {
        let sql = format!("SELECT count() FROM {}.{table}", self.database);
        clickhouse(&sql).await.trim().parse().expect("a count")
    }

    /// Shuts the engine down gracefully (flushing what it buffered) and drops its database.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
        clickhouse(&format!("DROP DATABASE IF EXISTS {}", self.database)).await;
    }
}
