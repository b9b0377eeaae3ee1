//! Settings of the monitor inputs: server-agent reports and incoming requests (heartbeats).

use serde::Deserialize;

use super::Secret;

/// Keys and limits of `/server-monitor/…`, `/heartbeat/…` and `/incoming-request/…`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorsConfig {
    /// Server-agent secret keys, `key=project/monitor,…` (`VIGIL_AGENT_KEYS`): a development
    /// option besides the server monitors' keys in the database (`keys.database_url`).
    pub agent_keys: Secret,
    /// Incoming-request (heartbeat) secret keys, `key=project/monitor,…`
    /// (`VIGIL_HEARTBEAT_KEYS`).
    pub heartbeat_keys: Secret,
    /// Largest incoming-request body stored, after decompression; larger requests get 413
    /// (`VIGIL_HEARTBEAT_MAX_BODY_BYTES`, default 1 MiB).
    pub max_request_body_bytes: usize,
    /// Largest server-agent report, after decompression (`VIGIL_AGENT_MAX_REPORT_BYTES`,
    /// default 8 MiB).
    pub max_report_bytes: usize,
    /// Processes of one report stored as rows, busiest first (`VIGIL_AGENT_MAX_PROCESSES`,
    /// default 100); the report event keeps the whole list.
    pub max_processes: usize,
}

impl Default for MonitorsConfig {
    fn default() -> Self {
        Self {
            agent_keys: Secret::default(),
            heartbeat_keys: Secret::default(),
            max_request_body_bytes: 1 << 20,
            max_report_bytes: 8 << 20,
            max_processes: 100,
        }
    }
}
