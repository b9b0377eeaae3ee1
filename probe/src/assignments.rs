//! The probe's assignments: polled from the control plane (`GET /api/v1/probe/assignments`,
//! long-polling with the version held, so a change arrives within moments) and published on a
//! watch channel the scheduler follows. On errors the last assignments stay and the poll is
//! retried with backoff; a restart of either side only delays the next answer.

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::ProbeError;
use crate::link;

/// One monitor to check, as the control plane describes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Assignment {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub kind: String,
    pub settings: serde_json::Value,
    pub interval_secs: u64,
    pub timeout_ms: u64,
    pub retries: u32,
}

#[derive(Debug, Deserialize)]
struct Assignments {
    version: String,
    monitors: Vec<Assignment>,
}

/// Follows the assignments until `shutdown`, publishing each new set on `tx`. Gives up with
/// an error once the control plane refused the probe's key `config.max_key_refusals` times
/// in a row (a wrong or deleted key never starts working by itself).
pub async fn follow(
    config: Config,
    tls: rustls::ClientConfig,
    tx: watch::Sender<Vec<Assignment>>,
    shutdown: CancellationToken,
) -> Result<(), ProbeError> {
    let api = link::Api::new(tls, config.call_timeout);
    let base = format!("{}/api/v1/probe/assignments", config.control_url);
    let mut version: Option<String> = None;
    let mut backoff = Duration::from_millis(250);
    let mut refusals = 0u32;
    loop {
        let url = match &version {
            Some(v) => {
                let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair("version", v)
                    .append_pair("wait", &config.poll_wait_secs.to_string())
                    .finish();
                format!("{base}?{query}")
            }
            None => base.clone(),
        };
        let timeout = config.call_timeout + Duration::from_secs(config.poll_wait_secs);
        let answer = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            answer = api.get(&url, &config.key, timeout) => answer,
        };
        let result = match answer {
            Ok((status, _)) if matches!(status.as_u16(), 401 | 403) => {
                refusals += 1;
                let status = status.as_u16();
                if refusals >= config.max_key_refusals {
                    return Err(ProbeError::KeyRefused {
                        status,
                        gave_up: refusals,
                    });
                }
                Err(ProbeError::KeyRefused { status, gave_up: 0 })
            }
            Ok((status, body)) if status.is_success() => {
                serde_json::from_slice::<Assignments>(&body).map_err(|e| {
                    ProbeError::ControlPlane(format!("the assignments do not parse: {e}"))
                })
            }
            Ok((status, _)) => Err(ProbeError::ControlPlane(format!(
                "the control plane answered {status}"
            ))),
            Err(e) => Err(e),
        };
        match result {
            Ok(a) => {
                backoff = Duration::from_millis(250);
                refusals = 0;
                if version.as_deref() != Some(a.version.as_str()) {
                    tracing::info!(monitors = a.monitors.len(), version = %a.version, "assignments");
                    version = Some(a.version);
                    tx.send_replace(a.monitors);
                }
                continue;
            }
            Err(error) => tracing::warn!(%error, retry_in = ?backoff, "assignments not fetched"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}
