//! The worker's event streams, the contract between the ingest engine that publishes them and
//! the worker that reads them: stream kinds and names, the default name prefix, every field
//! name, and the event record — one WAL record in the engine, one Redis stream entry after.
//! ARCHITECTURE.md lists what each field holds.
//!
//! Record format: a version byte, then per field a `u16` name length, the name, a `u32` value
//! length and the value (big-endian lengths).

/// Stream names are this prefix (configurable) followed by the kind's name.
pub const DEFAULT_STREAM_PREFIX: &str = "vigil:events:";

/// How far after its receipt a probe may date a check (clock skew). Both the engine and the
/// worker hold results to it: a result cannot move its monitor into the future.
pub const MAX_CLOCK_SKEW_NANOS: u64 = 60_000_000_000;

/// The kinds of event, one stream each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// Checks run by probes.
    ProbeResult,
    /// Heartbeats (incoming requests).
    IncomingRequest,
    /// Server-agent reports.
    ServerReport,
}

impl StreamKind {
    /// Every kind.
    pub const ALL: [StreamKind; 3] = [
        StreamKind::ProbeResult,
        StreamKind::IncomingRequest,
        StreamKind::ServerReport,
    ];

    /// The stream's name after the prefix.
    pub fn name(self) -> &'static str {
        match self {
            StreamKind::ProbeResult => "probe_result",
            StreamKind::IncomingRequest => "incoming_request",
            StreamKind::ServerReport => "server_report",
        }
    }
}

/// Field names. Every value is a string (bytes, for `body`).
pub mod field {
    /// Every kind: 32 hex digits (or a probe's `<probe id>:<result id>`), the worker's
    /// deduplication key.
    pub const EVENT_ID: &str = "event_id";
    /// Every kind.
    pub const PROJECT_ID: &str = "project_id";
    /// Every kind.
    pub const MONITOR_ID: &str = "monitor_id";
    /// Every kind: when the engine received the data, Unix nanoseconds.
    pub const RECEIVED_AT_UNIX_NANO: &str = "received_at_unix_nano";
    /// `server_report`: the reporting host.
    pub const HOSTNAME: &str = "hostname";
    /// `server_report`: the agent's report as JSON.
    pub const REPORT: &str = "report";
    /// `incoming_request`: `GET` or `POST`.
    pub const METHOD: &str = "method";
    /// `incoming_request`: `ip:port` of the sender.
    pub const SOURCE_ADDR: &str = "source_addr";
    /// `incoming_request` (may be empty) and `probe_result`: the probe.
    pub const PROBE_ID: &str = "probe_id";
    /// `incoming_request`: the headers as a JSON object.
    pub const HEADERS: &str = "headers";
    /// `incoming_request`: the body as received, decompressed.
    pub const BODY: &str = "body";
    /// `probe_result`: when the probe ran the check, Unix nanoseconds.
    pub const CHECKED_AT_UNIX_NANO: &str = "checked_at_unix_nano";
    /// `probe_result`: the check as JSON ([`crate::observation::ProbeResult`]).
    pub const RESULT: &str = "result";
}

const VERSION: u8 = 1;

/// Builds one event record.
pub struct Event {
    buf: Vec<u8>,
}

impl Event {
    /// A new event with a fresh `event_id` (the worker's deduplication key: a record replayed
    /// after a crash carries the same id) and its kind's common fields.
    pub fn new(project_id: &str, monitor_id: &str, received_unix_nano: u64) -> Self {
        let mut id = [0u8; 16];
        // Without randomness the id is still unique per process and time.
        if getrandom::fill(&mut id).is_err() {
            id[..8].copy_from_slice(&received_unix_nano.to_be_bytes());
        }
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        Self::with_id(&hex, project_id, monitor_id, received_unix_nano)
    }

    /// An event whose `event_id` the sender chose (a probe's result id: a result sent twice
    /// is deduplicated by the worker).
    pub fn with_id(
        event_id: &str,
        project_id: &str,
        monitor_id: &str,
        received_unix_nano: u64,
    ) -> Self {
        let mut event = Self { buf: vec![VERSION] };
        event.field(field::EVENT_ID, event_id.as_bytes());
        event.field(field::PROJECT_ID, project_id.as_bytes());
        event.field(field::MONITOR_ID, monitor_id.as_bytes());
        event.field(
            field::RECEIVED_AT_UNIX_NANO,
            itoa::Buffer::new().format(received_unix_nano).as_bytes(),
        );
        event
    }

    /// Adds a field (values longer than `u32::MAX` are cut; callers bound them far below).
    pub fn field(&mut self, name: &str, value: &[u8]) -> &mut Self {
        let value = &value[..value.len().min(u32::MAX as usize)];
        let name = &name.as_bytes()[..name.len().min(u16::MAX as usize)];
        self.buf
            .extend_from_slice(&(name.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(name);
        self.buf
            .extend_from_slice(&(value.len() as u32).to_be_bytes());
        self.buf.extend_from_slice(value);
        self
    }

    /// The encoded record.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// A record that is not an event of this version (a bug or a corrupt WAL record).
#[derive(Debug, thiserror::Error)]
#[error("malformed event record: {0}")]
pub struct EventFormatError(&'static str);

/// One `(name, value)` field of an event.
pub type Field<'a> = (&'a [u8], &'a [u8]);

/// The fields of an encoded event.
pub fn fields(record: &[u8]) -> Result<Vec<Field<'_>>, EventFormatError> {
    fn split(rest: &[u8], n: usize) -> Result<(&[u8], &[u8]), EventFormatError> {
        rest.split_at_checked(n)
            .ok_or(EventFormatError("truncated"))
    }
    let Some((&VERSION, mut rest)) = record.split_first() else {
        return Err(EventFormatError("unknown version"));
    };
    let mut out = Vec::with_capacity(8);
    while !rest.is_empty() {
        let (len, tail) = split(rest, 2)?;
        let (name, tail) = split(tail, usize::from(u16::from_be_bytes([len[0], len[1]])))?;
        let (len, tail) = split(tail, 4)?;
        let (value, tail) = split(
            tail,
            u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize,
        )?;
        out.push((name, value));
        rest = tail;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_truncation_is_refused() {
        let mut e = Event::new("p1", "m1", 42);
        e.field("method", b"POST").field("body", b"");
        let record = e.finish();
        let f = fields(&record).unwrap();
        let names: Vec<&[u8]> = f.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                &b"event_id"[..],
                b"project_id",
                b"monitor_id",
                b"received_at_unix_nano",
                b"method",
                b"body"
            ]
        );
        assert_eq!(f[0].1.len(), 32);
        assert_eq!(f[3].1, b"42");
        assert_eq!(f[4].1, b"POST");
        for cut in 1..record.len() {
            if let Ok(f) = fields(&record[..cut]) {
                // Only a cut at a field boundary parses, and it yields fewer fields.
                assert!(f.len() < 6);
            }
        }
        assert!(fields(b"").is_err());
        assert!(fields(&[9]).is_err());
    }
}
