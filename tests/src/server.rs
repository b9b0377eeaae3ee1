//! A private ClickHouse server for tests that stop and restart it (outages), on its own ports
//! and data folder, so the shared test server is never disturbed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, test_dir, unique_name};

/// A `clickhouse-server` process owned by one test; killed when dropped.
pub struct PrivateClickHouse {
    dir: PathBuf,
    http_port: u16,
    tcp_port: u16,
    inter_port: u16,
    child: Option<Child>,
}

impl PrivateClickHouse {
    /// Starts a new server and waits until it answers.
    pub async fn start() -> Self {
        let dir = test_dir(&unique_name("ch"));
        let mut server = Self {
            dir,
            http_port: free_port(),
            tcp_port: free_port(),
            inter_port: free_port(),
            child: None,
        };
        server.resume().await;
        server
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Starts the stopped server again on the same ports and data, and waits until it answers.
    pub async fn resume(&mut self) {
        assert!(self.child.is_none(), "clickhouse already running");
        let d = &self.dir;
        for sub in ["data", "tmp", "user_files", "format_schemas"] {
            std::fs::create_dir_all(d.join(sub)).expect("clickhouse dirs");
        }
        let log = std::fs::File::create(d.join("stdout")).expect("clickhouse stdout");
        let child = Command::new("/usr/sbin/clickhouse-server")
            .arg("--config-file=/etc/clickhouse-server/config.xml")
            .arg("--")
            .arg(format!("--path={}/data/", d.display()))
            .arg(format!("--tmp_path={}/tmp/", d.display()))
            .arg(format!("--user_files_path={}/user_files/", d.display()))
            .arg(format!(
                "--format_schema_path={}/format_schemas/",
                d.display()
            ))
            .arg("--listen_host=127.0.0.1")
            .arg(format!("--http_port={}", self.http_port))
            .arg(format!("--tcp_port={}", self.tcp_port))
            .arg(format!("--interserver_http_port={}", self.inter_port))
            .arg(format!("--logger.log={}/log", d.display()))
            .arg(format!("--logger.errorlog={}/err", d.display()))
            .stdout(Stdio::from(log.try_clone().expect("clone log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start /usr/sbin/clickhouse-server (deploy/local/stack.sh install)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        let ping = format!("{}/ping", self.url());
        loop {
            if let Ok(r) = reqwest::get(&ping).await
                && r.status().is_success()
            {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("clickhouse exited with {status}; see {}/err", d.display());
            }
            assert!(
                Instant::now() < deadline,
                "private clickhouse did not start in 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server (SIGTERM) and waits until it has exited.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            let _ignored = Command::new("kill").args(["-TERM", &pid]).status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ignored = child.kill();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Runs `sql` and returns its text output.
    pub async fn query(&self, sql: &str) -> String {
        let r = reqwest::Client::new()
            .post(self.url())
            .body(sql.to_owned())
            .send()
            .await
            .expect("private clickhouse reachable");
        let ok = r.status().is_success();
        let text = r.text().await.expect("clickhouse answers");
        assert!(ok, "clickhouse refused `{sql}`: {text}");
        text
    }
}

impl Drop for PrivateClickHouse {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ignored = child.kill();
            let _ignored = child.wait();
        }
        let _ignored = std::fs::remove_dir_all(&self.dir);
    }
}
