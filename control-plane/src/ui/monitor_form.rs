//! The monitor form, for a new monitor and for changes: what was typed (kept to show the form
//! again), turned into the API's `NewMonitor` / `MonitorChange` so the same rules judge it.
//! The criteria editor's part is `monitor_criteria_form.rs`.

use uuid::Uuid;

use super::monitor_criteria_form::{CriterionDraft, criteria_of, criterion_field, with_blank_rows};
use crate::api::monitors::{Monitor, MonitorChange, NewMonitor};
use crate::error::ApiError;
use crate::monitor::MonitorKind;

/// The whole form as typed.
#[derive(Debug, Clone, Default)]
pub(super) struct MonitorDraft {
    pub(super) name: String,
    pub(super) url: String,
    pub(super) method: String,
    pub(super) headers: String,
    pub(super) body: String,
    pub(super) follow_redirects: bool,
    pub(super) allow_self_signed: bool,
    pub(super) host: String,
    pub(super) port: String,
    pub(super) count: String,
    pub(super) dns_name: String,
    pub(super) record_type: String,
    pub(super) resolver: String,
    /// Logs and traces monitors: the search; metrics monitors: the metric and service.
    pub(super) query: String,
    pub(super) metric: String,
    pub(super) service: String,
    pub(super) measure: String,
    pub(super) window_secs: String,
    pub(super) interval_secs: String,
    pub(super) timeout_ms: String,
    pub(super) retries: String,
    pub(super) agreement: String,
    pub(super) enabled: bool,
    pub(super) probes: Vec<Uuid>,
    /// Whether the form carried the criteria editor (a new monitor may leave it for the
    /// defaults).
    pub(super) custom_criteria: bool,
    pub(super) criteria: Vec<CriterionDraft>,
}

fn text(v: &serde_json::Value, key: &str) -> String {
    match v.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

impl MonitorDraft {
    /// A new monitor's form: the API's defaults.
    pub(super) fn new_monitor() -> Self {
        Self {
            follow_redirects: true,
            enabled: true,
            method: "GET".into(),
            count: "3".into(),
            record_type: "A".into(),
            window_secs: "300".into(),
            interval_secs: "60".into(),
            timeout_ms: "10000".into(),
            retries: "0".into(),
            agreement: "1".into(),
            ..Self::default()
        }
    }

    /// The form of an existing monitor.
    pub(super) fn of(m: &Monitor) -> Self {
        let s = &m.settings;
        let headers = s
            .get("headers")
            .and_then(|h| h.as_object())
            .map(|h| {
                h.iter()
                    .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        Self {
            name: m.name.clone(),
            url: text(s, "url"),
            method: text(s, "method"),
            headers,
            body: text(s, "body"),
            follow_redirects: s.get("follow_redirects").and_then(|v| v.as_bool()) != Some(false),
            allow_self_signed: s.get("allow_self_signed").and_then(|v| v.as_bool()) == Some(true),
            host: text(s, "host"),
            port: text(s, "port"),
            count: text(s, "count"),
            dns_name: text(s, "name"),
            record_type: text(s, "record_type"),
            resolver: text(s, "resolver"),
            query: text(s, "query"),
            metric: text(s, "metric"),
            service: text(s, "service"),
            measure: text(s, "measure"),
            window_secs: text(s, "window_secs"),
            interval_secs: m.interval_secs.to_string(),
            timeout_ms: m.timeout_ms.to_string(),
            retries: m.retries.to_string(),
            agreement: m.min_probe_agreement.to_string(),
            enabled: m.enabled,
            probes: m.probe_ids.clone(),
            custom_criteria: true,
            criteria: m.criteria.iter().map(CriterionDraft::of).collect(),
        }
    }

    /// What a posted form says. Fields are `name=value` pairs; criteria are `c<i>.<field>`
    /// and their filters `c<i>.f<j>.<field>`.
    pub(super) fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut d = Self::default();
        for (key, value) in pairs {
            let v = value.clone();
            match key.as_str() {
                "name" => d.name = v,
                "url" => d.url = v,
                "method" => d.method = v,
                "headers" => d.headers = v,
                "body" => d.body = v,
                "follow_redirects" => d.follow_redirects = true,
                "allow_self_signed" => d.allow_self_signed = true,
                "host" => d.host = v,
                "port" => d.port = v,
                "count" => d.count = v,
                "dns_name" => d.dns_name = v,
                "record_type" => d.record_type = v,
                "resolver" => d.resolver = v,
                "query" => d.query = v,
                "metric" => d.metric = v,
                "service" => d.service = v,
                "measure" => d.measure = v,
                "window_secs" => d.window_secs = v,
                "interval_secs" => d.interval_secs = v,
                "timeout_ms" => d.timeout_ms = v,
                "retries" => d.retries = v,
                "min_probe_agreement" => d.agreement = v,
                "enabled" => d.enabled = true,
                "probe" => d.probes.extend(v.parse::<Uuid>().ok()),
                "custom_criteria" => d.custom_criteria = true,
                other => criterion_field(&mut d.criteria, other, v),
            }
        }
        d
    }

    /// The rows the form shows: every criterion plus a blank one, each with two blank
    /// filter rows, so a criterion or filter can be added without JavaScript.
    pub(super) fn with_blank_rows(mut self) -> Self {
        self.criteria = with_blank_rows(self.criteria);
        self
    }

    /// The monitor's settings for `kind`, as the API takes them.
    fn settings(&self, kind: MonitorKind) -> Result<serde_json::Value, ApiError> {
        use serde_json::{Map, Value, json};
        let port = || -> Result<Option<u16>, ApiError> {
            match self.port.trim() {
                "" => Ok(None),
                p => p
                    .parse()
                    .map(Some)
                    .map_err(|_| ApiError::BadRequest("settings: port is 1 to 65535".into())),
            }
        };
        Ok(match kind {
            MonitorKind::Http => json!({
                "url": self.url.trim(),
                "follow_redirects": self.follow_redirects,
                "allow_self_signed": self.allow_self_signed,
            }),
            MonitorKind::Api => {
                let mut headers = Map::new();
                for line in self.headers.lines().filter(|l| !l.trim().is_empty()) {
                    let (k, v) = line.split_once(':').ok_or_else(|| {
                        ApiError::BadRequest(
                            "settings: write one header per line as `Name: value`".into(),
                        )
                    })?;
                    headers.insert(k.trim().to_owned(), Value::String(v.trim().to_owned()));
                }
                let mut s = json!({
                    "url": self.url.trim(),
                    "method": self.method.trim(),
                    "headers": headers,
                    "follow_redirects": self.follow_redirects,
                    "allow_self_signed": self.allow_self_signed,
                });
                if !self.body.is_empty() {
                    s["body"] = Value::String(self.body.clone());
                }
                s
            }
            MonitorKind::Tcp | MonitorKind::Ssl => {
                let mut s = json!({ "host": self.host.trim() });
                if let Some(p) = port()? {
                    s["port"] = json!(p);
                }
                s
            }
            MonitorKind::Ping => {
                let count: u8 = match self.count.trim() {
                    "" => 3,
                    c => c
                        .parse()
                        .map_err(|_| ApiError::BadRequest("settings: count is 1 to 20".into()))?,
                };
                json!({ "host": self.host.trim(), "count": count })
            }
            MonitorKind::Dns => {
                let mut s = json!({
                    "name": self.dns_name.trim(),
                    "record_type": self.record_type.trim(),
                });
                if !self.resolver.trim().is_empty() {
                    s["resolver"] = Value::String(self.resolver.trim().to_owned());
                }
                s
            }
            MonitorKind::Heartbeat | MonitorKind::Server => json!({}),
            MonitorKind::Logs | MonitorKind::Traces | MonitorKind::Metrics => {
                let window: u32 = match self.window_secs.trim() {
                    "" => 300,
                    w => w.parse().map_err(|_| {
                        ApiError::BadRequest("settings: window_secs is 10 to 86400".into())
                    })?,
                };
                let mut s = json!({ "window_secs": window });
                if !self.measure.trim().is_empty() {
                    s["measure"] = json!(self.measure.trim());
                }
                if kind == MonitorKind::Metrics {
                    s["metric"] = json!(self.metric.trim());
                    if !self.service.trim().is_empty() {
                        s["service"] = json!(self.service.trim());
                    }
                } else {
                    s["query"] = json!(self.query.trim());
                }
                s
            }
        })
    }

    fn number(text: &str, field: &str) -> Result<Option<i32>, ApiError> {
        match text.trim() {
            "" => Ok(None),
            t => t
                .parse()
                .map(Some)
                .map_err(|_| ApiError::BadRequest(format!("{field}: not a whole number"))),
        }
    }

    /// A new monitor of `kind`, for the API's rules to judge.
    pub(super) fn to_new(&self, kind: MonitorKind) -> Result<NewMonitor, ApiError> {
        let criteria = criteria_of(&self.criteria)?;
        Ok(NewMonitor {
            name: self.name.clone(),
            kind,
            settings: self.settings(kind)?,
            interval_secs: Self::number(&self.interval_secs, "interval_secs")?,
            timeout_ms: Self::number(&self.timeout_ms, "timeout_ms")?,
            retries: Self::number(&self.retries, "retries")?,
            min_probe_agreement: Self::number(&self.agreement, "min_probe_agreement")?,
            // No criterion typed: the API's defaults (offline → incident).
            criteria: (self.custom_criteria && !criteria.is_empty()).then_some(criteria),
            default_status_id: None,
            enabled: Some(self.enabled),
            probe_ids: if kind.is_probed() {
                self.probes.clone()
            } else {
                Vec::new()
            },
        })
    }

    /// The changes to a monitor of `kind` that the form describes (every field).
    pub(super) fn to_change(&self, kind: MonitorKind) -> Result<MonitorChange, ApiError> {
        Ok(MonitorChange {
            name: Some(self.name.clone()),
            settings: Some(self.settings(kind)?),
            interval_secs: Self::number(&self.interval_secs, "interval_secs")?,
            timeout_ms: Self::number(&self.timeout_ms, "timeout_ms")?,
            retries: Self::number(&self.retries, "retries")?,
            min_probe_agreement: Self::number(&self.agreement, "min_probe_agreement")?,
            // A form without the editor (not ours) leaves the criteria as they are.
            criteria: match self.custom_criteria {
                true => Some(criteria_of(&self.criteria)?),
                false => None,
            },
            default_status_id: None,
            enabled: Some(self.enabled),
            probe_ids: Some(if kind.is_probed() {
                self.probes.clone()
            } else {
                Vec::new()
            }),
        })
    }
}

/// Which part of the form an API refusal is about, so the message shows next to it.
pub(super) fn field_of(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("criterion ") {
        let index: String = rest.chars().take_while(char::is_ascii_digit).collect();
        return format!("c{index}");
    }
    let field = if message.starts_with("a name") {
        "name"
    } else if message.starts_with("settings") {
        "settings"
    } else if message.starts_with("interval")
        || message.starts_with("timeout")
        || message.starts_with("retries")
    {
        "timing"
    } else if message.contains("probe") {
        "probes"
    } else if message.contains("criteria") || message.contains("status") {
        "c0"
    } else {
        "form"
    };
    field.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::criteria::{FilterValue, Matching};

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_posted_form_becomes_the_apis_monitor_with_ordered_criteria() {
        let status = Uuid::new_v4();
        let severity = Uuid::new_v4();
        let draft = MonitorDraft::from_pairs(&pairs(&[
            ("name", "Shop"),
            ("url", " https://shop.test/health "),
            ("follow_redirects", "on"),
            ("interval_secs", "30"),
            ("enabled", "on"),
            ("custom_criteria", "1"),
            ("c0.name", "Slow"),
            ("c0.match", "all"),
            ("c0.status", &status.to_string()),
            ("c0.f0.check", "response_time_ms"),
            ("c0.f0.op", "gt"),
            ("c0.f0.value", "250"),
            ("c0.f1.check", ""),
            ("c1.name", "Down"),
            ("c1.match", "any"),
            ("c1.status", &status.to_string()),
            ("c1.incident", "on"),
            ("c1.incident_title", "Shop down"),
            ("c1.severity", &severity.to_string()),
            ("c1.f0.check", "is_online"),
            ("c1.f0.op", "is_false"),
            ("c2.name", ""),
        ]));
        let new = draft.to_new(MonitorKind::Http).unwrap();
        assert_eq!(new.settings["url"], "https://shop.test/health");
        assert_eq!(new.interval_secs, Some(30));
        let criteria = new.criteria.unwrap();
        assert_eq!(criteria.len(), 2);
        assert_eq!(criteria[0].name, "Slow");
        assert_eq!(
            criteria[0].filters[0].value,
            Some(FilterValue::Number(250.0))
        );
        assert_eq!(criteria[1].matching, Matching::Any);
        let incident = criteria[1].incident.as_ref().unwrap();
        assert_eq!(incident.severity_id, severity);
        assert!(!incident.auto_resolve);
        assert_eq!(criteria[1].filters[0].value, None);
    }

    #[test]
    fn bad_values_name_their_field() {
        let draft = MonitorDraft::from_pairs(&pairs(&[
            ("custom_criteria", "1"),
            ("c0.name", "Slow"),
            ("c0.status", "nope"),
        ]));
        let e = draft.to_new(MonitorKind::Http).unwrap_err().to_string();
        assert_eq!(field_of(&e), "c0");
        let draft = MonitorDraft::from_pairs(&pairs(&[("port", "99999")]));
        let e = draft.to_new(MonitorKind::Tcp).unwrap_err().to_string();
        assert_eq!(field_of(&e), "settings");
        assert_eq!(field_of("a name needs 1 to 100 characters"), "name");
        assert_eq!(
            field_of("interval_secs is 10 to 86400, … min_probe_agreement 1 to 100"),
            "timing"
        );
        assert_eq!(
            field_of("min_probe_agreement cannot exceed the number of probes assigned"),
            "probes"
        );
        let forged = MonitorDraft::from_pairs(&pairs(&[("c999999.name", "x")]));
        assert!(forged.criteria.is_empty());
    }

    #[test]
    fn the_form_always_offers_a_blank_criterion_and_filter_rows() {
        let d = MonitorDraft::new_monitor().with_blank_rows();
        assert_eq!(d.criteria.len(), 1);
        assert_eq!(d.criteria[0].filters.len(), 2);
    }
}
