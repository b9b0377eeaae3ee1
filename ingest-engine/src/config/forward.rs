//! The Fluent Forward listener's settings.

use std::net::SocketAddr;

use serde::Deserialize;

use super::Secret;

/// The Fluent Forward listener (TCP, plus the UDP heartbeat on the same port).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardConfig {
    /// Listen address (`VIGIL_FORWARD_ADDR`, default `127.0.0.1:24224`). The listener runs when
    /// `project` or `shared_keys` is set.
    pub addr: SocketAddr,
    /// Project of connections without a handshake (`VIGIL_FORWARD_PROJECT`). Ignored when
    /// `shared_keys` is set: then every connection must complete the handshake.
    pub project: String,
    /// `shared_key=project,…` (`VIGIL_FORWARD_SHARED_KEYS`): require the HELO/PING/PONG
    /// handshake; the key a client proves selects its project.
    pub shared_keys: Secret,
    /// `user=password,…` (`VIGIL_FORWARD_USERS`): the handshake also checks these.
    pub users: Secret,
    /// Ingestion-key logins (`VIGIL_FORWARD_KEY_LOGIN_SHARED_KEY`): a client that completes the
    /// handshake with this shared key and a project's ingestion key as its username sends
    /// into that project; revoking the key refuses its connections. Empty: off.
    pub key_login_shared_key: Secret,
    /// Host name this server gives in PONG (`VIGIL_FORWARD_HOSTNAME`, default `vigil`).
    pub hostname: String,
    /// Largest frame (one msgpack value) (`VIGIL_FORWARD_MAX_FRAME_BYTES`, default 16 MiB).
    pub max_frame_bytes: usize,
    /// Largest decompressed entries of one CompressedPackedForward frame
    /// (`VIGIL_FORWARD_MAX_DECOMPRESSED_BYTES`, default 64 MiB).
    pub max_decompressed_bytes: usize,
    /// Open connections (`VIGIL_FORWARD_MAX_CONNECTIONS`, default 1024).
    pub max_connections: usize,
    /// A connection silent this long is closed, ms (`VIGIL_FORWARD_IDLE_TIMEOUT_MS`,
    /// default 300000).
    pub idle_timeout_ms: u64,
    /// PEM certificate chain (`VIGIL_FORWARD_TLS_CERT_FILE`); with `tls_key_file`, every TCP
    /// connection must speak TLS.
    pub tls_cert_file: String,
    /// PEM private key of the certificate (`VIGIL_FORWARD_TLS_KEY_FILE`).
    pub tls_key_file: String,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 24224)),
            project: String::new(),
            shared_keys: Secret::default(),
            users: Secret::default(),
            key_login_shared_key: Secret::default(),
            hostname: "vigil".into(),
            max_frame_bytes: 16 << 20,
            max_decompressed_bytes: 64 << 20,
            max_connections: 1024,
            idle_timeout_ms: 300_000,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
        }
    }
}

impl ForwardConfig {
    /// Whether connections must speak TLS.
    pub fn tls(&self) -> bool {
        !self.tls_cert_file.trim().is_empty() || !self.tls_key_file.trim().is_empty()
    }

    /// Whether the listener runs.
    pub fn enabled(&self) -> bool {
        !self.project.trim().is_empty()
            || !self.shared_keys.0.trim().is_empty()
            || !self.key_login_shared_key.0.trim().is_empty()
    }
}
