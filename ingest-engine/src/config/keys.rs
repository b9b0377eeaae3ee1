//! Where the key store reads keys from: the control plane's PostgreSQL.

use serde::Deserialize;

use super::Secret;

/// The key store's database and its reload bounds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// The control plane's database, `postgres://…` (`VIGIL_DATABASE_URL`). Empty: only the
    /// static development lists (`ingest_tokens`, `monitors.*_keys`) are used.
    pub database_url: Secret,
    /// Seconds between full reloads, besides the ones NOTIFY triggers
    /// (`VIGIL_KEYS_REFRESH_SECS`, default 30).
    pub refresh_secs: u64,
    /// Timeout of each connect and query, ms (`VIGIL_KEYS_TIMEOUT_MS`, default 5000).
    pub timeout_ms: u64,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            database_url: Secret::default(),
            refresh_secs: 30,
            timeout_ms: 5_000,
        }
    }
}

impl KeysConfig {
    /// Whether keys come from the database.
    pub fn from_database(&self) -> bool {
        !self.database_url.0.trim().is_empty()
    }
}
