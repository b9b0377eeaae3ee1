//! Checks: one module per kind (TCP, HTTP(S) for website and API monitors, ICMP ping, DNS, TLS
//! certificates), each returning an [`Outcome`] that names the phase a failure happened in.
//! Kinds this probe version cannot check are logged and skipped, never reported as failures.

pub mod connect;
pub use ping::Pingers;
mod dns;
mod http;
mod ping;
mod tcp;
mod tls;

use std::time::Duration;

use serde_json::{Map, Value};

use crate::assignments::Assignment;

/// Why a check could not be made as configured (a target or resolver that cannot be used, a
/// certificate that is not valid): the failed `Outcome`'s text.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct CheckError(pub(crate) String);

impl From<CheckError> for String {
    fn from(e: CheckError) -> String {
        e.0
    }
}

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
    /// DNS answers of the asked type, one per line.
    pub dns_answers: Option<String>,
    pub packet_loss_percent: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub certificate_expires_in_days: Option<f64>,
    pub certificate_self_signed: Option<bool>,
    pub certificate_valid: Option<bool>,
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

/// What every check shares: the TLS roots and the body bound.
#[derive(Clone)]
pub struct Checker {
    pub tls: connect::Tls,
    /// ICMP sockets, opened on first use and shared by every ping check.
    pub pingers: std::sync::Arc<ping::Pingers>,
    /// Response bytes kept for criteria.
    pub body_limit: usize,
}

/// Whether this probe can check `kind`.
pub fn supported(kind: &str) -> bool {
    matches!(kind, "tcp" | "http" | "api" | "ssl" | "dns" | "ping")
}

/// Runs the check of `a` once, bounded by its timeout.
pub async fn run(a: &Assignment, checker: &Checker) -> Outcome {
    let timeout = Duration::from_millis(a.timeout_ms.max(1));
    let work = async {
        match a.kind.as_str() {
            "tcp" => tcp::check(&a.settings).await,
            "http" | "api" => http::check(&a.settings, &checker.tls, checker.body_limit).await,
            "ssl" => tls::check(&a.settings, &checker.tls).await,
            "dns" => dns::check(&a.settings).await,
            "ping" => ping::check(&a.settings, &checker.pingers, timeout).await,
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
