//! Local receivers of notifications: an HTTP server recording every request (webhooks, Slack
//! incoming webhooks), answering 500 to the first `fail_first` requests of each path, and an
//! SMTP server (Python's aiosmtpd) recording every mail.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// One request an [`HttpReceiver`] answered with success.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Default)]
struct Log {
    ok: Vec<Received>,
    seen: HashMap<String, usize>,
}

/// An HTTP server on 127.0.0.1 recording requests.
pub struct HttpReceiver {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    log: Arc<Mutex<Log>>,
}

impl HttpReceiver {
    /// Starts a receiver; the first `fail_first` requests of each path get a 500.
    pub async fn start(fail_first: usize) -> Self {
        let log = Arc::new(Mutex::new(Log::default()));
        let state = (log.clone(), fail_first);
        let app = axum::Router::new()
            .fallback(
                |State((log, fail_first)): State<(Arc<Mutex<Log>>, usize)>,
                 uri: Uri,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let mut log = log.lock().unwrap();
                    let seen = log.seen.entry(uri.path().to_owned()).or_default();
                    *seen += 1;
                    if *seen <= fail_first {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    log.ok.push(Received {
                        path: uri.path().to_owned(),
                        headers,
                        body,
                    });
                    StatusCode::OK
                },
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, log }
    }

    /// Requests to `path` answered with success so far.
    pub fn received(&self, path: &str) -> Vec<Received> {
        let log = self.log.lock().unwrap();
        log.ok.iter().filter(|r| r.path == path).cloned().collect()
    }

    /// Every request to `path`, failed or not.
    pub fn attempts(&self, path: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .seen
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// The JSON bodies received at `path` once there are `n` (waits up to `timeout`).
    pub async fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Received> {
        crate::wait_until(timeout, &format!("{n} requests at {path}"), || async {
            let got = self.received(path);
            (got.len() >= n).then_some(got)
        })
        .await
    }
}

/// The JSON body of a received request.
pub fn json(r: &Received) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

/// An aiosmtpd server on 127.0.0.1 recording mails.
pub struct SmtpReceiver {
    pub port: u16,
    mails: Arc<Mutex<Vec<Value>>>,
    _child: tokio::process::Child,
}

impl SmtpReceiver {
    pub async fn start() -> Self {
        let port = crate::free_port();
        let script = crate::repo_root().join("tests/python/smtp_sink.py");
        let mut child = tokio::process::Command::new(crate::python())
            .arg(script)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python with aiosmtpd runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("aiosmtpd starts")
            .unwrap()
            .expect("aiosmtpd says it is ready");
        assert!(first.contains("ready"), "{first}");
        let mails = Arc::new(Mutex::new(Vec::new()));
        let sink = mails.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mail) = serde_json::from_str(&line) {
                    sink.lock().unwrap().push(mail);
                }
            }
        });
        Self {
            port,
            mails,
            _child: child,
        }
    }

    /// The mails received so far.
    pub fn mails(&self) -> Vec<Value> {
        self.mails.lock().unwrap().clone()
    }

    /// The mails received once there are `n` (waits up to `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Value> {
        crate::wait_until(timeout, &format!("{n} mails"), || async {
            let got = self.mails.lock().unwrap().clone();
            (got.len() >= n).then_some(got)
        })
        .await
    }
}
