//! The control plane's configuration: a TOML file (`--config`) with `VIGIL_*` environment
//! overrides; every limit has a default.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("parsing {path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid settings:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
}

/// What `vigil serve`, `vigil worker` and `vigil migrate` need.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the API listens (`VIGIL_CONTROL_ADDR`).
    pub addr: SocketAddr,
    /// PostgreSQL (`VIGIL_DATABASE_URL`).
    pub database_url: String,
    /// Connections in the pool (`VIGIL_DATABASE_MAX_CONNECTIONS`).
    pub database_max_connections: u32,
    /// How long a query may wait for a connection, ms.
    pub database_acquire_timeout_ms: u64,
    /// How long a session lasts without being renewed, hours (`VIGIL_SESSION_TTL_HOURS`).
    pub session_ttl_hours: u64,
    /// Marks session cookies `Secure` (`VIGIL_SECURE_COOKIES`): on whenever the API is served
    /// over TLS, directly or behind a proxy.
    pub secure_cookies: bool,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Login attempts allowed per client address and account in a window, counting each
    /// attempt until it succeeds (`VIGIL_LOGIN_MAX_FAILURES`); an address alone gets ten
    /// times as many.
    pub login_max_failures: u32,
    /// That window, seconds.
    pub login_window_secs: u64,
    /// How long a request may take before it is answered 503, ms.
    pub request_timeout_ms: u64,
    /// Where clients reach the ingest engine's OTLP/gRPC (and probe) listener, as the UI's
    /// snippets show it (`VIGIL_PUBLIC_INGEST_GRPC_URL`).
    pub public_ingest_grpc_url: String,
    /// Where clients reach the ingest engine's HTTP listener (OTLP/HTTP, heartbeats, agent
    /// reports), as the UI's snippets show it (`VIGIL_PUBLIC_INGEST_HTTP_URL`).
    pub public_ingest_http_url: String,
    /// Where Fluent Bit and Fluentd reach the ingest engine's Forward listener, `host:port`
    /// (`VIGIL_PUBLIC_INGEST_FORWARD_ADDR`).
    pub public_ingest_forward_addr: String,
    /// Pages kept open for live updates (Server-Sent Events) at once per process
    /// (`VIGIL_MAX_LIVE_PAGES`); one more is answered 503 with `Retry-After`.
    pub max_live_pages: usize,
    /// Requests to status pages each client address may make per minute (0: no bound).
    pub status_rate_per_minute: u32,
    /// Explorer queries are logged in ClickHouse's `system.query_log`
    /// (`VIGIL_EXPLORER_LOG_QUERIES`; the benchmark reads them there).
    pub explorer_log_queries: bool,
    /// Proxies in front (nginx, a load balancer) whose `X-Forwarded-For` names the client:
    /// addresses and networks, comma-separated (`VIGIL_TRUSTED_PROXIES`; none by default).
    /// Login and status page limits then count the real client, not the proxy.
    pub trusted_proxies: String,
    /// Where people reach this Vigil (`VIGIL_PUBLIC_URL`), for the links in status page
    /// subscribers' messages; a page with a custom domain links to that domain instead.
    pub public_url: String,
    /// A status page's snapshot is rebuilt at least this often, changes or not (uptime moves
    /// with time) (`VIGIL_STATUS_SNAPSHOT_MAX_AGE_SECS`).
    pub status_snapshot_max_age_secs: u64,
    /// `vigil worker`'s settings (the `[worker]` table).
    pub worker: WorkerConfig,
}

/// The worker: where events come from (Redis Streams), where results go (ClickHouse), and the
/// bounds of its loops.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// `VIGIL_REDIS_URL`.
    pub redis_url: String,
    /// Prefix of the stream names, as the ingest engine's (`VIGIL_REDIS_STREAM_PREFIX`).
    pub stream_prefix: String,
    /// The consumer group every worker joins.
    pub group: String,
    /// This worker's name in the group (`VIGIL_WORKER_NAME`; default host name and process id).
    pub consumer: String,
    /// Entries read per batch.
    pub batch_size: usize,
    /// How long a read waits for entries, ms.
    pub block_ms: u64,
    /// An entry another worker took this long ago without acknowledging it is taken over, ms
    /// (`VIGIL_WORKER_RECLAIM_IDLE_MS`).
    pub reclaim_idle_ms: u64,
    /// An entry delivered this many times without success goes to the dead-letter stream.
    pub max_deliveries: usize,
    /// Timeout of each Redis call besides the blocking read, ms.
    pub redis_timeout_ms: u64,
    /// ClickHouse, for `monitor_results` and retention (`VIGIL_CLICKHOUSE_URL`, `…_DATABASE`,
    /// `…_USER`, `…_PASSWORD`).
    pub clickhouse_url: String,
    pub clickhouse_database: String,
    pub clickhouse_user: String,
    pub clickhouse_password: String,
    pub clickhouse_timeout_ms: u64,
    /// The ClickHouse cluster the tables are spread over (`VIGIL_CLICKHOUSE_CLUSTER`; empty: one
    /// server), as the engine's `clickhouse.cluster`.
    pub clickhouse_cluster: String,
    /// Days of telemetry kept; older daily partitions are dropped. 0 keeps everything
    /// (`VIGIL_RETENTION_DAYS`).
    pub retention_days: u32,
    /// Seconds between runs of the periodic jobs (missing pushes, offline probes, retention).
    pub jobs_interval_secs: u64,
    /// A probe not heard from for this long is offline, seconds.
    pub probe_offline_secs: u64,
    /// Attempts of a notification before it is marked failed.
    pub notify_max_attempts: i32,
    /// Timeout of one notification delivery (HTTP or SMTP), ms.
    pub notify_timeout_ms: u64,
    /// Notifications sent at once.
    pub notify_batch: i64,
    /// Lets notification channels reach loopback, private and link-local addresses
    /// (`VIGIL_NOTIFY_ALLOW_PRIVATE_NETWORKS`). Off: a webhook or mail server inside Vigil's
    /// network is refused when the channel is saved and when it is sent to.
    pub notify_allow_private_networks: bool,
}

impl WorkerConfig {
    /// The ClickHouse client of these settings (no request is made yet): the worker writes
    /// monitor results through it, `vigil serve` reads them.
    pub(crate) fn clickhouse(
        &self,
    ) -> Result<storage::client::ClickHouse, storage::client::ClickHouseError> {
        storage::client::ClickHouse::new(&storage::ClickHouseConfig {
            url: self.clickhouse_url.clone(),
            database: self.clickhouse_database.clone(),
            user: self.clickhouse_user.clone(),
            password: storage::Secret(self.clickhouse_password.clone()),
            timeout_ms: self.clickhouse_timeout_ms,
            cluster: self.clickhouse_cluster.clone(),
            ..storage::ClickHouseConfig::default()
        })
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            redis_url: "redis://127.0.0.1:6379".into(),
            stream_prefix: proto::events::DEFAULT_STREAM_PREFIX.into(),
            group: "vigil-worker".into(),
            consumer: String::new(),
            batch_size: 1_000,
            block_ms: 1_000,
            reclaim_idle_ms: 30_000,
            max_deliveries: 5,
            redis_timeout_ms: 5_000,
            clickhouse_url: "http://127.0.0.1:8123".into(),
            clickhouse_database: "vigil".into(),
            clickhouse_user: "default".into(),
            clickhouse_password: String::new(),
            clickhouse_timeout_ms: 30_000,
            clickhouse_cluster: String::new(),
            retention_days: 0,
            jobs_interval_secs: 10,
            probe_offline_secs: 180,
            notify_max_attempts: 8,
            notify_timeout_ms: 10_000,
            notify_batch: 20,
            notify_allow_private_networks: false,
        }
    }
}

impl std::fmt::Debug for WorkerConfig {
    // URLs and the ClickHouse password may carry secrets: never logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("stream_prefix", &self.stream_prefix)
            .field("group", &self.group)
            .field("consumer", &self.consumer)
            .field("batch_size", &self.batch_size)
            .field("reclaim_idle_ms", &self.reclaim_idle_ms)
            .field("max_deliveries", &self.max_deliveries)
            .field("clickhouse_database", &self.clickhouse_database)
            .field("clickhouse_cluster", &self.clickhouse_cluster)
            .field("retention_days", &self.retention_days)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "postgres://postgres@127.0.0.1:5432/vigil".into(),
            database_max_connections: 16,
            database_acquire_timeout_ms: 5_000,
            session_ttl_hours: 24 * 7,
            secure_cookies: false,
            max_body_bytes: 1 << 20,
            login_max_failures: 10,
            login_window_secs: 15 * 60,
            request_timeout_ms: 30_000,
            max_live_pages: 1_000,
            status_rate_per_minute: 1_200,
            explorer_log_queries: false,
            trusted_proxies: String::new(),
            public_url: "http://127.0.0.1:8080".into(),
            status_snapshot_max_age_secs: 60,
            public_ingest_grpc_url: "http://127.0.0.1:4317".into(),
            public_ingest_http_url: "http://127.0.0.1:4318".into(),
            public_ingest_forward_addr: "127.0.0.1:24224".into(),
            worker: WorkerConfig::default(),
        }
    }
}

impl std::fmt::Debug for Config {
    // The database URL may carry a password: it is never logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("database_max_connections", &self.database_max_connections)
            .field("session_ttl_hours", &self.session_ttl_hours)
            .field("secure_cookies", &self.secure_cookies)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("login_max_failures", &self.login_max_failures)
            .field("max_live_pages", &self.max_live_pages)
            .field("status_rate_per_minute", &self.status_rate_per_minute)
            .field("explorer_log_queries", &self.explorer_log_queries)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("public_url", &self.public_url)
            .field(
                "status_snapshot_max_age_secs",
                &self.status_snapshot_max_age_secs,
            )
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The file's settings (if any) with the environment's on top.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with(file, settings::Env::process())
    }

    /// As [`Config::load`], with the environment `env` (for tests).
    pub fn load_with(file: Option<&Path>, mut env: settings::Env<'_>) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        env.set("VIGIL_CONTROL_ADDR", &mut config.addr);
        env.set("VIGIL_DATABASE_URL", &mut config.database_url);
        env.set(
            "VIGIL_DATABASE_MAX_CONNECTIONS",
            &mut config.database_max_connections,
        );
        env.set("VIGIL_SESSION_TTL_HOURS", &mut config.session_ttl_hours);
        env.set("VIGIL_SECURE_COOKIES", &mut config.secure_cookies);
        env.set("VIGIL_LOGIN_MAX_FAILURES", &mut config.login_max_failures);
        env.set("VIGIL_MAX_LIVE_PAGES", &mut config.max_live_pages);
        env.set(
            "VIGIL_STATUS_RATE_PER_MINUTE",
            &mut config.status_rate_per_minute,
        );
        env.set(
            "VIGIL_STATUS_SNAPSHOT_MAX_AGE_SECS",
            &mut config.status_snapshot_max_age_secs,
        );
        env.set("VIGIL_PUBLIC_URL", &mut config.public_url);
        env.set("VIGIL_TRUSTED_PROXIES", &mut config.trusted_proxies);
        env.set(
            "VIGIL_EXPLORER_LOG_QUERIES",
            &mut config.explorer_log_queries,
        );
        env.set(
            "VIGIL_PUBLIC_INGEST_GRPC_URL",
            &mut config.public_ingest_grpc_url,
        );
        env.set(
            "VIGIL_PUBLIC_INGEST_HTTP_URL",
            &mut config.public_ingest_http_url,
        );
        env.set(
            "VIGIL_PUBLIC_INGEST_FORWARD_ADDR",
            &mut config.public_ingest_forward_addr,
        );
        let w = &mut config.worker;
        env.set("VIGIL_REDIS_URL", &mut w.redis_url);
        env.set("VIGIL_REDIS_STREAM_PREFIX", &mut w.stream_prefix);
        env.set("VIGIL_WORKER_NAME", &mut w.consumer);
        env.set("VIGIL_WORKER_RECLAIM_IDLE_MS", &mut w.reclaim_idle_ms);
        env.set("VIGIL_CLICKHOUSE_URL", &mut w.clickhouse_url);
        env.set("VIGIL_CLICKHOUSE_DATABASE", &mut w.clickhouse_database);
        env.set("VIGIL_CLICKHOUSE_CLUSTER", &mut w.clickhouse_cluster);
        env.set("VIGIL_CLICKHOUSE_USER", &mut w.clickhouse_user);
        // A password is taken as given, spaces included.
        if let Some(password) = env.get("VIGIL_CLICKHOUSE_PASSWORD") {
            w.clickhouse_password = password;
        }
        env.set("VIGIL_RETENTION_DAYS", &mut w.retention_days);
        env.set(
            "VIGIL_NOTIFY_ALLOW_PRIVATE_NETWORKS",
            &mut w.notify_allow_private_networks,
        );
        if w.consumer.trim().is_empty() {
            let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
            w.consumer = format!("{}-{}", host.trim(), std::process::id());
        }
        let problems = env.into_problems();
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        Ok(config)
    }

    pub(crate) fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_hours.saturating_mul(3600))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_environment_wins_and_every_bad_value_is_reported() {
        let vars: HashMap<&str, &str> = [
            ("VIGIL_CONTROL_ADDR", "127.0.0.1:9999"),
            ("VIGIL_SESSION_TTL_HOURS", "soon"),
            ("VIGIL_SECURE_COOKIES", "maybe"),
        ]
        .into();
        let env = settings::Env::new(|n| vars.get(n).map(|v| v.to_string()));
        let Err(ConfigError::Invalid(problems)) = Config::load_with(None, env) else {
            panic!("bad values are refused");
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
        let vars: HashMap<&str, &str> = [("VIGIL_CONTROL_ADDR", "127.0.0.1:9999")].into();
        let env = settings::Env::new(|n| vars.get(n).map(|v| v.to_string()));
        let config = Config::load_with(None, env).unwrap();
        assert_eq!(config.addr.port(), 9999);
    }

    #[test]
    fn the_web_sides_settings_come_from_the_environment() {
        let vars: HashMap<&str, &str> = [
            ("VIGIL_PUBLIC_URL", "https://status.example.com"),
            ("VIGIL_STATUS_RATE_PER_MINUTE", "0"),
            ("VIGIL_STATUS_SNAPSHOT_MAX_AGE_SECS", "5"),
            ("VIGIL_EXPLORER_LOG_QUERIES", "true"),
            ("VIGIL_MAX_LIVE_PAGES", "7"),
            ("VIGIL_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"),
        ]
        .into();
        let env = settings::Env::new(|n| vars.get(n).map(|v| v.to_string()));
        let config = Config::load_with(None, env).unwrap();
        assert_eq!(config.public_url, "https://status.example.com");
        assert_eq!(config.status_rate_per_minute, 0);
        assert_eq!(config.status_snapshot_max_age_secs, 5);
        assert!(config.explorer_log_queries);
        assert_eq!(config.max_live_pages, 7);
        assert_eq!(config.trusted_proxies, "127.0.0.1, 10.0.0.0/8");
    }
}
