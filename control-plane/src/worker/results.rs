//! `monitor_results` rows in ClickHouse: one per judged result, inserted as JSONEachRow
//! through the ingest engine's ClickHouse client (the table's DDL is the ingest engine's
//! schema, applied by the worker at start). A replayed result carries its `event_id` again and
//! is merged away by the table's ReplacingMergeTree.

use std::collections::HashMap;

use bytes::Bytes;
use serde::Serialize;
use storage::client::ClickHouse;
use storage::tables::Table;
use uuid::Uuid;

use super::entry::MonitorResult;
use super::evaluate::{MonitorState, Verdict};

/// One `monitor_results` row as JSONEachRow.
#[derive(Serialize)]
struct Row<'a> {
    project_id: Uuid,
    monitor_id: Uuid,
    /// Digits only: read as a Unix time whatever the server's time zone.
    time: String,
    time_unix_nano: i64,
    event_id: &'a str,
    source: &'static str,
    #[serde(serialize_with = "empty_when_none")]
    probe_id: Option<Uuid>,
    is_online: u8,
    is_timeout: u8,
    response_time_ms: Option<f64>,
    status_code: u16,
    error: &'a str,
    status_id: Uuid,
    criterion: &'a str,
    result: &'a str,
}

fn empty_when_none<S: serde::Serializer>(v: &Option<Uuid>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(id) => id.serialize(s),
        None => s.serialize_str(""),
    }
}

/// Why judged results could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RowsError {
    #[error("encoding a row: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("a row's result is not UTF-8: {0}")]
    Utf8(#[from] std::str::Utf8Error),
    #[error(transparent)]
    ClickHouse(#[from] storage::client::ClickHouseError),
}

/// Writes judged results.
pub(crate) struct ResultRows {
    client: ClickHouse,
    insert: String,
}

impl ResultRows {
    pub(crate) fn new(client: ClickHouse, database: &str) -> Self {
        Self {
            client,
            insert: format!(
                "INSERT INTO {database}.{} FORMAT JSONEachRow",
                Table::MonitorResults.name()
            ),
        }
    }

    /// Inserts one row per judged result.
    pub(crate) async fn insert(
        &self,
        judged: &[(&MonitorResult, Verdict)],
        states: &HashMap<Uuid, MonitorState>,
    ) -> Result<(), RowsError> {
        if judged.is_empty() {
            return Ok(());
        }
        let mut body = Vec::with_capacity(judged.len() * 400);
        let mut result = Vec::with_capacity(512);
        for (r, verdict) in judged {
            let criterion = verdict
                .criterion
                .and_then(|i| states.get(&r.monitor_id)?.criteria.get(i))
                .map_or("", |c| c.name.as_str());
            let o = &r.observation;
            // The observation's JSON with the detail's fields after it.
            result.clear();
            serde_json::to_writer(&mut result, o)?;
            if let Some(detail) = r.detail.as_object().filter(|d| !d.is_empty()) {
                let extra = serde_json::to_vec(detail)?;
                if result.len() > 2 {
                    result.pop();
                    result.push(b',');
                    result.extend_from_slice(&extra[1..]);
                } else {
                    result = extra;
                }
            }
            let row = Row {
                project_id: r.project_id,
                monitor_id: r.monitor_id,
                time: r.at.timestamp().max(0).to_string(),
                time_unix_nano: r.at.timestamp_nanos_opt().unwrap_or_default().max(0),
                event_id: &r.event_id,
                source: r.source.as_str(),
                probe_id: r.probe_id,
                is_online: u8::from(o.is_online),
                is_timeout: u8::from(o.is_timeout),
                response_time_ms: o.response_time_ms,
                status_code: o.status_code.unwrap_or(0),
                error: o.error.as_deref().unwrap_or(""),
                status_id: verdict.status_id,
                criterion,
                result: std::str::from_utf8(&result)?,
            };
            serde_json::to_writer(&mut body, &row)?;
            body.push(b'\n');
        }
        self.client
            .insert_text(&self.insert, Bytes::from(body))
            .await?;
        Ok(())
    }
}
