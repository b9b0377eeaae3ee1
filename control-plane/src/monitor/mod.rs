//! Monitors as the domain knows them: their kinds, what each kind checks (its settings), their
//! criteria and the results criteria look at. The API stores them; the worker evaluates them.

pub mod criteria;
pub(crate) mod telemetry;

/// The results criteria look at: the contract with the probes and the engine, in `proto`.
pub use proto::observation;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a monitor watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MonitorKind {
    /// A website: GET a URL.
    Http,
    /// An API: a URL with a method, headers and a body.
    Api,
    /// A TCP port accepts connections.
    Tcp,
    /// ICMP echo.
    Ping,
    /// A DNS query.
    Dns,
    /// A TLS certificate.
    Ssl,
    /// Incoming requests (cron jobs, webhooks) sent to `/heartbeat/<key>`.
    Heartbeat,
    /// A server agent's reports.
    Server,
    /// A logs search measured over a window (`TelemetrySettings`).
    Logs,
    /// A span search measured over a window: count, error rate, durations.
    Traces,
    /// A metric aggregated over a window.
    Metrics,
}

impl MonitorKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MonitorKind::Http => "http",
            MonitorKind::Api => "api",
            MonitorKind::Tcp => "tcp",
            MonitorKind::Ping => "ping",
            MonitorKind::Dns => "dns",
            MonitorKind::Ssl => "ssl",
            MonitorKind::Heartbeat => "heartbeat",
            MonitorKind::Server => "server",
            MonitorKind::Logs => "logs",
            MonitorKind::Traces => "traces",
            MonitorKind::Metrics => "metrics",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }

    /// Whether results are pushed to Vigil (with the monitor's key) instead of checked by probes.
    pub(crate) fn is_push(self) -> bool {
        matches!(self, MonitorKind::Heartbeat | MonitorKind::Server)
    }

    /// Whether the worker measures the monitor in the stored telemetry.
    pub(crate) fn is_telemetry(self) -> bool {
        matches!(
            self,
            MonitorKind::Logs | MonitorKind::Traces | MonitorKind::Metrics
        )
    }

    /// Whether probes check the monitor.
    pub(crate) fn is_probed(self) -> bool {
        !self.is_push() && !self.is_telemetry()
    }
}

/// Settings of `http` and `api` monitors (`http` takes only `url` and the two flags).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct HttpSettings {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default = "yes")]
    follow_redirects: bool,
    #[serde(default)]
    allow_self_signed: bool,
}

fn yes() -> bool {
    true
}

/// Settings of `tcp` (port required) and `ssl` (port 443 by default) monitors.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct HostPort {
    host: String,
    #[serde(default)]
    port: Option<u16>,
}

/// Settings of `ping` monitors: echo requests per check (default 3).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PingSettings {
    host: String,
    #[serde(default = "three")]
    count: u8,
}

fn three() -> u8 {
    3
}

/// Settings of `dns` monitors.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DnsSettings {
    name: String,
    record_type: String,
    /// `host` or `host:port`; absent: the probe's resolver.
    #[serde(default)]
    resolver: Option<String>,
}

/// `heartbeat` and `server` monitors take no settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NoSettings {}

/// The OpenAPI schema of a monitor's `settings`: one schema per kind (the kind field says
/// which applies; `check_settings` enforces it).
pub(crate) fn settings_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::PartialSchema;
    let any_of = utoipa::openapi::schema::AnyOfBuilder::new()
        .description(Some(
            "Settings of the monitor's kind: http and api (HttpSettings), tcp and ssl \
             (HostPort), ping (PingSettings), dns (DnsSettings), logs, traces and metrics \
             (TelemetrySettings); heartbeat and server take none ({}).",
        ))
        .item(HttpSettings::schema())
        .item(HostPort::schema())
        .item(PingSettings::schema())
        .item(DnsSettings::schema())
        .item(telemetry::TelemetrySettings::schema())
        .item(NoSettings::schema())
        .build();
    utoipa::openapi::schema::Schema::AnyOf(any_of)
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const RECORD_TYPES: [&str; 10] = [
    "A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "PTR", "SRV", "CAA",
];

fn host_problem(host: &str) -> Option<String> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && !host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "/?#@".contains(c));
    (!ok).then(|| "a host is a name or address of 1 to 253 characters".into())
}

fn url_problem(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest) if url.len() <= 2048 && !url.chars().any(char::is_whitespace) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            (host.is_empty()).then(|| "the URL has no host".into())
        }
        _ => Some("url must be an http:// or https:// URL of at most 2048 characters".into()),
    }
}

/// Why a monitor's settings were refused (the API answers 400 with it).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SettingsError(pub(crate) String);

/// Checks `settings` for `kind` and returns them normalised (defaults filled in).
pub(crate) fn check_settings(
    kind: MonitorKind,
    settings: serde_json::Value,
) -> Result<serde_json::Value, SettingsError> {
    fn parse<T: for<'de> Deserialize<'de>>(v: serde_json::Value) -> Result<T, SettingsError> {
        serde_json::from_value(v).map_err(|e| SettingsError(format!("settings: {e}")))
    }
    fn back<T: Serialize>(t: &T) -> Result<serde_json::Value, SettingsError> {
        serde_json::to_value(t).map_err(|e| SettingsError(e.to_string()))
    }
    let settings = if settings.is_null() {
        serde_json::json!({})
    } else {
        settings
    };
    let problem =
        |p: Option<String>| p.map_or(Ok(()), |p| Err(SettingsError(format!("settings: {p}"))));
    match kind {
        MonitorKind::Http | MonitorKind::Api => {
            let mut s: HttpSettings = parse(settings)?;
            problem(url_problem(&s.url))?;
            if kind == MonitorKind::Http
                && (s.method.is_some() || !s.headers.is_empty() || s.body.is_some())
            {
                return Err(SettingsError(
                    "settings: method, headers and body belong to api monitors; http monitors GET"
                        .into(),
                ));
            }
            let method = s.method.get_or_insert_with(|| "GET".into());
            *method = method.to_ascii_uppercase();
            if !METHODS.contains(&method.as_str()) {
                return Err(SettingsError(format!(
                    "settings: method is one of {}",
                    METHODS.join(", ")
                )));
            }
            let headers_ok = s.headers.len() <= 50
                && s.headers.iter().all(|(k, v)| {
                    http::HeaderName::from_bytes(k.as_bytes()).is_ok()
                        && http::HeaderValue::from_str(v).is_ok()
                        && k.len() + v.len() <= 8192
                });
            if !headers_ok {
                return Err(SettingsError(
                    "settings: at most 50 valid headers of at most 8 KiB each".into(),
                ));
            }
            if s.body.as_ref().is_some_and(|b| b.len() > 64 << 10) {
                return Err(SettingsError("settings: the body is at most 64 KiB".into()));
            }
            back(&s)
        }
        MonitorKind::Tcp | MonitorKind::Ssl => {
            let mut s: HostPort = parse(settings)?;
            problem(host_problem(&s.host))?;
            match (kind, s.port) {
                (_, Some(0)) | (MonitorKind::Tcp, None) => {
                    return Err(SettingsError("settings: port is 1 to 65535".into()));
                }
                (MonitorKind::Ssl, None) => s.port = Some(443),
                _ => {}
            }
            back(&s)
        }
        MonitorKind::Ping => {
            let s: PingSettings = parse(settings)?;
            problem(host_problem(&s.host))?;
            if !(1..=20).contains(&s.count) {
                return Err(SettingsError("settings: count is 1 to 20".into()));
            }
            back(&s)
        }
        MonitorKind::Dns => {
            let mut s: DnsSettings = parse(settings)?;
            problem(host_problem(&s.name))?;
            s.record_type = s.record_type.to_ascii_uppercase();
            if !RECORD_TYPES.contains(&s.record_type.as_str()) {
                return Err(SettingsError(format!(
                    "settings: record_type is one of {}",
                    RECORD_TYPES.join(", ")
                )));
            }
            if let Some(r) = &s.resolver {
                problem(host_problem(r))?;
            }
            back(&s)
        }
        MonitorKind::Heartbeat | MonitorKind::Server => {
            let s: NoSettings = parse(settings)?;
            back(&s)
        }
        MonitorKind::Logs | MonitorKind::Traces | MonitorKind::Metrics => {
            let s: telemetry::TelemetrySettings = parse(settings)?;
            back(&s.check(kind)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_are_checked_per_kind_and_defaults_filled() {
        let s = check_settings(MonitorKind::Http, json!({"url": "https://example.com/x"})).unwrap();
        assert_eq!(s["method"], "GET");
        assert_eq!(s["follow_redirects"], true);
        let s = check_settings(
            MonitorKind::Api,
            json!({"url": "http://a:8080", "method": "post", "headers": {"x-a": "1"}, "body": "{}"}),
        )
        .unwrap();
        assert_eq!(s["method"], "POST");
        assert_eq!(
            check_settings(MonitorKind::Ssl, json!({"host": "a.test"})).unwrap()["port"],
            443
        );
        for (kind, bad) in [
            (MonitorKind::Http, json!({"url": "ftp://x"})),
            (
                MonitorKind::Http,
                json!({"url": "https://x", "method": "POST"}),
            ),
            (MonitorKind::Http, json!({"url": "https:///path"})),
            (
                MonitorKind::Api,
                json!({"url": "https://x", "method": "BREW"}),
            ),
            (MonitorKind::Tcp, json!({"host": "a"})),
            (MonitorKind::Tcp, json!({"host": "a b", "port": 1})),
            (MonitorKind::Ping, json!({"host": "a", "count": 0})),
            (MonitorKind::Dns, json!({"name": "a", "record_type": "XX"})),
            (MonitorKind::Heartbeat, json!({"url": "https://x"})),
            (
                MonitorKind::Tcp,
                json!({"host": "a", "port": 1, "extra": 1}),
            ),
        ] {
            assert!(check_settings(kind, bad.clone()).is_err(), "{bad}");
        }
    }
}
