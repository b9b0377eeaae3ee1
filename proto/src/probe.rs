//! The probe → ingest-engine result protocol: a probe sends its check results in batches with
//! one unary gRPC call, authenticated with its key (`Authorization: Bearer vpk_…`). The engine
//! answers once the batch is in its write-ahead log; a result resent after a lost answer carries
//! the same `id` and is deduplicated downstream. (Assignments come from the control plane's
//! REST API, `GET /api/v1/probe/assignments`.)
//!
//! ```proto
//! syntax = "proto3";
//! package vigil.probe.v1;
//! service ProbeResults { rpc Report(ResultBatch) returns (ReportReply); }
//! message ResultBatch { repeated CheckResult results = 1; }
//! message CheckResult {
//!   string id = 1;                    // unique per result (the probe's UUID): the dedup key
//!   string monitor_id = 2;
//!   uint64 checked_at_unix_nano = 3;  // when the check started
//!   bool is_online = 4;
//!   bool is_timeout = 5;
//!   optional double response_time_ms = 6;
//!   optional uint32 status_code = 7;
//!   optional string body = 8;         // bounded by the probe
//!   optional string error = 9;
//!   optional string failed_phase = 10; // dns, connect, tls, timeout, response
//!   optional double certificate_expires_in_days = 11;
//!   optional bool certificate_self_signed = 12;
//!   optional bool certificate_valid = 13;
//!   optional double packet_loss_percent = 14;
//!   optional double jitter_ms = 15;
//!   optional string dns_answers = 16;  // one answer per line
//!   string details_json = 17;          // timings, certificate, DNS records, ping RTTs: a JSON object
//! }
//! message ReportReply { uint32 accepted = 1; }
//! ```

/// The gRPC method path of `ProbeResults/Report`.
pub const REPORT: &str = "/vigil.probe.v1.ProbeResults/Report";

/// The largest batch the engine takes (results); larger batches are refused whole.
pub const MAX_BATCH_RESULTS: usize = 10_000;

/// A batch of results.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResultBatch {
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<CheckResult>,
}

/// One check's result.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckResult {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub monitor_id: String,
    #[prost(uint64, tag = "3")]
    pub checked_at_unix_nano: u64,
    #[prost(bool, tag = "4")]
    pub is_online: bool,
    #[prost(bool, tag = "5")]
    pub is_timeout: bool,
    #[prost(double, optional, tag = "6")]
    pub response_time_ms: Option<f64>,
    #[prost(uint32, optional, tag = "7")]
    pub status_code: Option<u32>,
    #[prost(string, optional, tag = "8")]
    pub body: Option<String>,
    #[prost(string, optional, tag = "9")]
    pub error: Option<String>,
    #[prost(string, optional, tag = "10")]
    pub failed_phase: Option<String>,
    #[prost(double, optional, tag = "11")]
    pub certificate_expires_in_days: Option<f64>,
    #[prost(bool, optional, tag = "12")]
    pub certificate_self_signed: Option<bool>,
    #[prost(bool, optional, tag = "13")]
    pub certificate_valid: Option<bool>,
    #[prost(double, optional, tag = "14")]
    pub packet_loss_percent: Option<f64>,
    #[prost(double, optional, tag = "15")]
    pub jitter_ms: Option<f64>,
    #[prost(string, optional, tag = "16")]
    pub dns_answers: Option<String>,
    #[prost(string, tag = "17")]
    pub details_json: String,
}

/// The engine's answer: how many results it took (all of them, or the call failed).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReportReply {
    #[prost(uint32, tag = "1")]
    pub accepted: u32,
}
