//! The notification outbox: a change that notifies (an incident opened, acknowledged or
//! resolved; a monitor's status changed) queues one row per enabled channel of its project in
//! the same transaction, keyed so that the same change queues once per channel however often
//! it is replayed. The worker's sender delivers them (`sender.rs`).

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// Queues `event` for every enabled channel of `project_id`; `dedup_key` names the change.
pub(crate) async fn enqueue(
    db: &mut PgConnection,
    project_id: Uuid,
    dedup_key: &str,
    event: &str,
    summary: &str,
    mut payload: Value,
) -> Result<(), sqlx::Error> {
    if let Some(object) = payload.as_object_mut() {
        object.insert("summary".into(), Value::String(summary.to_owned()));
    }
    sqlx::query(
        "INSERT INTO notifications (id, project_id, channel_id, dedup_key, event, payload) \
         SELECT gen_random_uuid(), $1, c.id, $2, $3, $4 FROM notification_channels c \
         WHERE c.project_id = $1 AND c.enabled \
         ON CONFLICT (channel_id, dedup_key) DO NOTHING",
    )
    .bind(project_id)
    .bind(dedup_key)
    .bind(event)
    .bind(payload)
    .execute(db)
    .await?;
    Ok(())
}
