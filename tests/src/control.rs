//! The control plane in a test: `vigil serve` in-process on a fresh PostgreSQL database, and
//! an API client with session or API-key credentials.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{required_env, unique_name};

/// A control plane serving a fresh database of its own, in this process.
pub struct ControlPlane {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The control plane's database (for the ingest engine and the worker).
    pub database_url: String,
    http: reqwest::Client,
    config: control_plane::config::Config,
    server: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ControlPlane {
    pub async fn start(tweak: impl FnOnce(&mut control_plane::config::Config)) -> Self {
        let admin_url = required_env("VIGIL_TEST_DATABASE_URL");
        let database = unique_name("cp");
        let admin = sqlx::PgPool::connect(&admin_url)
            .await
            .expect("the test PostgreSQL answers");
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&admin)
            .await
            .unwrap();
        let (server, _) = admin_url.rsplit_once('/').unwrap();
        let mut config = control_plane::config::Config {
            database_url: format!("{server}/{database}"),
            ..Default::default()
        };
        // The tests' notification receivers listen on loopback.
        config.worker.notify_allow_private_networks = true;
        // The UI reads monitor results here (a database no worker writes unless a test says).
        config.worker.clickhouse_url = crate::clickhouse_url();
        config.worker.clickhouse_database = database.clone();
        tweak(&mut config);
        let database_url = config.database_url.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = serve(config.clone(), listener);
        let cp = Self {
            base,
            database_url,
            http: reqwest::Client::new(),
            config,
            server: std::sync::Mutex::new(Some(server)),
        };
        cp.wait_ready().await;
        cp
    }

    /// Another `vigil serve` on the same database and settings (as several behind a load
    /// balancer are).
    pub async fn another(&self) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = serve(self.config.clone(), listener);
        let cp = Self {
            base,
            database_url: self.database_url.clone(),
            http: reqwest::Client::new(),
            config: self.config.clone(),
            server: std::sync::Mutex::new(Some(server)),
        };
        cp.wait_ready().await;
        cp
    }

    /// The ClickHouse database the UI reads monitor results from (a worker writing there
    /// makes them visible).
    pub fn results_database(&self) -> &str {
        &self.config.worker.clickhouse_database
    }

    /// Stops the API abruptly (as a crash would) and serves it again on the same address.
    pub async fn restart(&self) {
        let old = self.server.lock().unwrap().take();
        if let Some(old) = old {
            old.abort();
            let _aborted = old.await;
        }
        let addr = self.base.trim_start_matches("http://").to_owned();
        let listener = crate::wait_until(
            std::time::Duration::from_secs(10),
            "the API's port is free again",
            || {
                let addr = addr.clone();
                async move { tokio::net::TcpListener::bind(addr).await.ok() }
            },
        )
        .await;
        *self.server.lock().unwrap() = Some(serve(self.config.clone(), listener));
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        let (http, base) = (&self.http, &self.base);
        crate::wait_until(
            std::time::Duration::from_secs(20),
            "the API answers",
            || {
                let request = http.get(format!("{base}/api/v1/openapi.json"));
                async move {
                    request
                        .send()
                        .await
                        .ok()
                        .filter(|r| r.status().is_success())
                }
            },
        )
        .await;
    }

    /// One request with optional session or bearer credentials; the status and the JSON body
    /// (`null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        match auth {
            Auth::None => {}
            Auth::Session { cookie, csrf } => {
                request = request.header("cookie", cookie.as_str());
                if let Some(csrf) = csrf {
                    request = request.header("x-csrf-token", csrf.as_str());
                }
            }
            Auth::Bearer(key) => request = request.bearer_auth(key),
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (status, json, headers)
    }

    pub async fn login(&self, email: &str, password: &str) -> Auth {
        let (status, body, headers) = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                &Auth::None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let cookies: Vec<&str> = headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        let session = cookies
            .iter()
            .find(|c| c.starts_with("vigil_session="))
            .expect("a session cookie");
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
        let cookie = session.split(';').next().unwrap().to_owned();
        Auth::Session {
            cookie,
            csrf: Some(body["csrf_token"].as_str().unwrap().to_owned()),
        }
    }

    /// Makes the account `email` (password [`PASSWORD`]) a member of `project` the way a
    /// person does: `by` invites the address, its holder signs in and accepts. The member's
    /// session and the accepted project.
    pub async fn join(&self, project: &str, by: &Auth, email: &str, role: &str) -> (Auth, Value) {
        let invitation = self
            .ok(
                Method::POST,
                &format!("/api/v1/projects/{project}/invitations"),
                by,
                Some(json!({"email": email, "role": role})),
            )
            .await;
        let member = self.login(email, PASSWORD).await;
        let accepted = self
            .ok(
                Method::POST,
                &format!(
                    "/api/v1/me/invitations/{}/accept",
                    invitation["id"].as_str().unwrap()
                ),
                &member,
                None,
            )
            .await;
        (member, accepted)
    }

    /// A request that must be answered `want`; its JSON body.
    pub async fn answer(
        &self,
        want: StatusCode,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> Value {
        let (status, body, _) = self.call(method, path, auth, body).await;
        assert_eq!(status, want, "{path}: {body}");
        body
    }

    pub async fn ok(&self, method: Method, path: &str, auth: &Auth, body: Option<Value>) -> Value {
        let (status, body, _) = self.call(method, path, auth, body).await;
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

fn serve(
    config: control_plane::config::Config,
    listener: tokio::net::TcpListener,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        control_plane::serve(config, listener, std::future::pending())
            .await
            .expect("the control plane serves");
    })
}

/// How a request authenticates.
pub enum Auth {
    None,
    Session {
        cookie: String,
        csrf: Option<String>,
    },
    Bearer(String),
}

pub const PASSWORD: &str = "correct horse battery";

/// Signs up the instance admin and makes `others` accounts; returns the admin's session.
pub async fn accounts(cp: &ControlPlane, others: &[&str]) -> Auth {
    cp.ok(
        Method::POST,
        "/api/v1/auth/signup",
        &Auth::None,
        Some(json!({"email": "admin@vigil.test", "name": "Admin", "password": PASSWORD})),
    )
    .await;
    let admin = cp.login("admin@vigil.test", PASSWORD).await;
    for name in others {
        cp.ok(
            Method::POST,
            "/api/v1/users",
            &admin,
            Some(
                json!({"email": format!("{name}@vigil.test"), "name": name, "password": PASSWORD}),
            ),
        )
        .await;
    }
    admin
}

/// A `vigil worker` running in this process.
pub struct TestWorker {
    /// The Redis stream prefix it reads (unique per test).
    pub stream_prefix: String,
    /// Its ClickHouse database.
    pub clickhouse_database: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl TestWorker {
    /// Starts a worker on the control plane's database with its own stream prefix and
    /// ClickHouse database, after `tweak`.
    pub async fn start(
        cp: &ControlPlane,
        label: &str,
        tweak: impl FnOnce(&mut control_plane::config::WorkerConfig),
    ) -> Self {
        let name = unique_name(label);
        let mut config = control_plane::config::Config {
            database_url: cp.database_url.clone(),
            ..Default::default()
        };
        let w = &mut config.worker;
        w.redis_url = crate::redis_url();
        w.stream_prefix = format!("{name}:");
        w.clickhouse_url = crate::clickhouse_url();
        w.clickhouse_database = name.clone();
        w.consumer = format!("{name}-worker");
        w.block_ms = 200;
        w.jobs_interval_secs = 1;
        w.notify_timeout_ms = 5_000;
        // The tests' notification receivers listen on loopback.
        w.notify_allow_private_networks = true;
        tweak(w);
        let (stream_prefix, clickhouse_database) =
            (w.stream_prefix.clone(), w.clickhouse_database.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            control_plane::worker::run(config, async move {
                let _ignored = stopped.await;
            })
            .await
            .expect("the worker runs");
        });
        Self {
            stream_prefix,
            clickhouse_database,
            stop: Some(stop),
            done: Some(done),
        }
    }

    /// Stops the worker and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ignored = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let _ignored = done.await;
        }
    }
}
