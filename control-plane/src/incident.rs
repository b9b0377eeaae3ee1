//! Incidents' life: opening (by a criterion or by hand), acknowledging, resolving, custom
//! states and notes — each a row change, a timeline entry and, for open/ack/resolve, a
//! notification in the outbox, all in the caller's transaction. The API and the worker share
//! these, so an incident changes the same way whoever changes it.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::notification::outbox;

/// What an incident is opened with.
pub(crate) struct NewIncident<'a> {
    pub project_id: Uuid,
    pub title: &'a str,
    pub description: &'a str,
    pub severity_id: Uuid,
    /// The monitor and criterion that opened it (at most one open per pair).
    pub source: Option<(Uuid, &'a str)>,
    pub auto_resolve: bool,
    pub created_by: Option<Uuid>,
    pub monitor_ids: &'a [Uuid],
    pub at: DateTime<Utc>,
    /// What failed, when a monitor's result opened it: added to the description and noted on
    /// the opening timeline entry.
    pub cause: Option<&'a str>,
}

/// The kinds of state every project has one of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateKind {
    Created,
    Acknowledged,
    Resolved,
}

impl StateKind {
    fn as_str(self) -> &'static str {
        match self {
            StateKind::Created => "created",
            StateKind::Acknowledged => "acknowledged",
            StateKind::Resolved => "resolved",
        }
    }
}

async fn state_of_kind(
    db: &mut PgConnection,
    project_id: Uuid,
    kind: StateKind,
) -> Result<Uuid, sqlx::Error> {
    let (id,): (Uuid,) =
        sqlx::query_as("SELECT id FROM incident_states WHERE project_id = $1 AND kind = $2")
            .bind(project_id)
            .bind(kind.as_str())
            .fetch_one(db)
            .await?;
    Ok(id)
}

/// Opens an incident; `None` when its criterion already has an open one.
pub(crate) async fn open(
    db: &mut PgConnection,
    new: NewIncident<'_>,
) -> Result<Option<Uuid>, sqlx::Error> {
    if let Some((monitor, criterion)) = new.source {
        let open: Option<(Uuid,)> = sqlx::query_as(
            "SELECT id FROM incidents WHERE source_monitor_id = $1 AND source_criterion = $2 \
             AND resolved_at IS NULL",
        )
        .bind(monitor)
        .bind(criterion)
        .fetch_optional(&mut *db)
        .await?;
        if open.is_some() {
            return Ok(None);
        }
    }
    let state = state_of_kind(db, new.project_id, StateKind::Created).await?;
    // The project row's lock orders concurrent openings and numbers them without gaps.
    let (number,): (i64,) = sqlx::query_as(
        "UPDATE projects SET incident_counter = incident_counter + 1 WHERE id = $1 \
         RETURNING incident_counter",
    )
    .bind(new.project_id)
    .fetch_one(&mut *db)
    .await?;
    let id = Uuid::new_v4();
    let description = match new.cause {
        Some(cause) if new.description.is_empty() => format!("What failed: {cause}"),
        Some(cause) => format!("{}\n\nWhat failed: {cause}", new.description),
        None => new.description.to_owned(),
    };
    sqlx::query(
        "INSERT INTO incidents (id, project_id, number, title, description, state_id, \
         severity_id, source_monitor_id, source_criterion, auto_resolve, created_by, declared_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(id)
    .bind(new.project_id)
    .bind(number)
    .bind(new.title)
    .bind(&description)
    .bind(state)
    .bind(new.severity_id)
    .bind(new.source.map(|s| s.0))
    .bind(new.source.map(|s| s.1))
    .bind(new.auto_resolve)
    .bind(new.created_by)
    .bind(new.at)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "INSERT INTO incident_monitors (incident_id, monitor_id) \
         SELECT $1, m FROM unnest($2::uuid[]) m ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(new.monitor_ids)
    .execute(&mut *db)
    .await?;
    timeline(db, id, new.at, Some(state), new.cause, new.created_by).await?;
    notify(db, new.project_id, id, "incident.opened").await?;
    Ok(Some(id))
}

async fn timeline(
    db: &mut PgConnection,
    incident: Uuid,
    at: DateTime<Utc>,
    state: Option<Uuid>,
    note: Option<&str>,
    user: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO incident_timeline (id, incident_id, at, kind, state_id, note, user_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::new_v4())
    .bind(incident)
    .bind(at)
    .bind(if note.is_some() { "note" } else { "state" })
    .bind(state)
    .bind(note)
    .bind(user)
    .execute(db)
    .await?;
    Ok(())
}

/// Moves an open incident to `state_id` of `kind` (`None`: a custom state); false when the
/// incident is resolved already or the move changes nothing.
pub(crate) async fn set_state(
    db: &mut PgConnection,
    project_id: Uuid,
    incident: Uuid,
    state_id: Uuid,
    kind: Option<StateKind>,
    user: Option<Uuid>,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE incidents SET state_id = $3, \
           acknowledged_at = CASE WHEN $4 THEN COALESCE(acknowledged_at, $6) ELSE acknowledged_at END, \
           acknowledged_by = CASE WHEN $4 THEN COALESCE(acknowledged_by, $5) ELSE acknowledged_by END, \
           resolved_at = CASE WHEN $7 THEN $6 ELSE resolved_at END \
         WHERE project_id = $1 AND id = $2 AND resolved_at IS NULL AND state_id <> $3",
    )
    .bind(project_id)
    .bind(incident)
    .bind(state_id)
    .bind(kind == Some(StateKind::Acknowledged))
    .bind(user)
    .bind(at)
    .bind(kind == Some(StateKind::Resolved))
    .execute(&mut *db)
    .await?
    .rows_affected()
        > 0;
    if changed {
        timeline(db, incident, at, Some(state_id), None, user).await?;
        match kind {
            Some(StateKind::Acknowledged) => {
                notify(db, project_id, incident, "incident.acknowledged").await?;
            }
            Some(StateKind::Resolved) => {
                notify(db, project_id, incident, "incident.resolved").await?;
            }
            _ => {}
        }
    }
    Ok(changed)
}

/// Acknowledges or resolves an open incident.
pub(crate) async fn move_to(
    db: &mut PgConnection,
    project_id: Uuid,
    incident: Uuid,
    kind: StateKind,
    user: Option<Uuid>,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let state = state_of_kind(db, project_id, kind).await?;
    set_state(db, project_id, incident, state, Some(kind), user, at).await
}

/// Adds a note to an incident's timeline.
pub(crate) async fn add_note(
    db: &mut PgConnection,
    incident: Uuid,
    note: &str,
    user: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    timeline(db, incident, Utc::now(), None, Some(note), user).await
}

/// Resolves `monitor`'s open auto-resolving incidents of criteria other than `keep`.
pub(crate) async fn auto_resolve(
    db: &mut PgConnection,
    project_id: Uuid,
    monitor: Uuid,
    keep: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let open: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM incidents WHERE source_monitor_id = $1 AND resolved_at IS NULL \
         AND auto_resolve AND source_criterion IS DISTINCT FROM $2",
    )
    .bind(monitor)
    .bind(keep)
    .fetch_all(&mut *db)
    .await?;
    for (id,) in open {
        move_to(db, project_id, id, StateKind::Resolved, None, at).await?;
    }
    Ok(())
}

/// Queues `event` about `incident` for every channel of the project, once per event.
async fn notify(
    db: &mut PgConnection,
    project_id: Uuid,
    incident: Uuid,
    event: &str,
) -> Result<(), sqlx::Error> {
    type Row = (
        i64,
        String,
        String,
        String,
        String,
        DateTime<Utc>,
        Vec<Uuid>,
        Option<String>,
    );
    let (number, title, description, severity, state, declared_at, monitors, acknowledged_by): Row =
        sqlx::query_as(
            "SELECT i.number, i.title, i.description, sv.name, st.name, i.declared_at, \
             COALESCE((SELECT array_agg(monitor_id ORDER BY monitor_id) FROM incident_monitors \
                       WHERE incident_id = i.id), '{}'), u.email \
             FROM incidents i JOIN incident_severities sv ON sv.id = i.severity_id \
             JOIN incident_states st ON st.id = i.state_id \
             LEFT JOIN users u ON u.id = i.acknowledged_by WHERE i.id = $1",
        )
        .bind(incident)
        .fetch_one(&mut *db)
        .await?;
    let payload = json!({
        "event": event,
        "project_id": project_id,
        "incident": {
            "id": incident, "number": number, "title": title, "description": description,
            "severity": severity, "state": state, "declared_at": declared_at,
            "monitor_ids": monitors, "acknowledged_by": acknowledged_by,
        },
    });
    let summary = format!("[{severity}] Incident #{number} {}: {title}", verb(event));
    outbox::enqueue(
        db,
        project_id,
        &format!("{event}:{incident}"),
        event,
        &summary,
        payload,
    )
    .await
}

fn verb(event: &str) -> &'static str {
    match event {
        "incident.opened" => "opened",
        "incident.acknowledged" => "acknowledged",
        _ => "resolved",
    }
}
