//! Probe results (`proto::probe`): a batch from one probe → one event per result for the
//! worker's `probe_result` stream (through the WAL like every event). Every field is checked
//! and bounded here; a batch with one bad result is refused whole, so a probe never has to
//! guess which of its results were kept.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;
use proto::observation::{FAILED_PHASES, Observation, ProbeResult};
use proto::probe::{CheckResult, MAX_BATCH_RESULTS, ResultBatch};
use serde_json::Value;

use crate::auth::ProbeRef;
use crate::engine::{Decoded, Engine, Item};
use crate::error::IngestError;
use crate::otlp::{DecodeError, now_unix_nano};
use crate::pipeline::Target;
use crate::wire::grpc;
use proto::events::{Event, MAX_CLOCK_SKEW_NANOS, field};

/// The longest response body kept (the probe bounds it first).
const MAX_BODY: usize = 64 << 10;
/// The longest `details_json`.
const MAX_DETAILS: usize = 64 << 10;

fn bad(message: String) -> DecodeError {
    DecodeError::new(message)
}

/// The result's JSON for the worker: the fields criteria test, `failed_phase` and `details`.
fn result_json(r: &CheckResult, i: usize) -> Result<Vec<u8>, DecodeError> {
    if r.status_code.is_some_and(|c| c > 999) {
        return Err(bad(format!("result {i}: status_code is at most 999")));
    }
    let details = if r.details_json.is_empty() {
        None
    } else {
        match serde_json::from_str(&r.details_json) {
            Ok(Value::Object(details)) => Some(details),
            Ok(_) => return Err(bad(format!("result {i}: details_json must be an object"))),
            Err(e) => return Err(bad(format!("result {i}: details_json is not JSON: {e}"))),
        }
    };
    // JSON has no NaN or infinity: such a number is left out, as if not measured.
    let number = |v: Option<f64>| v.filter(|n| n.is_finite());
    let result = ProbeResult {
        observation: Observation {
            is_online: r.is_online,
            is_timeout: r.is_timeout,
            response_time_ms: number(r.response_time_ms),
            status_code: r.status_code.and_then(|c| u16::try_from(c).ok()),
            body: r.body.clone(),
            error: r.error.clone(),
            certificate_expires_in_days: number(r.certificate_expires_in_days),
            certificate_self_signed: r.certificate_self_signed,
            certificate_valid: r.certificate_valid,
            packet_loss_percent: number(r.packet_loss_percent),
            jitter_ms: number(r.jitter_ms),
            dns_answers: r.dns_answers.clone(),
            ..Observation::default()
        },
        failed_phase: r.failed_phase.clone(),
        details,
    };
    serde_json::to_vec(&result).map_err(|e| bad(e.to_string()))
}

fn check(r: &CheckResult, i: usize) -> Result<(), DecodeError> {
    let short = |s: &str| !s.is_empty() && s.len() <= 64 && !s.chars().any(char::is_control);
    if !short(&r.id) || !short(&r.monitor_id) {
        return Err(bad(format!(
            "result {i}: id and monitor_id need 1 to 64 characters"
        )));
    }
    if r.body.as_ref().is_some_and(|b| b.len() > MAX_BODY)
        || r.details_json.len() > MAX_DETAILS
        || r.error.as_ref().is_some_and(|e| e.len() > 4096)
        || r.dns_answers
            .as_ref()
            .is_some_and(|d| d.len() > MAX_DETAILS)
    {
        return Err(bad(format!(
            "result {i}: body and details_json are at most 64 KiB, error 4 KiB"
        )));
    }
    if let Some(phase) = &r.failed_phase
        && !FAILED_PHASES.contains(&phase.as_str())
    {
        return Err(bad(format!(
            "result {i}: failed_phase is one of {}",
            FAILED_PHASES.join(", ")
        )));
    }
    Ok(())
}

/// Decodes a batch from `probe`, received at `now` (ns), into events.
pub(crate) fn encode(message: &[u8], probe: &ProbeRef, now: u64) -> Result<Vec<Item>, DecodeError> {
    let batch = <ResultBatch as prost::Message>::decode(message)
        .map_err(|e| bad(format!("invalid ResultBatch: {e}")))?;
    if batch.results.len() > MAX_BATCH_RESULTS {
        return Err(bad(format!(
            "at most {MAX_BATCH_RESULTS} results per batch"
        )));
    }
    let mut items = Vec::with_capacity(batch.results.len());
    for (i, r) in batch.results.iter().enumerate() {
        check(r, i)?;
        let result = result_json(r, i)?;
        // A result from the future (a wrong clock, a hostile probe) would move its monitor's
        // state ahead of every real result: it takes the receive time instead.
        let checked_at = if r.checked_at_unix_nano == 0
            || r.checked_at_unix_nano > now.saturating_add(MAX_CLOCK_SKEW_NANOS)
        {
            now
        } else {
            r.checked_at_unix_nano
        };
        // Ids are the probe's: scoped by probe, they cannot collide with another's.
        let id = format!("{}:{}", probe.probe, r.id);
        let mut event = Event::with_id(&id, &probe.project, &r.monitor_id, now);
        event
            .field(field::PROBE_ID, probe.probe.as_bytes())
            .field(
                field::CHECKED_AT_UNIX_NANO,
                itoa::Buffer::new().format(checked_at).as_bytes(),
            )
            .field(field::RESULT, &result);
        items.push(Item::event(Target::ProbeResultEvents, event.finish()));
    }
    Ok(items)
}

/// `ProbeResults/Report` over gRPC: a batch of results, authenticated by the probe's key and
/// answered once every result is in the WAL as an event for the worker.
pub(crate) async fn report(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(refused) = grpc::not_grpc(&headers) {
        return refused;
    }
    let result = async {
        engine.keys_loaded()?;
        let probe = engine
            .keys
            .probe(&headers)
            .ok_or(IngestError::Unauthenticated)?;
        if !engine.pipeline.accepts(Target::ProbeResultEvents) {
            // Events are off (no Redis): the results would reach no worker.
            tracing::warn!("probe results refused: redis.url is empty, so events are off");
            return Err(IngestError::StorageUnavailable {
                retry_after: Duration::from_secs(30),
            });
        }
        let limit = engine.limits.max_body_bytes;
        let timeout = Duration::from_millis(engine.limits.request_timeout_ms);
        let (message, encoding) = grpc::message(&headers, body, limit, timeout).await?;
        let stored = engine
            .ingest("probe_results", message, encoding, limit, move |raw| {
                Ok(Decoded {
                    items: encode(raw, &probe, now_unix_nano())?,
                    ..Decoded::default()
                })
            })
            .await?;
        let accepted = u32::try_from(stored.items).unwrap_or(u32::MAX);
        Ok(prost::Message::encode_to_vec(&proto::probe::ReportReply {
            accepted,
        }))
    }
    .await;
    grpc::reply(engine.conclude("probe_results", "grpc", result))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use prost::Message;

    use super::*;

    fn probe() -> ProbeRef {
        ProbeRef {
            project: Arc::from("p1"),
            probe: Arc::from("probe-1"),
        }
    }

    fn result(id: &str) -> CheckResult {
        CheckResult {
            id: id.into(),
            monitor_id: "m1".into(),
            checked_at_unix_nano: 42,
            is_online: true,
            status_code: Some(200),
            response_time_ms: Some(12.5),
            details_json: r#"{"timings": {"dns_ms": 1.5}}"#.into(),
            ..CheckResult::default()
        }
    }

    #[test]
    fn a_batch_becomes_one_event_per_result_with_the_probes_ids() {
        let batch = ResultBatch {
            results: vec![result("a"), result("b")],
        };
        let items = encode(&batch.encode_to_vec(), &probe(), 7).unwrap();
        assert_eq!(items.len(), 2);
        let fields = proto::events::fields(&items[0].data).unwrap();
        let get = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| *n == name.as_bytes())
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                .unwrap()
        };
        assert_eq!(get("event_id"), "probe-1:a");
        assert_eq!(get("project_id"), "p1");
        assert_eq!(get("monitor_id"), "m1");
        assert_eq!(get("probe_id"), "probe-1");
        assert_eq!(get("checked_at_unix_nano"), "42");
        let result: Value = serde_json::from_str(&get("result")).unwrap();
        assert_eq!(result["status_code"], 200);
        assert_eq!(result["details"]["timings"]["dns_ms"], 1.5);
        assert!(result.get("error").is_none());
    }

    #[test]
    fn results_from_the_future_take_the_receive_time() {
        let now = 1_700_000_000_000_000_000;
        let batch = ResultBatch {
            results: vec![
                CheckResult {
                    checked_at_unix_nano: u64::MAX >> 1,
                    ..result("future")
                },
                CheckResult {
                    checked_at_unix_nano: now + 30_000_000_000,
                    ..result("skewed")
                },
            ],
        };
        let items = encode(&batch.encode_to_vec(), &probe(), now).unwrap();
        let checked_at = |i: usize| {
            let fields = proto::events::fields(&items[i].data).unwrap();
            let (_, v) = fields
                .into_iter()
                .find(|(n, _)| *n == b"checked_at_unix_nano")
                .unwrap();
            String::from_utf8_lossy(v).parse::<u64>().unwrap()
        };
        assert_eq!(checked_at(0), now);
        assert_eq!(checked_at(1), now + 30_000_000_000);
    }

    #[test]
    fn one_bad_result_refuses_the_batch() {
        for broken in [
            CheckResult {
                id: String::new(),
                ..result("x")
            },
            CheckResult {
                failed_phase: Some("lunch".into()),
                ..result("x")
            },
            CheckResult {
                details_json: "[1]".into(),
                ..result("x")
            },
            CheckResult {
                body: Some("x".repeat(MAX_BODY + 1)),
                ..result("x")
            },
        ] {
            let batch = ResultBatch {
                results: vec![result("ok"), broken],
            };
            assert!(encode(&batch.encode_to_vec(), &probe(), 7).is_err());
        }
        assert!(encode(b"\xff\xff", &probe(), 7).is_err());
    }
}
