//! `vigil-probe` settings: environment variables (`VIGIL_PROBE_*`), each with a default but
//! the key.

use std::time::Duration;

use crate::error::ProbeError;

/// What the probe needs.
#[derive(Clone)]
pub struct Config {
    /// The probe's key, from its registration (`VIGIL_PROBE_KEY`).
    pub key: String,
    /// The control plane's API (`VIGIL_PROBE_CONTROL_URL`, default `http://127.0.0.1:8080`).
    pub control_url: String,
    /// The ingest engine's gRPC listener (`VIGIL_PROBE_INGEST_URL`, default
    /// `http://127.0.0.1:4317`).
    pub ingest_url: String,
    /// Checks running at once (`VIGIL_PROBE_CONCURRENCY`, default 512).
    pub concurrency: usize,
    /// Results held while the engine cannot be reached (`VIGIL_PROBE_BUFFER`, default 100000);
    /// beyond it results are dropped and counted.
    pub buffer: usize,
    /// Results per batch (`VIGIL_PROBE_BATCH`, default 1000).
    pub batch: usize,
    /// Longest wait before a partial batch is sent.
    pub flush_every: Duration,
    /// Timeout of each call to the control plane or the engine.
    pub call_timeout: Duration,
    /// How long an assignment poll waits for a change, seconds (under the API's limit).
    pub poll_wait_secs: u64,
    /// CA certificates trusted besides the webpki roots (PEM, `VIGIL_PROBE_CA_FILE`): for
    /// services inside a network with its own CA, and for Vigil's own TLS edge when its
    /// certificate comes from a private CA (`https://` control and ingest URLs).
    pub extra_ca: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// Response bytes kept for criteria (`VIGIL_PROBE_BODY_LIMIT`, default 65536).
    pub body_limit: usize,
    /// Where `/metrics` is served (`VIGIL_PROBE_METRICS_ADDR`, default `127.0.0.1:9465`;
    /// `off` serves nothing).
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Consecutive refusals of the key by the control plane before the probe exits with an
    /// error (`VIGIL_PROBE_MAX_KEY_REFUSALS`, default 8: about a minute of backoff).
    pub max_key_refusals: u32,
}

/// What `vigil-probe --help` prints.
pub const USAGE: &str = "\
vigil-probe: checks the monitors assigned to this probe and reports the results to Vigil.

Usage: vigil-probe [--help | --version]

Configured by environment variables:
  VIGIL_PROBE_KEY               the probe's key, shown once when it was registered (required)
  VIGIL_PROBE_CONTROL_URL       the control plane's API (http://127.0.0.1:8080; https:// through a TLS edge)
  VIGIL_PROBE_INGEST_URL        the ingest engine's gRPC listener (http://127.0.0.1:4317; https:// likewise)
  VIGIL_PROBE_CONCURRENCY       checks running at once (512)
  VIGIL_PROBE_BUFFER            results held while the engine is away (100000)
  VIGIL_PROBE_BATCH             results per batch (1000)
  VIGIL_PROBE_BODY_LIMIT        response bytes kept for criteria (65536)
  VIGIL_PROBE_CA_FILE           extra CA certificates to trust (PEM), for checks and for Vigil's edge
  VIGIL_PROBE_METRICS_ADDR      where /metrics is served (127.0.0.1:9465; off)
  VIGIL_PROBE_MAX_KEY_REFUSALS  key refusals in a row before exiting (8)
  VIGIL_LOG                     log filter (info)
";

impl std::fmt::Debug for Config {
    // The key is a secret: never logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("control_url", &self.control_url)
            .field("ingest_url", &self.ingest_url)
            .field("concurrency", &self.concurrency)
            .field("buffer", &self.buffer)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A configuration with `key` and the defaults.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            control_url: "http://127.0.0.1:8080".into(),
            ingest_url: "http://127.0.0.1:4317".into(),
            concurrency: 512,
            buffer: 100_000,
            batch: 1_000,
            flush_every: Duration::from_millis(500),
            call_timeout: Duration::from_secs(10),
            poll_wait_secs: 20,
            extra_ca: Vec::new(),
            body_limit: 64 << 10,
            metrics_addr: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9465))),
            max_key_refusals: 8,
        }
    }

    /// From the environment; the key is required. Every invalid variable is reported.
    pub fn from_env() -> Result<Self, ProbeError> {
        Self::from(settings::Env::process())
    }

    /// As [`Config::from_env`], from `env`.
    pub fn from(mut env: settings::Env<'_>) -> Result<Self, ProbeError> {
        let key = env
            .get("VIGIL_PROBE_KEY")
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_default();
        let mut config = Self::new(key.trim());
        if key.trim().is_empty() {
            env.problem("VIGIL_PROBE_KEY is required".into());
        }
        let nonblank = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        if let Some(url) = nonblank(env.get("VIGIL_PROBE_CONTROL_URL")) {
            config.control_url = url.trim().trim_end_matches('/').to_owned();
        }
        if let Some(url) = nonblank(env.get("VIGIL_PROBE_INGEST_URL")) {
            config.ingest_url = url.trim().trim_end_matches('/').to_owned();
        }
        for (name, url) in [
            ("VIGIL_PROBE_CONTROL_URL", &config.control_url),
            ("VIGIL_PROBE_INGEST_URL", &config.ingest_url),
        ] {
            let usable = url.parse::<http::Uri>().is_ok_and(|u| {
                matches!(u.scheme_str(), Some("http" | "https"))
                    && u.host().is_some_and(|h| !h.is_empty())
            });
            if !usable {
                env.problem(format!(
                    "{name} must be an http:// or https:// URL with a host, not {url:?}"
                ));
            }
        }
        for (name, slot) in [
            ("VIGIL_PROBE_CONCURRENCY", &mut config.concurrency),
            ("VIGIL_PROBE_BUFFER", &mut config.buffer),
            ("VIGIL_PROBE_BATCH", &mut config.batch),
            ("VIGIL_PROBE_BODY_LIMIT", &mut config.body_limit),
        ] {
            env.set(name, slot);
            if *slot == 0 {
                env.problem(format!("{name} must be a positive number"));
            }
        }
        env.set("VIGIL_PROBE_MAX_KEY_REFUSALS", &mut config.max_key_refusals);
        if config.max_key_refusals == 0 {
            env.problem("VIGIL_PROBE_MAX_KEY_REFUSALS must be a positive number".into());
        }
        env.with("VIGIL_PROBE_METRICS_ADDR", |addr| {
            config.metrics_addr = match addr.trim() {
                "" => return Ok(()),
                "off" => None,
                a => Some(
                    a.parse()
                        .map_err(|_| "must be host:port or off".to_owned())?,
                ),
            };
            Ok(())
        });
        if let Some(file) = nonblank(env.get("VIGIL_PROBE_CA_FILE")) {
            use rustls::pki_types::pem::PemObject;
            match rustls::pki_types::CertificateDer::pem_file_iter(file.trim())
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            {
                Ok(certs) => config.extra_ca = certs,
                Err(e) => env.problem(format!("VIGIL_PROBE_CA_FILE: {e}")),
            }
        }
        let problems = env.into_problems();
        if !problems.is_empty() {
            return Err(ProbeError::Config(problems.join("; ")));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn every_invalid_variable_is_reported_at_once() {
        let vars: HashMap<&str, &str> = [
            ("VIGIL_PROBE_CONCURRENCY", "0"),
            ("VIGIL_PROBE_BUFFER", "lots"),
            ("VIGIL_PROBE_METRICS_ADDR", "nowhere"),
            ("VIGIL_PROBE_INGEST_URL", "127.0.0.1:4317"),
        ]
        .into();
        let env = settings::Env::new(|n| vars.get(n).map(|v| v.to_string()));
        let Err(ProbeError::Config(problems)) = Config::from(env) else {
            panic!("invalid settings are refused");
        };
        for name in [
            "VIGIL_PROBE_KEY",
            "VIGIL_PROBE_CONCURRENCY",
            "VIGIL_PROBE_BUFFER",
            "VIGIL_PROBE_METRICS_ADDR",
            "VIGIL_PROBE_INGEST_URL",
        ] {
            assert!(problems.contains(name), "{name} missing: {problems}");
        }
        let vars: HashMap<&str, &str> = [
            ("VIGIL_PROBE_KEY", " vpk_x "),
            ("VIGIL_PROBE_METRICS_ADDR", "off"),
        ]
        .into();
        let env = settings::Env::new(|n| vars.get(n).map(|v| v.to_string()));
        let config = Config::from(env).unwrap();
        assert_eq!(config.key, "vpk_x");
        assert_eq!(config.metrics_addr, None);
    }
}
