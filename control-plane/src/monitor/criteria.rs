//! Monitor criteria (OneUptime's model; ARCHITECTURE.md and the README describe it): an ordered list; each criterion is All
//! or Any over filters on one result; the first criterion that matches sets the monitor's
//! status and may open an incident; when none matches the monitor returns to its default
//! status. Evaluation is pure and allocation-free: the worker runs it for every result.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::observation::Observation;

/// At most this many criteria per monitor and filters per criterion.
pub(crate) const MAX_CRITERIA: usize = 20;
pub(crate) const MAX_FILTERS: usize = 20;

/// One criterion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// Shown in the status timeline and incidents; unique within the monitor.
    pub name: String,
    /// Whether all filters must match, or any one.
    #[serde(rename = "match")]
    pub matching: Matching,
    /// 1 to 20 filters.
    pub filters: Vec<Filter>,
    /// The status the monitor takes when this criterion matches.
    pub status_id: Uuid,
    /// An incident opened when this criterion matches (at most one open at a time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentTemplate>,
}

/// All or Any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Matching {
    All,
    Any,
}

/// The incident a criterion opens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentTemplate {
    /// 1 to 200 characters.
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub severity_id: Uuid,
    /// Resolve the incident once another criterion (or none) matches.
    #[serde(default = "yes")]
    pub auto_resolve: bool,
}

fn yes() -> bool {
    true
}

/// One condition on a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub check: Check,
    pub op: Op,
    /// A number for numeric checks, a string for text checks, absent for `is_true`/`is_false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<FilterValue>,
}

/// A filter's operand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum FilterValue {
    Number(f64),
    Text(String),
}

/// What a filter looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The check succeeded (reached the target and got an answer) — boolean.
    IsOnline,
    /// The check ran out of time — boolean.
    IsTimeout,
    /// Milliseconds from start to the complete answer.
    ResponseTimeMs,
    /// HTTP status code.
    StatusCode,
    /// The (bounded) response body, or the incoming request's body — text.
    ResponseBody,
    /// The failure message, empty on success — text.
    Error,
    /// Days until the TLS certificate expires.
    CertificateExpiresInDays,
    /// The certificate is self-signed — boolean.
    CertificateSelfSigned,
    /// The certificate chain validated — boolean.
    CertificateValid,
    /// Ping packet loss, %.
    PacketLossPercent,
    /// Ping jitter, ms.
    JitterMs,
    /// DNS answers, joined by newlines — text.
    DnsAnswers,
    /// Server agent: CPU, memory, busiest disk use, %.
    CpuPercent,
    MemoryPercent,
    DiskPercent,
    /// Heartbeat and server monitors: minutes since the last request or report.
    MinutesSinceLastPush,
    /// Logs, traces and metrics monitors: what the monitor measures over its window (a count,
    /// an error rate in %, a percentile or aggregate of durations or a metric).
    TelemetryValue,
}

/// How a filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    IsTrue,
    IsFalse,
}

impl Op {
    /// Every operator, in the order forms list them.
    pub(crate) const ALL: [Op; 12] = [
        Op::Eq,
        Op::Ne,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::Contains,
        Op::NotContains,
        Op::StartsWith,
        Op::EndsWith,
        Op::IsTrue,
        Op::IsFalse,
    ];
}

/// The name a check or operator has in JSON (`response_time_ms`, `gte`…).
pub(crate) fn wire_name(value: impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A check or operator from its JSON name.
pub(crate) fn from_wire_name<T: for<'de> Deserialize<'de>>(name: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

enum Kind {
    Bool,
    Number,
    Text,
}

impl Check {
    /// Every check, in the order forms list them.
    pub(crate) const ALL: [Check; 17] = [
        Check::IsOnline,
        Check::IsTimeout,
        Check::ResponseTimeMs,
        Check::StatusCode,
        Check::ResponseBody,
        Check::Error,
        Check::CertificateExpiresInDays,
        Check::CertificateSelfSigned,
        Check::CertificateValid,
        Check::PacketLossPercent,
        Check::JitterMs,
        Check::DnsAnswers,
        Check::CpuPercent,
        Check::MemoryPercent,
        Check::DiskPercent,
        Check::MinutesSinceLastPush,
        Check::TelemetryValue,
    ];

    /// Whether the check's value is a number (else a boolean or text).
    pub(crate) fn is_numeric(self) -> bool {
        matches!(self.kind(), Kind::Number)
    }

    fn kind(self) -> Kind {
        use Check::*;
        match self {
            IsOnline | IsTimeout | CertificateSelfSigned | CertificateValid => Kind::Bool,
            ResponseBody | Error | DnsAnswers => Kind::Text,
            _ => Kind::Number,
        }
    }
}

impl Filter {
    /// Why this filter cannot be evaluated (a wrong operator or operand for its check).
    pub(crate) fn problem(&self) -> Option<String> {
        let check = serde_json::to_value(self.check).unwrap_or_default();
        let fits = match (self.check.kind(), self.op, &self.value) {
            (Kind::Bool, Op::IsTrue | Op::IsFalse, None) => true,
            (Kind::Number, Op::Eq | Op::Ne | Op::Gt | Op::Gte | Op::Lt | Op::Lte, Some(v)) => {
                matches!(v, FilterValue::Number(n) if n.is_finite())
            }
            (
                Kind::Text,
                Op::Eq | Op::Ne | Op::Contains | Op::NotContains | Op::StartsWith | Op::EndsWith,
                Some(FilterValue::Text(t)),
            ) => t.len() <= 1000,
            _ => false,
        };
        (!fits).then(|| match self.check.kind() {
            Kind::Bool => format!("{check} takes op is_true or is_false and no value"),
            Kind::Number => format!("{check} takes op eq, ne, gt, gte, lt or lte and a number"),
            Kind::Text => format!(
                "{check} takes op eq, ne, contains, not_contains, starts_with or ends_with and a \
                 string of at most 1000 bytes"
            ),
        })
    }

    /// Whether `result` satisfies this filter; a value the result does not have never does.
    pub(crate) fn matches(&self, result: &Observation) -> bool {
        use Check::*;
        match self.check.kind() {
            Kind::Bool => {
                let value = match self.check {
                    IsOnline => Some(result.is_online),
                    IsTimeout => Some(result.is_timeout),
                    CertificateSelfSigned => result.certificate_self_signed,
                    CertificateValid => result.certificate_valid,
                    _ => None,
                };
                match (value, self.op) {
                    (Some(v), Op::IsTrue) => v,
                    (Some(v), Op::IsFalse) => !v,
                    _ => false,
                }
            }
            Kind::Number => {
                let value = match self.check {
                    ResponseTimeMs => result.response_time_ms,
                    StatusCode => result.status_code.map(f64::from),
                    CertificateExpiresInDays => result.certificate_expires_in_days,
                    PacketLossPercent => result.packet_loss_percent,
                    JitterMs => result.jitter_ms,
                    CpuPercent => result.cpu_percent,
                    MemoryPercent => result.memory_percent,
                    DiskPercent => result.disk_percent,
                    MinutesSinceLastPush => result.minutes_since_last_push,
                    TelemetryValue => result.telemetry_value,
                    _ => None,
                };
                let (Some(v), Some(FilterValue::Number(want))) = (value, &self.value) else {
                    return false;
                };
                let want = *want;
                match self.op {
                    Op::Eq => v == want,
                    Op::Ne => v != want,
                    Op::Gt => v > want,
                    Op::Gte => v >= want,
                    Op::Lt => v < want,
                    Op::Lte => v <= want,
                    _ => false,
                }
            }
            Kind::Text => {
                let value = match self.check {
                    ResponseBody => result.body.as_deref(),
                    Error => Some(result.error.as_deref().unwrap_or("")),
                    DnsAnswers => result.dns_answers.as_deref(),
                    _ => None,
                };
                let (Some(v), Some(FilterValue::Text(want))) = (value, &self.value) else {
                    return false;
                };
                match self.op {
                    Op::Eq => v == want,
                    Op::Ne => v != want,
                    Op::Contains => v.contains(want.as_str()),
                    Op::NotContains => !v.contains(want.as_str()),
                    Op::StartsWith => v.starts_with(want.as_str()),
                    Op::EndsWith => v.ends_with(want.as_str()),
                    _ => false,
                }
            }
        }
    }
}

impl Criterion {
    /// Whether `result` meets this criterion.
    pub(crate) fn matches(&self, result: &Observation) -> bool {
        match self.matching {
            Matching::All => self.filters.iter().all(|f| f.matches(result)),
            Matching::Any => self.filters.iter().any(|f| f.matches(result)),
        }
    }
}

/// The index of the first criterion `result` meets; `None`: the default status.
pub(crate) fn first_match(criteria: &[Criterion], result: &Observation) -> Option<usize> {
    criteria.iter().position(|c| c.matches(result))
}

/// Why `criteria` cannot be stored (shape only; that the statuses and severities belong to
/// the project is checked against the database).
pub(crate) fn problem(criteria: &[Criterion]) -> Option<String> {
    if criteria.len() > MAX_CRITERIA {
        return Some(format!("at most {MAX_CRITERIA} criteria"));
    }
    for (i, c) in criteria.iter().enumerate() {
        let name = c.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Some(format!("criterion {i}: a name needs 1 to 100 characters"));
        }
        if criteria[..i].iter().any(|o| o.name.trim() == name) {
            return Some(format!("criterion {i}: the name {name:?} is used twice"));
        }
        if c.filters.is_empty() || c.filters.len() > MAX_FILTERS {
            return Some(format!("criterion {i}: 1 to {MAX_FILTERS} filters"));
        }
        if let Some(p) = c.filters.iter().find_map(Filter::problem) {
            return Some(format!("criterion {i}: {p}"));
        }
        if let Some(t) = &c.incident {
            let len = t.title.trim().chars().count();
            if !(1..=200).contains(&len) || t.description.len() > 10_000 {
                return Some(format!(
                    "criterion {i}: an incident title needs 1 to 200 characters, its \
                     description at most 10000 bytes"
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criteria(json: serde_json::Value) -> Vec<Criterion> {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn first_matching_criterion_wins_and_missing_values_never_match() {
        let s = Uuid::nil();
        let list = criteria(serde_json::json!([
            {"name": "down", "match": "any", "status_id": s, "filters": [
                {"check": "is_online", "op": "is_false"},
                {"check": "status_code", "op": "gte", "value": 500}]},
            {"name": "slow", "match": "all", "status_id": s, "filters": [
                {"check": "response_time_ms", "op": "gt", "value": 1000},
                {"check": "response_body", "op": "not_contains", "value": "maintenance"}]},
        ]));
        assert_eq!(problem(&list), None);
        let ok = Observation {
            is_online: true,
            status_code: Some(200),
            response_time_ms: Some(20.0),
            body: Some("hello".into()),
            ..Observation::default()
        };
        assert_eq!(first_match(&list, &ok), None);
        let err = Observation {
            status_code: Some(503),
            ..ok.clone()
        };
        assert_eq!(first_match(&list, &err), Some(0));
        let offline = Observation::default();
        assert_eq!(first_match(&list, &offline), Some(0));
        let slow = Observation {
            response_time_ms: Some(1500.0),
            ..ok.clone()
        };
        assert_eq!(first_match(&list, &slow), Some(1));
        // All: one failing filter is enough to miss.
        let slow_maintenance = Observation {
            body: Some("in maintenance".into()),
            ..slow
        };
        assert_eq!(first_match(&list, &slow_maintenance), None);
        // No body at all: the text filter does not match.
        let no_body = Observation {
            response_time_ms: Some(1500.0),
            is_online: true,
            ..Observation::default()
        };
        assert_eq!(first_match(&list, &no_body), None);
    }

    #[test]
    fn shapes_are_checked() {
        let s = Uuid::nil();
        for (bad, says) in [
            (
                serde_json::json!([{"name": "x", "match": "all", "status_id": s, "filters": []}]),
                "1 to 20 filters",
            ),
            (
                serde_json::json!([{"name": "x", "match": "all", "status_id": s,
                    "filters": [{"check": "is_online", "op": "gt", "value": 1}]}]),
                "is_true or is_false",
            ),
            (
                serde_json::json!([{"name": "x", "match": "all", "status_id": s,
                    "filters": [{"check": "status_code", "op": "eq", "value": "200"}]}]),
                "a number",
            ),
            (
                serde_json::json!([
                    {"name": "x", "match": "all", "status_id": s,
                        "filters": [{"check": "is_online", "op": "is_true"}]},
                    {"name": "x", "match": "all", "status_id": s,
                        "filters": [{"check": "is_online", "op": "is_true"}]}]),
                "used twice",
            ),
        ] {
            let p = problem(&criteria(bad)).unwrap();
            assert!(p.contains(says), "{p}");
        }
    }
}
