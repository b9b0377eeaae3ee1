//! Where events for the worker go: Redis Streams.

use serde::Deserialize;

/// The Redis server and the streams' bounds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]` (`VIGIL_REDIS_URL`, default
    /// `redis://127.0.0.1:6379`). Empty turns events off: reports and requests are still stored
    /// in ClickHouse, but the worker hears nothing of them.
    pub url: String,
    /// Prefix of the stream names (`VIGIL_REDIS_STREAM_PREFIX`, default `vigil:events:`).
    pub stream_prefix: String,
    /// Approximate length each stream is trimmed to (`XADD MAXLEN ~`), so an absent worker
    /// cannot fill Redis (`VIGIL_REDIS_STREAM_MAX_LEN`, default 1000000).
    pub stream_max_len: u64,
    /// Timeout of each connect and command, ms (`VIGIL_REDIS_TIMEOUT_MS`, default 5000).
    pub timeout_ms: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            stream_prefix: proto::events::DEFAULT_STREAM_PREFIX.into(),
            stream_max_len: 1_000_000,
            timeout_ms: 5_000,
        }
    }
}

impl RedisConfig {
    /// Whether events are published.
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }
}
