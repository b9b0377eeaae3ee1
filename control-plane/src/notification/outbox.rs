//! The notification outbox: a change that notifies (an incident opened, acknowledged or
//! resolved; a monitor's status changed) queues one row per enabled channel of its project in
//! the same transaction, keyed so that the same change queues once per channel however often
//! it is replayed; status page subscribers get theirs one row each (`enqueue_for_subscriber`).
//! The worker's sender delivers them (`sender.rs`).

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

/// Queues `event` for one status page subscriber; `dedup_key` names the change, so that it is
/// queued once however often it is seen.
pub(crate) async fn enqueue_for_subscriber(
    db: &mut PgConnection,
    project_id: Uuid,
    subscriber_id: Uuid,
    dedup_key: &str,
    event: &str,
    payload: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notifications (id, project_id, subscriber_id, dedup_key, event, payload) \
         VALUES (gen_random_uuid(), $1, $2, $3, $4, $5) \
         ON CONFLICT (subscriber_id, dedup_key) WHERE subscriber_id IS NOT NULL DO NOTHING",
    )
    .bind(project_id)
    .bind(subscriber_id)
    .bind(dedup_key)
    .bind(event)
    .bind(payload)
    .execute(db)
    .await?;
    Ok(())
}
