//! Checks: one function per kind, each returning an [`Outcome`] that names the phase a failure
//! happened in. Kinds this probe version cannot check yet are reported once and skipped, never
//! reported as failures.

mod tcp;

use std::time::Duration;

use serde_json::{Map, Value};

use crate::assignments::Assignment;

/// Where a check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Dns,
    Connect,
    Tls,
    Timeout,
    Response,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Timeout => "timeout",
            Phase::Response => "response",
        }
    }
}

/// What one check found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub is_online: bool,
    pub response_time_ms: Option<f64>,
    pub status_code: Option<u32>,
    pub body: Option<String>,
    pub failure: Option<(Phase, String)>,
    /// Timings and what else the kind reports (a JSON object).
    pub details: Map<String, Value>,
}

impl Outcome {
    pub(crate) fn failed(phase: Phase, message: impl Into<String>) -> Self {
        Self {
            failure: Some((phase, message.into())),
            ..Self::default()
        }
    }
}

/// Whether this probe can check `kind`.
pub fn supported(kind: &str) -> bool {
    matches!(kind, "tcp")
}

/// Runs the check of `a` once, bounded by its timeout.
pub async fn run(a: &Assignment) -> Outcome {
    let timeout = Duration::from_millis(a.timeout_ms.max(1));
    let work = async {
        match a.kind.as_str() {
            "tcp" => tcp::check(&a.settings).await,
            other => Outcome::failed(Phase::Response, format!("{other} checks are not supported")),
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(outcome) => outcome,
        Err(_) => {
            let mut o = Outcome::failed(Phase::Timeout, format!("no answer within {timeout:?}"));
            o.response_time_ms = Some(timeout.as_secs_f64() * 1000.0);
            o
        }
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}
