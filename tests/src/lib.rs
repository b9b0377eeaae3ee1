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

pub mod browser;
pub mod control;
pub mod edge;
pub mod explorer;
pub mod load;
pub mod monitoring;
pub mod process;
pub mod receiver;
pub mod server;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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

/// The server-agent key every test engine knows, for monitor [`AGENT_MONITOR`] of [`PROJECT`].
pub const AGENT_KEY: &str = "agent-secret-1";
/// The monitor of [`AGENT_KEY`].
pub const AGENT_MONITOR: &str = "server-monitor-1";
/// The heartbeat key every test engine knows, for monitor [`HEARTBEAT_MONITOR`] of
/// [`PROJECT_2`].
pub const HEARTBEAT_KEY: &str = "beat-secret-1";
/// The monitor of [`HEARTBEAT_KEY`].
pub const HEARTBEAT_MONITOR: &str = "heartbeat-monitor-1";

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

/// The Redis URL of the test server.
pub fn redis_url() -> String {
    required_env("VIGIL_TEST_REDIS_URL")
}

/// Every entry of the Redis stream `key` (`XRANGE key - +`), as field → value maps.
pub async fn redis_stream(url: &str, key: &str) -> Vec<std::collections::HashMap<String, String>> {
    let client = redis::Client::open(url).expect("valid redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("redis at {url} is reachable: {e}"));
    let reply: redis::Value = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .expect("XRANGE");
    let text = |v: &redis::Value| match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("unexpected redis value {other:?}"),
    };
    let redis::Value::Array(entries) = reply else {
        panic!("XRANGE answered {reply:?}");
    };
    entries
        .iter()
        .map(|entry| {
            let redis::Value::Array(parts) = entry else {
                panic!("stream entry {entry:?}");
            };
            let redis::Value::Array(fields) = &parts[1] else {
                panic!("stream fields {parts:?}");
            };
            fields
                .chunks(2)
                .map(|kv| (text(&kv[0]), text(&kv[1])))
                .collect()
        })
        .collect()
}

/// The Python interpreter that has the real clients installed.
pub fn python() -> String {
    required_env("VIGIL_TEST_PYTHON")
}

/// `node` with the test clients' modules (`@fluent-org/logger`) on its path.
pub fn node() -> tokio::process::Command {
    let mut node = tokio::process::Command::new("node");
    node.env("NODE_PATH", required_env("VIGIL_TEST_NODE_PATH"));
    node
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

/// Whether every migration is applied to `database` — the moment a test may write to its
/// tables. A table exists before the migrations that make the rest are done; a test's INSERT
/// racing the schema's creation is the likeliest cause of the one segfault ClickHouse 18.16
/// showed in the tests (`BackgroundProcessingPoolTaskInfo::wake` on a NULL task: a MergeTree
/// written to before it was started).
pub async fn schema_ready(database: &str) -> bool {
    schema_ready_at(&clickhouse_url(), database).await
}

/// [`schema_ready`] on the ClickHouse at `url` (a node of the test cluster).
pub async fn schema_ready_at(url: &str, database: &str) -> bool {
    let sql = format!("SELECT max(version) FROM {database}.schema_migrations");
    answer_at(url, &sql).await.as_deref() == Some(&storage::schema::SCHEMA_VERSION.to_string())
}

/// Whether `database.table` exists (false while ClickHouse cannot tell). `EXISTS TABLE`
/// rather than `system.tables`, whose listing fails on ClickHouse 18.16 when another client
/// drops a table of that database mid-read (the schema lock's table, for one).
pub async fn table_exists(database: &str, table: &str) -> bool {
    let sql = format!("EXISTS TABLE {database}.{table}");
    answer_at(&clickhouse_url(), &sql).await.as_deref() == Some("1")
}

/// The trimmed answer to `sql` from the ClickHouse at `url`; `None` while it cannot answer
/// (unreachable, or an error such as a database not made yet).
async fn answer_at(url: &str, sql: &str) -> Option<String> {
    let response = reqwest::Client::new()
        .post(url)
        .body(sql.to_owned())
        .send()
        .await
        .ok()
        .filter(|r| r.status().is_success())?;
    response.text().await.ok().map(|t| t.trim().to_owned())
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
    /// Fluent Forward address (TCP and UDP), when the test configured the listener.
    pub forward: Option<SocketAddr>,
    /// The ClickHouse database of this engine.
    pub database: String,
    /// The engine's write-ahead log directory.
    pub wal_dir: PathBuf,
    /// Prefix of this engine's Redis streams (unique per test).
    pub stream_prefix: String,
    running: Option<RunningEngine>,
}

/// A fresh, empty directory for one test's files (WAL, dead letters).
pub fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("vigil-tests").join(name);
    let _ignored = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

impl TestEngine {
    /// Starts an engine with the test defaults.
    pub async fn start(label: &str) -> Self {
        Self::start_with(label, |_| {}).await
    }

    /// Starts an engine after `tweak` adjusted the test defaults.
    pub async fn start_with(label: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        let database = unique_name(label);
        let wal_dir = test_dir(&database);
        let engine = Self::launch(&database, &wal_dir, tweak).await;
        // Ready at once with static keys; with the database's, after their first load; on the
        // test cluster after its `ON CLUSTER` schema, which can take tens of seconds when busy.
        wait_until(
            Duration::from_secs(90),
            &format!("engine ready (is ClickHouse at {} up?)", clickhouse_url()),
            || async { engine.is_ready().then_some(()) },
        )
        .await;
        engine
    }

    /// Starts an engine on a given database and WAL directory (to restart on the same WAL).
    pub async fn launch(database: &str, wal_dir: &Path, tweak: impl FnOnce(&mut Config)) -> Self {
        let database = database.to_owned();
        let mut config = Config::default();
        config.ingest_tokens = Secret(format!("{TOKEN}={PROJECT},{TOKEN_2}={PROJECT_2}"));
        config.clickhouse.url = clickhouse_url();
        config.clickhouse.database = database.clone();
        config.batch.max_age_ms = 50;
        config.otlp_grpc_addr = "127.0.0.1:0".parse().expect("valid address");
        config.otlp_http_addr = "127.0.0.1:0".parse().expect("valid address");
        config.wal.dir = wal_dir.to_owned();
        config.forward.addr = "127.0.0.1:0".parse().expect("valid address");
        config.monitors.agent_keys = Secret(format!("{AGENT_KEY}={PROJECT}/{AGENT_MONITOR}"));
        config.monitors.heartbeat_keys =
            Secret(format!("{HEARTBEAT_KEY}={PROJECT_2}/{HEARTBEAT_MONITOR}"));
        config.redis.url = redis_url();
        config.redis.stream_prefix = format!("{database}:");
        tweak(&mut config);
        let stream_prefix = config.redis.stream_prefix.clone();
        let listeners = Listeners::bind(&config).await.expect("bind test listeners");
        let (grpc, http) = listeners.addrs().expect("bound addresses");
        let forward = listeners.forward_addr();
        let running = ingest_engine::start(config, listeners)
            .await
            .expect("engine starts");
        Self {
            grpc,
            http,
            forward,
            database,
            wal_dir: wal_dir.to_owned(),
            stream_prefix,
            running: Some(running),
        }
    }

    /// Whether `/readyz` would answer 200.
    pub fn is_ready(&self) -> bool {
        self.running.as_ref().is_some_and(RunningEngine::is_ready)
    }

    /// The engine's `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(self.http_url("/metrics"))
            .await
            .expect("metrics reachable")
            .text()
            .await
            .expect("metrics body")
    }

    /// Stops the engine gracefully and keeps its database and WAL (for a restart).
    pub async fn shutdown(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }

    /// `http://<otlp http addr><path>`.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Waits until ClickHouse holds every row the engine acknowledged (an acknowledgement
    /// means "in the WAL"; rows become visible one batch age later).
    pub async fn settle(&self) {
        wait_until(
            Duration::from_secs(30),
            "acknowledged rows flushed",
            || async {
                let m = self.metrics().await;
                let settled = [
                    ("logs", "logs"),
                    ("traces", "spans"),
                    ("metrics", "metrics"),
                    ("server_metrics", "server_metrics"),
                    ("incoming_requests", "incoming_requests"),
                ]
                .iter()
                .all(|(signal, table)| {
                    let accepted = metric(
                        &m,
                        &format!("vigil_ingest_records_accepted_total{{signal=\"{signal}\"}}"),
                    );
                    let stored = metric(
                        &m,
                        &format!("vigil_ingest_rows_flushed_total{{table=\"{table}\"}}"),
                    ) + metric(
                        &m,
                        &format!("vigil_ingest_rows_dead_lettered_total{{table=\"{table}\"}}"),
                    );
                    accepted <= stored
                });
                settled.then_some(())
            },
        )
        .await;
    }

    /// Rows of `SELECT <columns> FROM <db>.<table> <rest>` as JSON objects, once every
    /// acknowledged row is stored.
    pub async fn rows(&self, table: &str, columns: &str, rest: &str) -> Vec<Value> {
        self.settle().await;
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

    /// The entries of this engine's Redis stream `stream` (`server_report`,
    /// `incoming_request`) once there are at least `n` of them (waits up to 30 s).
    pub async fn events(
        &self,
        stream: &str,
        n: usize,
    ) -> Vec<std::collections::HashMap<String, String>> {
        let key = format!("{}{stream}", self.stream_prefix);
        let url = redis_url();
        wait_until(
            Duration::from_secs(30),
            &format!("{n} events in {key}"),
            || async {
                let entries = redis_stream(&url, &key).await;
                (entries.len() >= n).then_some(entries)
            },
        )
        .await
    }

    /// Rows in `table`, once every acknowledged row is stored.
    pub async fn count(&self, table: &str) -> u64 {
        self.settle().await;
        let sql = format!("SELECT count() FROM {}.{table}", self.database);
        clickhouse(&sql).await.trim().parse().expect("a count")
    }

    /// Shuts the engine down gracefully (flushing what it buffered), drops its database and
    /// removes its WAL.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
        clickhouse(&format!("DROP DATABASE IF EXISTS {}", self.database)).await;
        let _ignored = std::fs::remove_dir_all(&self.wal_dir);
    }
}

/// The value of a Prometheus sample `name{labels}` in `metrics` (0 when absent).
pub fn metric(metrics: &str, sample: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(sample)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

/// Sends `method url` with `headers` and `body`; returns the status and the answer as JSON
/// (a JSON string holding the text when the answer is not JSON).
pub async fn request(
    method: reqwest::Method,
    url: String,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.body(body).send().await.expect("engine reachable");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The test ClickHouse cluster (`stack.sh cluster-start`): its name and its four nodes' HTTP
/// URLs, shard 1's two replicas, then shard 2's.
pub fn cluster() -> (String, Vec<String>) {
    let urls: Vec<String> = required_env("VIGIL_TEST_CLUSTER_URLS")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(urls.len(), 4, "four ClickHouse nodes");
    (required_env("VIGIL_TEST_CLUSTER_NAME"), urls)
}

/// Who uses the test cluster: tests that stop a node hold it alone ([`cluster_alone`]), the
/// others share it ([`cluster_shared`]), so that none sees a node another one stopped.
static CLUSTER_USE: std::sync::LazyLock<tokio::sync::RwLock<()>> =
    std::sync::LazyLock::new(|| tokio::sync::RwLock::new(()));

/// Holds the test cluster with the other tests that leave its nodes running.
pub async fn cluster_shared() -> tokio::sync::RwLockReadGuard<'static, ()> {
    CLUSTER_USE.read().await
}

/// Holds the test cluster alone (for stopping and starting its nodes).
pub async fn cluster_alone() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    CLUSTER_USE.write().await
}

/// Runs `sql` on the ClickHouse at `url`; its trimmed text answer.
pub async fn clickhouse_at(url: &str, sql: &str) -> String {
    reqwest::Client::new()
        .post(url)
        .body(sql.to_owned())
        .send()
        .await
        .expect("clickhouse reachable")
        .text()
        .await
        .expect("an answer")
        .trim()
        .to_owned()
}

/// A free 127.0.0.1 port (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// An OTLP/JSON logs request with one log record per body.
pub fn logs_json(service: &str, bodies: &[String]) -> String {
    let records: Vec<Value> = bodies
        .iter()
        .map(|b| {
            serde_json::json!({
                "timeUnixNano": "1700000000000000000",
                "severityNumber": 9,
                "body": {"stringValue": b},
            })
        })
        .collect();
    serde_json::json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeLogs": [{"scope": {"name": "vigil-tests"}, "logRecords": records}],
    }]})
    .to_string()
}
