//! Stream entries as monitor results: the fields the ingest engine (and, for probe results,
//! the probe protocol) puts in each Redis stream entry, read into one [`MonitorResult`].
//! ARCHITECTURE.md lists the fields of each stream.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use redis::Value;
use serde_json::json;
use uuid::Uuid;

use proto::events::{self, field};
use proto::observation::{Observation, ProbeResult};

pub(crate) use proto::events::StreamKind;

/// Where a result came from (the `source` column of `monitor_results`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Probe,
    Heartbeat,
    Server,
    /// The worker found a push monitor's pushes overdue.
    Missing,
    /// The worker measured a logs, traces or metrics monitor.
    Telemetry,
}

impl Source {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Source::Probe => "probe",
            Source::Heartbeat => "heartbeat",
            Source::Server => "server",
            Source::Missing => "missing",
            Source::Telemetry => "telemetry",
        }
    }

    /// Whether the result is a push (it moves `last_push_at`).
    pub(crate) fn is_push(self) -> bool {
        matches!(self, Source::Heartbeat | Source::Server)
    }
}

/// One result to evaluate.
#[derive(Debug, Clone)]
pub(crate) struct MonitorResult {
    /// The deduplication key: replays of an entry carry the same id.
    pub event_id: String,
    pub project_id: Uuid,
    pub monitor_id: Uuid,
    pub probe_id: Option<Uuid>,
    pub at: DateTime<Utc>,
    pub source: Source,
    pub observation: Observation,
    /// Extra detail stored with the row (JSON), beside the observation.
    pub detail: serde_json::Value,
}

/// How far after its receipt a probe may date a check; the engine applies the same bound.
const MAX_CLOCK_SKEW: chrono::TimeDelta =
    chrono::TimeDelta::nanoseconds(events::MAX_CLOCK_SKEW_NANOS as i64);

/// The longest body kept for criteria (`response_body` filters) and the stored row.
const MAX_BODY: usize = 64 << 10;

fn text<'a>(fields: &'a HashMap<String, Value>, name: &str) -> Option<&'a [u8]> {
    match fields.get(name)? {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn required<'a>(fields: &'a HashMap<String, Value>, name: &str) -> Result<&'a str, EntryError> {
    let bytes = text(fields, name).ok_or_else(|| EntryError(format!("field {name} is missing")))?;
    std::str::from_utf8(bytes).map_err(|_| EntryError(format!("field {name} is not UTF-8")))
}

fn uuid(fields: &HashMap<String, Value>, name: &str) -> Result<Uuid, EntryError> {
    required(fields, name)?
        .parse()
        .map_err(|_| EntryError(format!("field {name} is not a UUID")))
}

fn nanos(fields: &HashMap<String, Value>, name: &str) -> Result<DateTime<Utc>, EntryError> {
    let n: i64 = required(fields, name)?
        .parse()
        .map_err(|_| EntryError(format!("field {name} is not a number")))?;
    Ok(DateTime::from_timestamp_nanos(n))
}

fn lossy(bytes: &[u8], max: usize) -> String {
    let cut = &bytes[..bytes.len().min(max)];
    String::from_utf8_lossy(cut).into_owned()
}

/// Why a stream entry cannot be read (it is dead-lettered with this reason).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct EntryError(String);

/// Reads one entry of `kind`; the error says why it cannot be (the entry is dead-lettered).
pub(crate) fn parse(
    kind: StreamKind,
    fields: &HashMap<String, Value>,
) -> Result<MonitorResult, EntryError> {
    let event_id = required(fields, field::EVENT_ID)?.to_owned();
    if event_id.is_empty() || event_id.len() > 128 {
        return Err(EntryError("event_id must have 1 to 128 characters".into()));
    }
    let project_id = uuid(fields, field::PROJECT_ID)?;
    let monitor_id = uuid(fields, field::MONITOR_ID)?;
    let (source, at, probe_id, observation, detail) = match kind {
        StreamKind::ProbeResult => {
            let result = text(fields, field::RESULT)
                .ok_or_else(|| EntryError("field result is missing".into()))?;
            let result: ProbeResult = serde_json::from_slice(result)
                .map_err(|e| EntryError(format!("field result is not a result object: {e}")))?;
            // What criteria do not test (the failing phase, timings, certificate, records)
            // is kept beside the observation in the stored row.
            let mut detail = serde_json::Map::new();
            if let Some(phase) = result.failed_phase {
                detail.insert("failed_phase".into(), phase.into());
            }
            if let Some(details) = result.details {
                detail.insert("details".into(), details.into());
            }
            let observation = result.observation;
            // A check dated well after its receipt (a wrong clock, a hostile probe) takes the
            // receipt's time: a result cannot move its monitor into the future. Within the
            // skew the probe's own time stands, so that a replayed result keeps its time.
            let checked_at = nanos(fields, field::CHECKED_AT_UNIX_NANO)?;
            let at = match nanos(fields, field::RECEIVED_AT_UNIX_NANO) {
                Ok(received) if checked_at > received + MAX_CLOCK_SKEW => received,
                _ => checked_at,
            };
            let probe = uuid(fields, field::PROBE_ID)?;
            let detail = serde_json::Value::Object(detail);
            (Source::Probe, at, Some(probe), observation, detail)
        }
        StreamKind::IncomingRequest => {
            let at = nanos(fields, field::RECEIVED_AT_UNIX_NANO)?;
            let body = text(fields, field::BODY).map(|b| lossy(b, MAX_BODY));
            let method = required(fields, field::METHOD).unwrap_or("GET").to_owned();
            let observation = Observation {
                is_online: true,
                minutes_since_last_push: Some(0.0),
                body,
                ..Observation::default()
            };
            let source_addr = required(fields, field::SOURCE_ADDR)
                .unwrap_or("")
                .to_owned();
            let detail = json!({"method": method, "source_addr": source_addr});
            (Source::Heartbeat, at, None, observation, detail)
        }
        StreamKind::ServerReport => {
            let at = nanos(fields, field::RECEIVED_AT_UNIX_NANO)?;
            let report = text(fields, field::REPORT)
                .ok_or_else(|| EntryError("field report is missing".into()))?;
            let report: serde_json::Value = serde_json::from_slice(report)
                .map_err(|e| EntryError(format!("field report is not JSON: {e}")))?;
            let metrics = &report["basicInfrastructureMetrics"];
            let disk = metrics["diskMetrics"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["percentUsed"].as_f64())
                .reduce(f64::max);
            let observation = Observation {
                is_online: true,
                minutes_since_last_push: Some(0.0),
                cpu_percent: metrics["cpuMetrics"]["percentUsed"].as_f64(),
                memory_percent: metrics["memoryMetrics"]["percentUsed"].as_f64(),
                disk_percent: disk,
                ..Observation::default()
            };
            let hostname = required(fields, field::HOSTNAME).unwrap_or("").to_owned();
            (
                Source::Server,
                at,
                None,
                observation,
                json!({"hostname": hostname}),
            )
        }
    };
    Ok(MonitorResult {
        event_id,
        project_id,
        monitor_id,
        probe_id,
        at,
        source,
        observation,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::BulkString(v.as_bytes().to_vec())))
            .collect()
    }

    /// An event as the engine encodes it (the WAL record whose fields become the entry).
    fn engine_event(build: impl FnOnce(&mut proto::events::Event)) -> HashMap<String, Value> {
        let mut event = proto::events::Event::with_id(
            "probe-1:r1",
            &Uuid::from_u128(1).to_string(),
            &Uuid::from_u128(2).to_string(),
            1_700_000_000_000_000_000,
        );
        build(&mut event);
        let record = event.finish();
        proto::events::fields(&record)
            .unwrap()
            .into_iter()
            .map(|(k, v)| {
                let k = String::from_utf8(k.to_vec()).unwrap();
                (k, Value::BulkString(v.to_vec()))
            })
            .collect()
    }

    #[test]
    fn the_engines_events_round_trip_into_results() {
        let sent = ProbeResult {
            observation: Observation {
                is_online: false,
                error: Some("connection refused".into()),
                ..Observation::default()
            },
            failed_phase: Some("connect".into()),
            details: None,
        };
        let json = serde_json::to_vec(&sent).unwrap();
        let probe = Uuid::from_u128(3).to_string();
        let fields = engine_event(|e| {
            e.field(field::PROBE_ID, probe.as_bytes())
                .field(field::CHECKED_AT_UNIX_NANO, b"1699999999000000000")
                .field(field::RESULT, &json);
        });
        let r = parse(StreamKind::ProbeResult, &fields).unwrap();
        assert_eq!(r.event_id, "probe-1:r1");
        assert_eq!(r.monitor_id, Uuid::from_u128(2));
        assert_eq!(r.probe_id, Some(Uuid::from_u128(3)));
        assert_eq!(r.observation, sent.observation);
        assert_eq!(r.detail["failed_phase"], "connect");
        assert_eq!(r.at.timestamp_nanos_opt(), Some(1_699_999_999_000_000_000));

        let fields = engine_event(|e| {
            e.field(field::METHOD, b"POST")
                .field(field::SOURCE_ADDR, b"10.0.0.1:5000")
                .field(field::BODY, b"ok");
        });
        let r = parse(StreamKind::IncomingRequest, &fields).unwrap();
        assert_eq!(r.observation.body.as_deref(), Some("ok"));
        assert_eq!(r.detail["source_addr"], "10.0.0.1:5000");
    }

    #[test]
    fn entries_of_each_stream_become_results() {
        let p = Uuid::new_v4().to_string();
        let m = Uuid::new_v4().to_string();
        let probe = Uuid::new_v4().to_string();
        let r = parse(
            StreamKind::ProbeResult,
            &fields(&[
                ("event_id", "e1"),
                ("project_id", &p),
                ("monitor_id", &m),
                ("probe_id", &probe),
                ("checked_at_unix_nano", "1700000000000000001"),
                (
                    "result",
                    r#"{"is_online": true, "status_code": 503, "response_time_ms": 12.5}"#,
                ),
            ]),
        )
        .unwrap();
        assert_eq!(r.observation.status_code, Some(503));
        assert_eq!(r.at.timestamp_nanos_opt(), Some(1_700_000_000_000_000_001));
        // A check time later than the receipt is taken as the receipt.
        let r = parse(
            StreamKind::ProbeResult,
            &fields(&[
                ("event_id", "e3"),
                ("project_id", &p),
                ("monitor_id", &m),
                ("probe_id", &probe),
                ("received_at_unix_nano", "1700000000000000000"),
                ("checked_at_unix_nano", "9223372036854775807"),
                ("result", r#"{"is_online": false}"#),
            ]),
        )
        .unwrap();
        assert_eq!(r.at.timestamp_nanos_opt(), Some(1_700_000_000_000_000_000));
        let r = parse(
            StreamKind::ServerReport,
            &fields(&[
                ("event_id", "e2"),
                ("project_id", &p),
                ("monitor_id", &m),
                ("received_at_unix_nano", "5"),
                ("hostname", "db-1"),
                (
                    "report",
                    r#"{"basicInfrastructureMetrics": {"cpuMetrics": {"percentUsed": 37.5},
                    "memoryMetrics": {"percentUsed": 75}, "diskMetrics": [{"percentUsed": 70},
                    {"percentUsed": 91.5}]}}"#,
                ),
            ]),
        )
        .unwrap();
        assert_eq!(r.observation.cpu_percent, Some(37.5));
        assert_eq!(r.observation.disk_percent, Some(91.5));
        assert!(r.observation.is_online);
        for bad in [
            fields(&[
                ("event_id", "e"),
                ("project_id", "nope"),
                ("monitor_id", &m),
            ]),
            fields(&[("project_id", &p), ("monitor_id", &m)]),
            fields(&[("event_id", "e"), ("project_id", &p), ("monitor_id", &m)]),
        ] {
            assert!(parse(StreamKind::IncomingRequest, &bad).is_err());
        }
    }
}
