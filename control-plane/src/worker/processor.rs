//! One batch of results from start to finish: read the monitors' state from PostgreSQL, judge
//! every result (`evaluate.rs`), store the judged rows in ClickHouse, then commit the changes —
//! status timeline, incidents, notifications — one transaction per changed monitor, and the
//! last-result times of the others in one statement. Every effect is idempotent, so a batch
//! replayed after a crash changes nothing twice (see `apply`).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use sqlx::PgPool;
use uuid::Uuid;

use super::entry::MonitorResult;
use super::evaluate::{Change, MonitorState, Verdict};
use super::results::ResultRows;
use crate::incident::{self, NewIncident};
use crate::monitor::MonitorKind;
use crate::monitor::criteria::Criterion;
use crate::notification::outbox;

/// Why a batch could not be finished (it is retried; its entries stay pending).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProcessError {
    #[error("postgresql: {0}")]
    Database(#[from] sqlx::Error),
    #[error("clickhouse: {0}")]
    ClickHouse(String),
}

/// Parsed criteria by monitor, kept while the monitor's `updated_at` is unchanged.
type CriteriaCache = HashMap<Uuid, (DateTime<Utc>, Arc<Vec<Criterion>>)>;

/// Evaluates batches; shared by the stream consumers and the periodic jobs.
pub(crate) struct Processor {
    pool: PgPool,
    results: ResultRows,
    criteria: Mutex<CriteriaCache>,
}

type StateRow = (
    Uuid,
    Uuid,
    String,
    String,
    bool,
    sqlx::types::Json<serde_json::Value>,
    DateTime<Utc>,
    Uuid,
    Uuid,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    i32,
);

impl Processor {
    pub(crate) fn new(pool: PgPool, results: ResultRows) -> Self {
        Self {
            pool,
            results,
            criteria: Mutex::new(HashMap::new()),
        }
    }

    /// The state of `monitors` (those that exist).
    async fn states(&self, monitors: &[Uuid]) -> Result<HashMap<Uuid, MonitorState>, ProcessError> {
        let rows: Vec<StateRow> = sqlx::query_as(
            "SELECT id, project_id, name, kind, enabled, criteria, updated_at, default_status_id, \
             current_status_id, current_criterion, last_result_at, last_push_at, \
             min_probe_agreement FROM monitors WHERE id = ANY($1)",
        )
        .bind(monitors)
        .fetch_all(&self.pool)
        .await?;
        let mut states = HashMap::with_capacity(rows.len());
        let mut agreeing = Vec::new();
        for row in rows {
            let (id, project_id, name, kind, enabled, criteria, updated, default, current) = (
                row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8,
            );
            let (criterion, last, last_push, agreement) = (row.9, row.10, row.11, row.12);
            if MonitorKind::parse(&kind).is_none() {
                continue;
            }
            let criteria = {
                let mut cache = self.criteria.lock();
                match cache.get(&id) {
                    Some((at, parsed)) if *at == updated => parsed.clone(),
                    _ => {
                        let parsed: Arc<Vec<Criterion>> =
                            Arc::new(serde_json::from_value(criteria.0).unwrap_or_default());
                        cache.insert(id, (updated, parsed.clone()));
                        parsed
                    }
                }
            };
            if agreement > 1 {
                agreeing.push(id);
            }
            states.insert(
                id,
                MonitorState {
                    project_id,
                    name,
                    enabled,
                    criteria,
                    default_status_id: default,
                    current_status_id: current,
                    current_criterion: criterion,
                    last_result_at: last,
                    last_push_at: last_push,
                    min_probe_agreement: agreement,
                    probes: HashMap::new(),
                },
            );
        }
        if !agreeing.is_empty() {
            let probes: Vec<(Uuid, Uuid, Option<String>)> = sqlx::query_as(
                "SELECT monitor_id, probe_id, last_criteria FROM monitor_probes \
                 WHERE monitor_id = ANY($1) AND last_criteria IS NOT NULL",
            )
            .bind(&agreeing)
            .fetch_all(&self.pool)
            .await?;
            for (monitor, probe, last) in probes {
                if let Some(state) = states.get_mut(&monitor) {
                    // Stored as '' for "no criterion met".
                    state
                        .probes
                        .insert(probe, last.filter(|name| !name.is_empty()));
                }
            }
        }
        Ok(states)
    }

    /// Evaluates and stores `batch`; once this returns Ok its entries may be acknowledged.
    pub(crate) async fn process(&self, batch: &[MonitorResult]) -> Result<usize, ProcessError> {
        let mut ids: Vec<Uuid> = batch.iter().map(|r| r.monitor_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut states = self.states(&ids).await?;
        let mut judged: Vec<(&MonitorResult, Verdict)> = Vec::with_capacity(batch.len());
        let mut changes: HashMap<Uuid, Vec<Change>> = HashMap::new();
        for result in batch {
            // Unknown (deleted) or disabled monitors, and entries naming another project's
            // monitor, are dropped.
            let Some(state) = states.get_mut(&result.monitor_id) else {
                continue;
            };
            if !state.enabled || state.project_id != result.project_id {
                continue;
            }
            let (verdict, change) = state.evaluate(result);
            if let Some(change) = change {
                changes.entry(result.monitor_id).or_default().push(change);
            }
            judged.push((result, verdict));
        }
        self.results
            .insert(&judged, &states)
            .await
            .map_err(ProcessError::ClickHouse)?;
        for (monitor, list) in &changes {
            if let Some(state) = states.get(monitor) {
                self.apply(*monitor, state, list).await?;
            }
        }
        self.record_progress(&judged, &states).await?;
        Ok(judged.len())
    }

    /// Moves the last-result and last-push times (and the probes' latest decisions) forward.
    async fn record_progress(
        &self,
        judged: &[(&MonitorResult, Verdict)],
        states: &HashMap<Uuid, MonitorState>,
    ) -> Result<(), ProcessError> {
        let mut latest: HashMap<Uuid, (DateTime<Utc>, Option<DateTime<Utc>>)> = HashMap::new();
        let mut probes: HashMap<(Uuid, Uuid), (DateTime<Utc>, String)> = HashMap::new();
        for (r, verdict) in judged {
            let entry = latest.entry(r.monitor_id).or_insert((r.at, None));
            entry.0 = entry.0.max(r.at);
            if r.source.is_push() {
                entry.1 = Some(entry.1.map_or(r.at, |t| t.max(r.at)));
            }
            let agreement = states
                .get(&r.monitor_id)
                .is_some_and(|s| s.min_probe_agreement > 1);
            if let (true, true, Some(probe)) = (agreement, verdict.current, r.probe_id) {
                let name = verdict
                    .criterion
                    .and_then(|i| states.get(&r.monitor_id)?.criteria.get(i))
                    .map_or(String::new(), |c| c.name.clone());
                probes.insert((r.monitor_id, probe), (r.at, name));
            }
        }
        if latest.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(latest.len());
        let mut at = Vec::with_capacity(latest.len());
        let mut push = Vec::with_capacity(latest.len());
        for (id, (a, p)) in latest {
            ids.push(id);
            at.push(a);
            push.push(p);
        }
        sqlx::query(
            "UPDATE monitors m SET \
               last_result_at = GREATEST(m.last_result_at, v.at), \
               last_push_at = GREATEST(m.last_push_at, v.push) \
             FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS v(id, at, push) \
             WHERE m.id = v.id",
        )
        .bind(&ids)
        .bind(&at)
        .bind(&push)
        .execute(&self.pool)
        .await?;
        if !probes.is_empty() {
            let mut monitors = Vec::new();
            let mut probe_ids = Vec::new();
            let mut times = Vec::new();
            let mut names = Vec::new();
            for ((m, p), (t, n)) in probes {
                monitors.push(m);
                probe_ids.push(p);
                times.push(t);
                names.push(n);
            }
            sqlx::query(
                "UPDATE monitor_probes mp SET last_criteria = v.name, last_result_at = v.at \
                 FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[]) \
                   AS v(monitor, probe, at, name) \
                 WHERE mp.monitor_id = v.monitor AND mp.probe_id = v.probe \
                   AND (mp.last_result_at IS NULL OR mp.last_result_at < v.at)",
            )
            .bind(&monitors)
            .bind(&probe_ids)
            .bind(&times)
            .bind(&names)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Commits one monitor's changes. The monitor's row is locked and re-read: changes at or
    /// before its stored `last_result_at` were made already (a replay, or another worker with
    /// newer results) and are skipped; the rest are written in order.
    async fn apply(
        &self,
        monitor: Uuid,
        state: &MonitorState,
        changes: &[Change],
    ) -> Result<(), ProcessError> {
        let mut tx = self.pool.begin().await?;
        type Row = (
            Uuid,
            Option<String>,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT current_status_id, current_criterion, last_result_at, last_push_at \
             FROM monitors WHERE id = $1 FOR UPDATE",
        )
        .bind(monitor)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((mut status, mut criterion, last, last_push)) = row else {
            return Ok(());
        };
        let (mut last_at, mut push_at) = (last, last_push);
        for change in changes {
            let seen = if change.push { last_push } else { last };
            if seen.is_some_and(|l| change.at <= l) || change.criterion == criterion {
                continue;
            }
            if change.to_status != status {
                sqlx::query(
                    "UPDATE monitor_status_timeline SET ends_at = $2 \
                     WHERE monitor_id = $1 AND ends_at IS NULL",
                )
                .bind(monitor)
                .bind(change.at)
                .execute(&mut *tx)
                .await?;
                let reason = change.criterion.as_deref().unwrap_or("no criteria met");
                sqlx::query(
                    "INSERT INTO monitor_status_timeline (id, project_id, monitor_id, status_id, \
                     starts_at, reason) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(Uuid::new_v4())
                .bind(state.project_id)
                .bind(monitor)
                .bind(change.to_status)
                .bind(change.at)
                .bind(reason)
                .execute(&mut *tx)
                .await?;
                status_changed(&mut tx, state, monitor, status, change).await?;
                sqlx::query(
                    "UPDATE monitors SET current_status_id = $2, status_since = $3 WHERE id = $1",
                )
                .bind(monitor)
                .bind(change.to_status)
                .bind(change.at)
                .execute(&mut *tx)
                .await?;
                status = change.to_status;
            }
            let matched = change
                .criterion
                .as_deref()
                .and_then(|name| state.criteria.iter().find(|c| c.name == name));
            if let Some((c, template)) = matched.and_then(|c| Some((c, c.incident.as_ref()?)))
                && !in_maintenance(&mut tx, state.project_id, monitor, change.at).await?
            {
                incident::open(
                    &mut tx,
                    NewIncident {
                        project_id: state.project_id,
                        title: &template.title,
                        description: &template.description,
                        severity_id: template.severity_id,
                        source: Some((monitor, &c.name)),
                        auto_resolve: template.auto_resolve,
                        created_by: None,
                        monitor_ids: &[monitor],
                        at: change.at,
                    },
                )
                .await?;
            }
            incident::auto_resolve(
                &mut tx,
                state.project_id,
                monitor,
                change.criterion.as_deref(),
                change.at,
            )
            .await?;
            criterion = change.criterion.clone();
            last_at = Some(last_at.map_or(change.at, |l| l.max(change.at)));
            if change.push {
                push_at = Some(push_at.map_or(change.at, |l| l.max(change.at)));
            }
        }
        sqlx::query(
            "UPDATE monitors SET current_criterion = $2, \
             last_result_at = GREATEST(last_result_at, $3), \
             last_push_at = GREATEST(last_push_at, $4) WHERE id = $1",
        )
        .bind(monitor)
        .bind(&criterion)
        .bind(last_at)
        .bind(push_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Whether a maintenance window covering `monitor` is on at `at` (incidents are not opened).
async fn in_maintenance(
    db: &mut sqlx::PgConnection,
    project_id: Uuid,
    monitor: Uuid,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let (on,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM maintenance_windows WHERE project_id = $1 \
         AND starts_at <= $3 AND ends_at > $3 \
         AND (cardinality(monitor_ids) = 0 OR $2 = ANY(monitor_ids)))",
    )
    .bind(project_id)
    .bind(monitor)
    .bind(at)
    .fetch_one(db)
    .await?;
    Ok(on)
}

/// Queues the `monitor.status_changed` notification of `change`.
async fn status_changed(
    db: &mut sqlx::PgConnection,
    state: &MonitorState,
    monitor: Uuid,
    from: Uuid,
    change: &Change,
) -> Result<(), sqlx::Error> {
    let names: Vec<(Uuid, String, String)> =
        sqlx::query_as("SELECT id, name, color FROM monitor_statuses WHERE id = ANY($1)")
            .bind([from, change.to_status])
            .fetch_all(&mut *db)
            .await?;
    let status = |id: Uuid| {
        names
            .iter()
            .find(|(i, ..)| *i == id)
            .map(|(id, name, color)| serde_json::json!({"id": id, "name": name, "color": color}))
    };
    let to = status(change.to_status);
    let to_name = to
        .as_ref()
        .and_then(|s| s["name"].as_str())
        .unwrap_or("?")
        .to_owned();
    let payload = serde_json::json!({
        "event": "monitor.status_changed",
        "project_id": state.project_id,
        "monitor": {"id": monitor, "name": state.name},
        "status": to,
        "previous_status": status(from),
        "criterion": change.criterion,
        "at": change.at,
    });
    let nanos = change.at.timestamp_nanos_opt().unwrap_or_default();
    outbox::enqueue(
        db,
        state.project_id,
        &format!("monitor.status_changed:{monitor}:{nanos}"),
        "monitor.status_changed",
        &format!("{} is {to_name}", state.name),
        payload,
    )
    .await
}
