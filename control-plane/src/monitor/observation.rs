//! What criteria look at: one result of a monitor, whatever produced it (a probe's check, a
//! heartbeat, a server agent's report, or the worker noticing that pushes stopped).

use serde::{Deserialize, Serialize};

/// The fields of one result that filters can test; `None` where the result has no such value.
/// Probes send it as JSON (the `result` field of a `probe_result` stream entry).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Observation {
    pub is_online: bool,
    pub is_timeout: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_time_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_expires_in_days: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_self_signed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_valid: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_loss_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_answers: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes_since_last_push: Option<f64>,
}
