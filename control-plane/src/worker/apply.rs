//! Committing a monitor's changes: one transaction per changed monitor, with its row locked
//! and re-read, so changes already made (a replay, or another worker with newer results) are
//! skipped — status timeline, `monitor.status_changed` notifications, incidents opened (unless
//! a maintenance window is on) and auto-resolved. What every change of a batch needs to know
//! (status names, maintenance windows) is read once per batch ([`Context`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::evaluate::{Change, MonitorState};
use crate::incident::{self, NewIncident};
use crate::notification::outbox;

/// A maintenance window: project, start, end, monitors (empty: all).
type Window = (Uuid, DateTime<Utc>, DateTime<Utc>, Vec<Uuid>);

/// What the changes of one batch share.
pub(crate) struct Context {
    /// Status id → (name, colour), of the batch's projects.
    statuses: HashMap<Uuid, (String, String)>,
    /// Maintenance windows of the batch's projects around the batch's changes.
    windows: Vec<Window>,
}

impl Context {
    /// Reads what the `changed` monitors' changes need.
    pub(crate) async fn load<'a>(
        pool: &PgPool,
        changed: impl Iterator<Item = (&'a MonitorState, &'a [Change])>,
    ) -> Result<Self, sqlx::Error> {
        let mut projects = Vec::new();
        let (mut from, mut to) = (DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC);
        for (state, changes) in changed {
            projects.push(state.project_id);
            for c in changes {
                from = from.min(c.at);
                to = to.max(c.at);
            }
        }
        projects.sort_unstable();
        projects.dedup();
        let statuses: Vec<(Uuid, String, String)> = sqlx::query_as(
            "SELECT id, name, color FROM monitor_statuses WHERE project_id = ANY($1)",
        )
        .bind(&projects)
        .fetch_all(pool)
        .await?;
        let windows: Vec<Window> = sqlx::query_as(
            "SELECT project_id, starts_at, ends_at, monitor_ids FROM maintenance_windows \
             WHERE project_id = ANY($1) AND starts_at <= $3 AND ends_at > $2",
        )
        .bind(&projects)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
        Ok(Self {
            statuses: statuses
                .into_iter()
                .map(|(id, name, color)| (id, (name, color)))
                .collect(),
            windows,
        })
    }

    /// Whether a maintenance window covering `monitor` is on at `at` (no incidents then).
    fn in_maintenance(&self, project: Uuid, monitor: Uuid, at: DateTime<Utc>) -> bool {
        self.windows.iter().any(|(p, starts, ends, monitors)| {
            *p == project
                && *starts <= at
                && at < *ends
                && (monitors.is_empty() || monitors.contains(&monitor))
        })
    }
}

/// Commits one monitor's changes. The monitor's row is locked and re-read: changes at or
/// before its stored `last_result_at` (`last_push_at` for pushes) were made already and are
/// skipped; the rest are written in order.
pub(crate) async fn apply(
    pool: &PgPool,
    context: &Context,
    monitor: Uuid,
    state: &MonitorState,
    changes: &[Change],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
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
            status_changed(&mut tx, context, state, monitor, status, change).await?;
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
            && !context.in_maintenance(state.project_id, monitor, change.at)
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
                    cause: Some(&change.cause),
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

/// Queues the `monitor.status_changed` notification of `change`.
async fn status_changed(
    db: &mut sqlx::PgConnection,
    context: &Context,
    state: &MonitorState,
    monitor: Uuid,
    from: Uuid,
    change: &Change,
) -> Result<(), sqlx::Error> {
    let status = |id: Uuid| {
        context
            .statuses
            .get(&id)
            .map(|(name, color)| serde_json::json!({"id": id, "name": name, "color": color}))
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
