//! One batch of results from start to finish: read the monitors' state from PostgreSQL, judge
//! every result (`evaluate.rs`), store the judged rows in ClickHouse, then commit the changes —
//! status timeline, incidents, notifications — one transaction per changed monitor, and the
//! last-result times of the others in one statement. Every effect is idempotent, so a batch
//! replayed after a crash changes nothing twice (see `apply`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use sqlx::PgPool;
use uuid::Uuid;

use super::apply::{self, Context};
use super::entry::MonitorResult;
use super::evaluate::{Change, MonitorState, Verdict};
use super::results::{ResultRows, RowsError};
use crate::monitor::criteria::Criterion;

/// Why a batch could not be finished (it is retried; its entries stay pending).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProcessError {
    #[error("postgresql: {0}")]
    Database(#[from] sqlx::Error),
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] RowsError),
}

/// Parsed criteria by monitor, kept while the monitor's `updated_at` is unchanged.
type CriteriaCache = HashMap<Uuid, (DateTime<Utc>, Arc<Vec<Criterion>>)>;

/// Evaluates batches; shared by the stream consumers and the periodic jobs.
pub(crate) struct Processor {
    pool: PgPool,
    results: ResultRows,
    criteria: Mutex<CriteriaCache>,
}

/// A monitor's row as the batch reads it (criteria come from the cache).
#[derive(sqlx::FromRow)]
struct StateRow {
    id: Uuid,
    project_id: Uuid,
    name: String,
    enabled: bool,
    updated_at: DateTime<Utc>,
    default_status_id: Uuid,
    current_status_id: Uuid,
    current_criterion: Option<String>,
    last_result_at: Option<DateTime<Utc>>,
    last_push_at: Option<DateTime<Utc>>,
    min_probe_agreement: i32,
}

impl Processor {
    pub(crate) fn new(pool: PgPool, results: ResultRows) -> Self {
        Self {
            pool,
            results,
            criteria: Mutex::new(HashMap::new()),
        }
    }

    /// The state of `monitors` (those that exist), with the assigned probes of `probed`.
    async fn states(
        &self,
        monitors: &[Uuid],
        probed: &[Uuid],
    ) -> Result<HashMap<Uuid, MonitorState>, ProcessError> {
        // Criteria are read (and parsed) only for monitors changed since they were cached.
        let rows: Vec<StateRow> = sqlx::query_as(
            "SELECT id, project_id, name, enabled, updated_at, default_status_id, \
             current_status_id, current_criterion, last_result_at, last_push_at, \
             min_probe_agreement FROM monitors WHERE id = ANY($1)",
        )
        .bind(monitors)
        .fetch_all(&self.pool)
        .await?;
        let stale: Vec<Uuid> = {
            let cache = self.criteria.lock();
            rows.iter()
                .filter(|r| cache.get(&r.id).is_none_or(|(at, _)| *at != r.updated_at))
                .map(|r| r.id)
                .collect()
        };
        if !stale.is_empty() {
            let fresh: Vec<(Uuid, DateTime<Utc>, sqlx::types::Json<Vec<Criterion>>)> =
                sqlx::query_as("SELECT id, updated_at, criteria FROM monitors WHERE id = ANY($1)")
                    .bind(&stale)
                    .fetch_all(&self.pool)
                    .await?;
            let mut cache = self.criteria.lock();
            for (id, updated, criteria) in fresh {
                cache.insert(id, (updated, Arc::new(criteria.0)));
            }
        }
        let mut states = HashMap::with_capacity(rows.len());
        for row in rows {
            // A monitor changed between the two reads keeps its cached criteria for this
            // batch; the next one reads them again.
            let Some(criteria) = self.criteria.lock().get(&row.id).map(|(_, c)| c.clone()) else {
                continue;
            };
            states.insert(
                row.id,
                MonitorState {
                    project_id: row.project_id,
                    name: row.name,
                    enabled: row.enabled,
                    criteria,
                    default_status_id: row.default_status_id,
                    current_status_id: row.current_status_id,
                    current_criterion: row.current_criterion,
                    last_result_at: row.last_result_at,
                    last_push_at: row.last_push_at,
                    min_probe_agreement: row.min_probe_agreement,
                    probes: HashMap::new(),
                    assigned: HashSet::new(),
                },
            );
        }
        if !probed.is_empty() {
            let probes: Vec<(Uuid, Uuid, Option<String>)> = sqlx::query_as(
                "SELECT monitor_id, probe_id, last_criteria FROM monitor_probes \
                 WHERE monitor_id = ANY($1)",
            )
            .bind(probed)
            .fetch_all(&self.pool)
            .await?;
            for (monitor, probe, last) in probes {
                let Some(state) = states.get_mut(&monitor) else {
                    continue;
                };
                state.assigned.insert(probe);
                if state.min_probe_agreement > 1
                    && let Some(last) = last
                {
                    // Stored as '' for "no criterion met".
                    state
                        .probes
                        .insert(probe, Some(last).filter(|name| !name.is_empty()));
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
        let mut probed: Vec<Uuid> = batch
            .iter()
            .filter(|r| r.probe_id.is_some())
            .map(|r| r.monitor_id)
            .collect();
        probed.sort_unstable();
        probed.dedup();
        let mut states = self.states(&ids, &probed).await?;
        let mut judged: Vec<(&MonitorResult, Verdict)> = Vec::with_capacity(batch.len());
        let mut changes: HashMap<Uuid, Vec<Change>> = HashMap::new();
        for result in batch {
            // Unknown (deleted) or disabled monitors, entries naming another project's monitor
            // and results of probes not assigned to the monitor are dropped.
            let Some(state) = states.get_mut(&result.monitor_id) else {
                continue;
            };
            if !state.enabled || state.project_id != result.project_id {
                continue;
            }
            // A probe reports only on the monitors assigned to it.
            if let Some(probe) = result.probe_id
                && !state.assigned.contains(&probe)
            {
                tracing::warn!(
                    probe = %probe, monitor = %result.monitor_id,
                    "result from a probe not assigned to the monitor dropped"
                );
                continue;
            }
            let (verdict, change) = state.evaluate(result);
            if let Some(change) = change {
                changes.entry(result.monitor_id).or_default().push(change);
            }
            judged.push((result, verdict));
        }
        self.results.insert(&judged, &states).await?;
        if !changes.is_empty() {
            let changed = changes
                .iter()
                .filter_map(|(m, list)| Some((states.get(m)?, list.as_slice())));
            let context = Context::load(&self.pool, changed).await?;
            for (monitor, list) in &changes {
                if let Some(state) = states.get(monitor) {
                    apply::apply(&self.pool, &context, *monitor, state, list).await?;
                }
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
}
