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

impl Observation {
    /// What this result says went wrong, for people (an incident's description and timeline):
    /// e.g. `connect: connection refused`, `status code 503`, `certificate expires in 3 days`.
    /// `failed_phase` is the probe's phase that failed, when it named one.
    pub fn cause(&self, failed_phase: Option<&str>) -> String {
        let mut parts: Vec<String> = Vec::new();
        match (failed_phase, self.error.as_deref()) {
            (Some(phase), Some(error)) => parts.push(format!("{phase}: {error}")),
            (None, Some(error)) => parts.push(error.to_owned()),
            (Some(phase), None) => parts.push(format!("{phase} failed")),
            (None, None) => {}
        }
        if self.is_timeout && failed_phase != Some("timeout") {
            parts.push("timed out".into());
        }
        if let Some(code) = self.status_code {
            parts.push(format!("status code {code}"));
        }
        if let Some(days) = self.certificate_expires_in_days {
            parts.push(if days < 0.0 {
                format!("certificate expired {:.0} days ago", -days)
            } else {
                format!("certificate expires in {days:.0} days")
            });
        }
        if self.certificate_valid == Some(false) {
            parts.push("certificate not valid".into());
        }
        if let Some(loss) = self.packet_loss_percent.filter(|l| *l > 0.0) {
            parts.push(format!("packet loss {loss:.0}%"));
        }
        if let Some(minutes) = self.minutes_since_last_push.filter(|m| *m > 0.0) {
            parts.push(format!("no push for {minutes:.1} minutes"));
        }
        for (name, value) in [
            ("CPU", self.cpu_percent),
            ("memory", self.memory_percent),
            ("disk", self.disk_percent),
        ] {
            if let Some(v) = value {
                parts.push(format!("{name} {v:.1}%"));
            }
        }
        if parts.is_empty() {
            parts.push(if self.is_online { "online" } else { "offline" }.into());
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_names_the_failure() {
        let refused = Observation {
            error: Some("connection refused".into()),
            ..Observation::default()
        };
        assert_eq!(
            refused.cause(Some("connect")),
            "connect: connection refused"
        );
        let expiring = Observation {
            is_online: true,
            status_code: Some(200),
            certificate_expires_in_days: Some(3.2),
            ..Observation::default()
        };
        assert_eq!(
            expiring.cause(None),
            "status code 200; certificate expires in 3 days"
        );
        let silent = Observation {
            minutes_since_last_push: Some(12.0),
            ..Observation::default()
        };
        assert_eq!(silent.cause(None), "no push for 12.0 minutes");
    }
}
