//! What criteria look at: one result of a monitor, whatever produced it (a probe's check, a
//! heartbeat, a server agent's report, or the worker noticing that pushes stopped); and the
//! probe result JSON that carries a probe's check from the engine to the worker.

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
    /// What a logs, traces or metrics monitor measured over its window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telemetry_value: Option<f64>,
}

/// A probe's check as the `result` field of a `probe_result` event: the observation, the
/// phase that failed, and details criteria do not test (timings, certificate, records).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProbeResult {
    #[serde(flatten)]
    pub observation: Observation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_phase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The phases a probe's check can fail in.
pub const FAILED_PHASES: [&str; 5] = ["dns", "connect", "tls", "timeout", "response"];

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
        if let Some(v) = self.telemetry_value {
            parts.push(format!("value {v}"));
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

    #[test]
    fn a_probe_result_round_trips_through_its_json() {
        let result = ProbeResult {
            observation: Observation {
                is_online: false,
                status_code: Some(503),
                certificate_expires_in_days: Some(3.5),
                ..Observation::default()
            },
            failed_phase: Some("response".into()),
            details: serde_json::json!({"timings": {"dns_ms": 1.5}})
                .as_object()
                .cloned(),
        };
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["status_code"], 503);
        assert_eq!(json["failed_phase"], "response");
        assert_eq!(json["details"]["timings"]["dns_ms"], 1.5);
        assert!(json.get("body").is_none(), "absent fields are left out");
        let back: ProbeResult = serde_json::from_value(json).unwrap();
        assert_eq!(back, result);
    }
}
