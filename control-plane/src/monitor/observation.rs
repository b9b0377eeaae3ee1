//! What criteria look at: one result of a monitor, whatever produced it (a probe's check, a
//! heartbeat, a server agent's report, or the worker noticing that pushes stopped).

/// The fields of one result that filters can test; `None` where the result has no such value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    pub is_online: bool,
    pub is_timeout: bool,
    pub response_time_ms: Option<f64>,
    pub status_code: Option<u16>,
    pub body: Option<String>,
    pub error: Option<String>,
    pub certificate_expires_in_days: Option<f64>,
    pub certificate_self_signed: Option<bool>,
    pub certificate_valid: Option<bool>,
    pub packet_loss_percent: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub dns_answers: Option<String>,
    pub cpu_percent: Option<f64>,
    pub memory_percent: Option<f64>,
    pub disk_percent: Option<f64>,
    pub minutes_since_last_push: Option<f64>,
}
