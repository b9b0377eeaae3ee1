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
    #[error("{name}: {message}")]
    Env { name: &'static str, message: String },
}

/// What `vigil serve` and `vigil migrate` need.
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
    /// Failed logins allowed per client address and per account in a window
    /// (`VIGIL_LOGIN_MAX_FAILURES`).
    pub login_max_failures: u32,
    /// That window, seconds.
    pub login_window_secs: u64,
    /// How long a request may take before it is answered 503, ms.
    pub request_timeout_ms: u64,
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
            .finish_non_exhaustive()
    }
}

fn env<T: std::str::FromStr>(name: &'static str, into: &mut T) -> Result<(), ConfigError>
where
    T::Err: std::fmt::Display,
{
    if let Ok(value) = std::env::var(name) {
        *into = value.parse().map_err(|e: T::Err| ConfigError::Env {
            name,
            message: e.to_string(),
        })?;
    }
    Ok(())
}

impl Config {
    /// The file's settings (if any) with the environment's on top.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
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
        env("VIGIL_CONTROL_ADDR", &mut config.addr)?;
        env("VIGIL_DATABASE_URL", &mut config.database_url)?;
        env(
            "VIGIL_DATABASE_MAX_CONNECTIONS",
            &mut config.database_max_connections,
        )?;
        env("VIGIL_SESSION_TTL_HOURS", &mut config.session_ttl_hours)?;
        env("VIGIL_SECURE_COOKIES", &mut config.secure_cookies)?;
        env("VIGIL_LOGIN_MAX_FAILURES", &mut config.login_max_failures)?;
        Ok(config)
    }

    pub(crate) fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_hours.saturating_mul(3600))
    }
}
