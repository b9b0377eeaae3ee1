//! `vigil-ingest` configuration: defaults, then the TOML file (`--config`), then `VIGIL_*`
//! environment variables — the environment wins. `validate()` lists every problem at once.
//!
//! This is the only module that reads the environment.

mod env;
mod forward;
mod keys;
pub(crate) mod lists;
mod monitors;
mod redis;

pub use forward::ForwardConfig;
pub use keys::KeysConfig;
pub use monitors::MonitorsConfig;
pub use redis::RedisConfig;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use storage::{ClickHouseConfig, Compression, Secret};

/// Everything `vigil-ingest` can be told.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// OTLP/gRPC listener (`VIGIL_OTLP_GRPC_ADDR`, default `127.0.0.1:4317`).
    pub otlp_grpc_addr: SocketAddr,
    /// OTLP/HTTP listener, also serving `/metrics`, `/healthz`, `/readyz`
    /// (`VIGIL_OTLP_HTTP_ADDR`, default `127.0.0.1:4318`).
    pub otlp_http_addr: SocketAddr,
    /// A second HTTP listener for the non-OTLP endpoints (`VIGIL_HTTP_ADDR`); unset or equal
    /// to `otlp_http_addr` means they share the OTLP/HTTP listener.
    pub http_addr: Option<SocketAddr>,
    /// Static ingestion tokens, `token=project,…` (`VIGIL_INGEST_TOKENS`): a development
    /// option, merged with the control plane's keys when `keys.database_url` is set.
    pub ingest_tokens: Secret,
    /// The control plane's keys (ingestion keys, monitor push keys) in PostgreSQL.
    pub keys: KeysConfig,
    /// Log output: `text` or `json` (`VIGIL_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// ClickHouse connection and insert behaviour.
    pub clickhouse: ClickHouseConfig,
    /// Batching per table.
    pub batch: BatchConfig,
    /// Listener limits.
    pub limits: LimitsConfig,
    /// The write-ahead log.
    pub wal: WalConfig,
    /// The Fluent Forward listener.
    pub forward: ForwardConfig,
    /// Server-agent and heartbeat inputs: their keys and limits.
    pub monitors: MonitorsConfig,
    /// Redis, where events for the worker are published.
    pub redis: RedisConfig,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Batching: a table's batch is flushed when any bound is reached.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Rows per INSERT (`VIGIL_BATCH_MAX_ROWS`, default 100000).
    pub max_rows: u64,
    /// Native bytes per INSERT before compression (`VIGIL_BATCH_MAX_BYTES`, default 32 MiB).
    pub max_bytes: usize,
    /// Longest time a row waits for its batch, ms (`VIGIL_BATCH_MAX_AGE_MS`, default 200).
    pub max_age_ms: u64,
}

/// Listener limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body or gRPC message, before and after decompression
    /// (`VIGIL_MAX_BODY_BYTES`, default 64 MiB).
    pub max_body_bytes: usize,
    /// Open connections per listener (`VIGIL_MAX_CONNECTIONS`, default 4096). At the cap the
    /// connection idle the longest is closed for a newcomer.
    pub max_connections: usize,
    /// Open connections per client address and listener, Forward's included
    /// (`VIGIL_MAX_CONNECTIONS_PER_ADDRESS`, default 1024). At the cap that address's idlest
    /// connection is closed for a newcomer, or the newcomer refused when all are busy.
    pub max_connections_per_address: usize,
    /// A connection must start a request (Forward: send its first frame) this soon after it
    /// was accepted, ms (`VIGIL_FIRST_REQUEST_TIMEOUT_MS`, default 10000); HTTP/1 request
    /// headers must arrive within it too.
    pub first_request_timeout_ms: u64,
    /// An HTTP connection idle this long between requests is closed, ms
    /// (`VIGIL_IDLE_TIMEOUT_MS`, default 120000).
    pub idle_timeout_ms: u64,
    /// Time to receive a whole request body, ms (`VIGIL_REQUEST_TIMEOUT_MS`, default 30000).
    pub request_timeout_ms: u64,
    /// Request bodies being decoded plus encoded blocks waiting for the WAL (WAL off: for
    /// ClickHouse); beyond it requests get 429 (`VIGIL_MAX_BUFFERED_BYTES`, default 512 MiB).
    pub max_buffered_bytes: usize,
    /// Concurrent HTTP/2 streams per connection (`VIGIL_H2_MAX_STREAMS`, default 256).
    pub h2_max_concurrent_streams: u32,
    /// Requests decoded at once on the blocking pool; more wait their turn. 0 = one per CPU
    /// core available to the process (`VIGIL_DECODE_THREADS`, default 0).
    pub decode_threads: usize,
    /// Time allowed for the shutdown flush, ms (`VIGIL_SHUTDOWN_TIMEOUT_MS`, default 30000).
    pub shutdown_timeout_ms: u64,
    /// Proxies in front (nginx, a load balancer) whose `X-Forwarded-For` names the client,
    /// comma-separated addresses and networks (`VIGIL_TRUSTED_PROXIES`, default none): an
    /// incoming request then records the client's address, not the proxy's.
    pub trusted_proxies: String,
}

/// The write-ahead log: where acknowledged data waits for ClickHouse.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalConfig {
    /// Acknowledge after the WAL write (`true`) or only after ClickHouse stored the data
    /// (`false`: no disk, but no outage buffering either) (`VIGIL_WAL_ENABLED`, default true).
    pub enabled: bool,
    /// Directory of the WAL and of the dead-letter files (`VIGIL_WAL_DIR`, default `data/wal`).
    pub dir: PathBuf,
    /// When appends reach the disk: `always` (fsync before every acknowledgement, one fsync per
    /// group commit), `<N>ms` (fsync at most every N ms), `never` (leave it to the OS)
    /// (`VIGIL_WAL_FSYNC`, default `always`).
    pub fsync: FsyncPolicy,
    /// Size at which a segment file is closed and a new one started (`VIGIL_WAL_SEGMENT_BYTES`,
    /// default 64 MiB).
    pub segment_bytes: u64,
    /// WAL size (every table together) beyond which exports get 503 + `Retry-After`
    /// (`VIGIL_WAL_MAX_BYTES`, default 4 GiB).
    pub max_bytes: u64,
    /// Recently written WAL bytes per table kept in memory for the reader, so that keeping up
    /// with ingest needs no read-back from the file (`VIGIL_WAL_READ_CACHE_BYTES`, 64 MiB).
    pub read_cache_bytes: usize,
    /// Size of the dead-letter files beyond which poison rows are counted and logged but no
    /// longer written (`VIGIL_DEAD_LETTER_MAX_BYTES`, default 1 GiB).
    pub dead_letter_max_bytes: u64,
}

/// When WAL appends are made durable against power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum FsyncPolicy {
    /// fsync each group commit before acknowledging it.
    Always,
    /// fsync at most this often; acknowledgements follow the write to the OS.
    Every(Duration),
    /// Never fsync (the OS writes back on its own schedule).
    Never,
}

impl std::str::FromStr for FsyncPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            other => other
                .strip_suffix("ms")
                .and_then(|n| n.trim().parse::<u64>().ok())
                .filter(|n| *n > 0)
                .map(|n| Self::Every(Duration::from_millis(n)))
                .ok_or_else(|| format!("`{other}` is not always, never or <N>ms (N > 0)")),
        }
    }
}

impl TryFrom<String> for FsyncPolicy {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl Default for WalConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: PathBuf::from("data/wal"),
            fsync: FsyncPolicy::Always,
            segment_bytes: 64 << 20,
            max_bytes: 4 << 30,
            read_cache_bytes: 64 << 20,
            dead_letter_max_bytes: 1 << 30,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            otlp_grpc_addr: SocketAddr::from(([127, 0, 0, 1], 4317)),
            otlp_http_addr: SocketAddr::from(([127, 0, 0, 1], 4318)),
            http_addr: None,
            ingest_tokens: Secret::default(),
            keys: KeysConfig::default(),
            log_format: LogFormat::Text,
            clickhouse: ClickHouseConfig::default(),
            batch: BatchConfig::default(),
            limits: LimitsConfig::default(),
            wal: WalConfig::default(),
            forward: ForwardConfig::default(),
            monitors: MonitorsConfig::default(),
            redis: RedisConfig::default(),
        }
    }
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_rows: 100_000,
            max_bytes: 32 << 20,
            max_age_ms: 200,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 << 20,
            max_connections: 4096,
            max_connections_per_address: 1024,
            first_request_timeout_ms: 10_000,
            idle_timeout_ms: 120_000,
            request_timeout_ms: 30_000,
            max_buffered_bytes: 512 << 20,
            h2_max_concurrent_streams: 256,
            decode_threads: 0,
            shutdown_timeout_ms: 30_000,
            trusted_proxies: String::new(),
        }
    }
}

/// A configuration that could not be loaded or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid config file `{path}`: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// One or more values are invalid; each line names one problem.
    #[error("invalid configuration:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
}

impl Config {
    /// Defaults, then `file` (if any), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with(file, |name| settings::Env::process().get(name))
    }

    /// As [`Config::load`], reading variables through `env` (for tests).
    pub fn load_with(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: shown.clone(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: shown,
                    message: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        let mut env = settings::Env::new(env);
        config.apply_env(&mut env);
        let mut problems = env.into_problems();
        config.validate(&mut problems);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    fn validate(&self, problems: &mut Vec<String>) {
        if let Err(e) = proto::forwarded::TrustedProxies::parse(&self.limits.trusted_proxies) {
            problems.push(format!("limits.trusted_proxies: {e}"));
        }
        lists::check(self, problems);
        let fw = &self.forward;
        if fw.tls() && (fw.tls_cert_file.trim().is_empty() || fw.tls_key_file.trim().is_empty()) {
            problems.push("forward.tls_cert_file and forward.tls_key_file go together".into());
        }
        let r = &self.redis;
        if r.enabled() && !(r.url.starts_with("redis://") || r.url.starts_with("rediss://")) {
            problems.push("redis.url: must start with redis:// or rediss:// (or be empty)".into());
        }
        let ch = &self.clickhouse;
        if !(ch.url.starts_with("http://") || ch.url.starts_with("https://")) {
            problems.push(format!(
                "clickhouse.url: `{}` must start with http:// or https://",
                ch.url
            ));
        }
        let valid_db = !ch.database.is_empty()
            && ch
                .database
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_db {
            problems.push("clickhouse.database: use letters, digits and `_` only".into());
        }
        if !ch
            .cluster
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            problems.push("clickhouse.cluster: use letters, digits and `_` only".into());
        }
        let positive = [
            ("clickhouse.timeout_ms", ch.timeout_ms as usize),
            (
                "clickhouse.max_concurrent_inserts",
                ch.max_concurrent_inserts,
            ),
            ("clickhouse.max_attempts", ch.max_attempts as usize),
            ("batch.max_rows", self.batch.max_rows as usize),
            ("batch.max_bytes", self.batch.max_bytes),
            ("batch.max_age_ms", self.batch.max_age_ms as usize),
            ("limits.max_body_bytes", self.limits.max_body_bytes),
            ("limits.max_connections", self.limits.max_connections),
            (
                "limits.max_connections_per_address",
                self.limits.max_connections_per_address,
            ),
            (
                "limits.first_request_timeout_ms",
                self.limits.first_request_timeout_ms as usize,
            ),
            (
                "limits.idle_timeout_ms",
                self.limits.idle_timeout_ms as usize,
            ),
            (
                "limits.request_timeout_ms",
                self.limits.request_timeout_ms as usize,
            ),
            ("limits.max_buffered_bytes", self.limits.max_buffered_bytes),
            ("forward.max_frame_bytes", self.forward.max_frame_bytes),
            (
                "forward.max_decompressed_bytes",
                self.forward.max_decompressed_bytes,
            ),
            ("forward.max_connections", self.forward.max_connections),
            (
                "forward.idle_timeout_ms",
                self.forward.idle_timeout_ms as usize,
            ),
            (
                "monitors.max_request_body_bytes",
                self.monitors.max_request_body_bytes,
            ),
            ("monitors.max_report_bytes", self.monitors.max_report_bytes),
            ("redis.stream_max_len", self.redis.stream_max_len as usize),
            ("redis.timeout_ms", self.redis.timeout_ms as usize),
            (
                "limits.h2_max_concurrent_streams",
                self.limits.h2_max_concurrent_streams as usize,
            ),
        ];
        for (name, value) in positive {
            if value == 0 {
                problems.push(format!("{name} must be greater than 0"));
            }
        }
        if self.limits.decode_threads > 1024 {
            problems.push("limits.decode_threads must be at most 1024".into());
        }
        let wal = &self.wal;
        if wal.segment_bytes < 1 << 16 {
            problems.push("wal.segment_bytes must be at least 65536".into());
        }
        if wal.max_bytes < 2 * wal.segment_bytes {
            problems.push("wal.max_bytes must be at least twice wal.segment_bytes".into());
        }
        if wal.enabled && wal.dir.as_os_str().is_empty() {
            problems.push("wal.dir must not be empty".into());
        }
        // A request's body and its encoded block are both counted while it is handed on.
        if self.limits.max_buffered_bytes < 2 * self.limits.max_body_bytes {
            problems.push(
                "limits.max_buffered_bytes must be at least twice limits.max_body_bytes".into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn env_wins_over_file_and_problems_are_listed() {
        let dir = std::env::temp_dir().join(format!("vigil-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ingest.toml");
        std::fs::write(
            &file,
            "otlp_grpc_addr = \"127.0.0.1:1111\"\n[clickhouse]\ndatabase = \"fromfile\"\n",
        )
        .unwrap();
        let env: HashMap<&str, &str> = [
            ("VIGIL_CLICKHOUSE_DATABASE", "fromenv"),
            ("VIGIL_INGEST_TOKENS", "t=p"),
            ("VIGIL_DECODE_THREADS", "3"),
        ]
        .into();
        let c = Config::load_with(Some(&file), |k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.otlp_grpc_addr.port(), 1111);
        assert_eq!(c.clickhouse.database, "fromenv");
        assert_eq!(c.limits.decode_threads, 3);
        assert_eq!(format!("{:?}", c.ingest_tokens), "\"***\"");

        let env: HashMap<&str, &str> = [
            ("VIGIL_BATCH_MAX_ROWS", "x"),
            ("VIGIL_CLICKHOUSE_DATABASE", "a-b"),
            ("VIGIL_DECODE_THREADS", "5000"),
        ]
        .into();
        let Err(ConfigError::Invalid(problems)) =
            Config::load_with(None, |k| env.get(k).map(|v| v.to_string()))
        else {
            panic!("expected invalid config");
        };
        assert_eq!(problems.len(), 3, "{problems:?}");
        std::fs::write(&file, "unknown_key = 1\n").unwrap();
        assert!(matches!(
            Config::load_with(Some(&file), |_| None),
            Err(ConfigError::Parse { .. })
        ));
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    /// The shipped example must parse and equal the defaults, so it cannot go stale.
    #[test]
    fn example_config_matches_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy/config/vigil-ingest.example.toml");
        let c = Config::load_with(Some(&path), |_| None).unwrap();
        let d = Config::default();
        assert_eq!(format!("{c:?}"), format!("{d:?}"));
    }
}
