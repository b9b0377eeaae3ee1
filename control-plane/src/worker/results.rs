//! `monitor_results` rows in ClickHouse: one per judged result, inserted as JSONEachRow
//! through the ingest engine's ClickHouse client (the table's DDL is the ingest engine's
//! schema, applied by the worker at start). A replayed result carries its `event_id` again and
//! is merged away by the table's ReplacingMergeTree.

use std::collections::HashMap;

use bytes::Bytes;
use ingest_engine::clickhouse::client::ClickHouse;
use serde_json::json;
use uuid::Uuid;

use super::entry::MonitorResult;
use super::evaluate::{MonitorState, Verdict};

/// Writes judged results.
pub(crate) struct ResultRows {
    client: ClickHouse,
    insert: String,
}

impl ResultRows {
    pub(crate) fn new(client: ClickHouse, database: &str) -> Self {
        Self {
            client,
            insert: format!("INSERT INTO {database}.monitor_results FORMAT JSONEachRow"),
        }
    }

    /// Inserts one row per judged result.
    pub(crate) async fn insert(
        &self,
        judged: &[(&MonitorResult, Verdict)],
        states: &HashMap<Uuid, MonitorState>,
    ) -> Result<(), String> {
        if judged.is_empty() {
            return Ok(());
        }
        let mut body = Vec::with_capacity(judged.len() * 400);
        for (r, verdict) in judged {
            let nanos = r.at.timestamp_nanos_opt().unwrap_or_default().max(0);
            let criterion = verdict
                .criterion
                .and_then(|i| states.get(&r.monitor_id)?.criteria.get(i))
                .map_or("", |c| c.name.as_str());
            let o = &r.observation;
            let mut result = serde_json::to_value(o).unwrap_or_default();
            if let (Some(object), Some(detail)) = (result.as_object_mut(), r.detail.as_object()) {
                object.extend(detail.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let row = json!({
                "project_id": r.project_id,
                "monitor_id": r.monitor_id,
                // Digits only: read as a Unix time whatever the server's time zone.
                "time": r.at.timestamp().max(0).to_string(),
                "time_unix_nano": nanos,
                "event_id": r.event_id,
                "source": r.source.as_str(),
                "probe_id": r.probe_id.map(|p| p.to_string()).unwrap_or_default(),
                "is_online": u8::from(o.is_online),
                "is_timeout": u8::from(o.is_timeout),
                "response_time_ms": o.response_time_ms,
                "status_code": o.status_code.unwrap_or(0),
                "error": o.error.as_deref().unwrap_or(""),
                "status_id": verdict.status_id,
                "criterion": criterion,
                "result": result.to_string(),
            });
            serde_json::to_writer(&mut body, &row).map_err(|e| e.to_string())?;
            body.push(b'\n');
        }
        self.client
            .insert_text(&self.insert, Bytes::from(body))
            .await
            .map_err(|e| e.to_string())
    }
}
