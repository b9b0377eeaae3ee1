//! `vigil-ingest` as a separate process, for tests that kill it (`kill -9`) and restart it.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::{PROJECT, TOKEN, free_port, required_env};

/// A running `vigil-ingest` binary.
pub struct EngineProcess {
    /// OTLP/HTTP base URL.
    pub http: String,
    child: Child,
}

impl EngineProcess {
    /// Starts the binary built by the test command (`VIGIL_TEST_INGEST_BIN`) with the given
    /// ClickHouse, database and WAL, plus `env` overrides, and waits for `/readyz`.
    pub async fn start(
        clickhouse_url: &str,
        database: &str,
        wal_dir: &Path,
        env: &[(&str, &str)],
    ) -> Self {
        let bin = required_env("VIGIL_TEST_INGEST_BIN");
        let (grpc, http) = (free_port(), free_port());
        let mut cmd = Command::new(&bin);
        cmd.env("VIGIL_OTLP_GRPC_ADDR", format!("127.0.0.1:{grpc}"))
            .env("VIGIL_OTLP_HTTP_ADDR", format!("127.0.0.1:{http}"))
            .env("VIGIL_INGEST_TOKENS", format!("{TOKEN}={PROJECT}"))
            .env("VIGIL_CLICKHOUSE_URL", clickhouse_url)
            .env("VIGIL_CLICKHOUSE_DATABASE", database)
            .env("VIGIL_WAL_DIR", wal_dir)
            .env("VIGIL_LOG", "warn")
            // Static tokens: the test stack's PostgreSQL holds no control-plane tables.
            .env_remove("VIGIL_DATABASE_URL")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let engine = Self {
            http: format!("http://127.0.0.1:{http}"),
            child,
        };
        // Ready once its schema is made: on the test cluster that is DDL `ON CLUSTER`, which
        // every node runs in turn through ZooKeeper — seconds, but over 30 s seen once on a
        // busy 2-core machine.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/readyz", engine.http)).await
                && r.status().is_success()
            {
                return engine;
            }
            assert!(Instant::now() < deadline, "vigil-ingest not ready in 120 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process's resident memory, bytes (`VmRSS`).
    pub fn resident_bytes(&self) -> u64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        kib * 1024
    }

    /// `kill -9`: no flush, no goodbye.
    pub async fn kill_9(mut self) {
        self.child.kill().await.expect("SIGKILL vigil-ingest");
    }

    /// SIGTERM and wait for a graceful exit; panics if it does not exit successfully.
    pub async fn terminate(mut self) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("vigil-ingest exits within 60 s of SIGTERM")
            .expect("exit status");
        assert!(exit.success(), "vigil-ingest exited with {exit}");
    }

    /// The engine's `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.http))
            .await
            .expect("metrics reachable")
            .text()
            .await
            .expect("metrics body")
    }
}
