//! Tells status page subscribers what happened: incidents opened, updated (a public update)
//! and resolved, maintenance scheduled, started and completed — on the pages whose monitors
//! they touch, to the subscribers of those monitors (or of the whole page), once each. A job
//! of every worker: each run looks at the last day's events, finds the (event, confirmed
//! subscriber) pairs not queued yet and queues them in the outbox, whose key (subscriber,
//! event) makes a pair queued twice — by two workers at once — sent once. Only what happened
//! after a subscriber confirmed is sent to it; hidden incidents are never.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::notification::outbox::enqueue_for_subscriber;
use crate::notification::subscriber::{page_url, unsubscribe_url};

/// Most messages queued per run (the rest on the next).
const BATCH: i64 = 1000;

type Pair = (
    Uuid,
    String,
    String,
    DateTime<Utc>,
    String,
    Option<String>,
    Option<String>,
    Uuid,
    String,
    Uuid,
    String,
    String,
    String,
    Option<String>,
);

/// The events of the last day, one row each: (project, dedup key, event, when, title, body,
/// public status, the monitors it touches; empty: all of the project's).
const EVENTS: &str = "\
    SELECT i.project_id, 'incident:' || i.id || ':opened' AS dedup, 'incident.opened' AS event, \
           i.declared_at AS at, i.title, NULL::text AS body, 'investigating' AS status, \
           ARRAY(SELECT monitor_id FROM incident_monitors WHERE incident_id = i.id) AS monitors, \
           i.id AS subject \
    FROM incidents i WHERE NOT i.hidden_from_status_pages AND i.declared_at > now() - interval '1 day' \
    UNION ALL \
    SELECT i.project_id, 'incident:' || i.id || ':update:' || u.id, 'incident.updated', \
           u.created_at, i.title, u.body, u.status, \
           ARRAY(SELECT monitor_id FROM incident_monitors WHERE incident_id = i.id), i.id \
    FROM incident_public_updates u JOIN incidents i ON i.id = u.incident_id \
    WHERE NOT i.hidden_from_status_pages AND u.created_at > now() - interval '1 day' \
    UNION ALL \
    SELECT i.project_id, 'incident:' || i.id || ':resolved', 'incident.resolved', i.resolved_at, \
           i.title, NULL, 'resolved', \
           ARRAY(SELECT monitor_id FROM incident_monitors WHERE incident_id = i.id), i.id \
    FROM incidents i WHERE NOT i.hidden_from_status_pages AND i.resolved_at > now() - interval '1 day' \
    UNION ALL \
    SELECT w.project_id, 'maintenance:' || w.id || ':scheduled', 'maintenance.scheduled', \
           w.created_at, w.title, w.description, 'scheduled', w.monitor_ids, w.id \
    FROM maintenance_windows w WHERE w.show_on_status_pages AND w.created_at > now() - interval '1 day' \
    UNION ALL \
    SELECT w.project_id, 'maintenance:' || w.id || ':started', 'maintenance.started', \
           w.starts_at, w.title, w.description, 'in_progress', w.monitor_ids, w.id \
    FROM maintenance_windows w WHERE w.show_on_status_pages \
         AND w.starts_at <= now() AND w.starts_at > now() - interval '1 day' \
    UNION ALL \
    SELECT w.project_id, 'maintenance:' || w.id || ':completed', 'maintenance.completed', \
           w.ends_at, w.title, w.description, 'completed', w.monitor_ids, w.id \
    FROM maintenance_windows w WHERE w.show_on_status_pages \
         AND w.ends_at <= now() AND w.ends_at > now() - interval '1 day'";

/// Queues what subscribers have not been told yet; how many messages.
pub(crate) async fn tell_subscribers(
    pool: &PgPool,
    public_url: &str,
) -> Result<usize, sqlx::Error> {
    let pairs: Vec<Pair> = sqlx::query_as(&format!(
        "WITH e AS ({EVENTS}) \
         SELECT e.project_id, e.dedup, e.event, e.at, e.title, e.body, e.status, e.subject, \
                s.kind, s.id, s.token_digest, p.name, p.slug, \
                (SELECT min(host) FROM status_page_domains d WHERE d.page_id = p.id) \
         FROM e JOIN status_page_subscribers s ON s.project_id = e.project_id \
              AND s.confirmed_at IS NOT NULL AND e.at >= s.confirmed_at \
         JOIN status_pages p ON p.id = s.page_id \
         CROSS JOIN LATERAL (SELECT ARRAY(SELECT monitor_id FROM status_page_resources r \
              WHERE r.page_id = p.id) AS shown) pm \
         WHERE cardinality(pm.shown) > 0 \
           AND (CASE WHEN cardinality(e.monitors) = 0 AND e.event LIKE 'maintenance.%' \
                     THEN pm.shown ELSE e.monitors END) \
               && (CASE WHEN cardinality(s.monitor_ids) = 0 THEN pm.shown \
                        ELSE s.monitor_ids END) \
           AND NOT EXISTS (SELECT 1 FROM notifications n \
                           WHERE n.subscriber_id = s.id AND n.dedup_key = e.dedup) \
         ORDER BY e.at LIMIT {BATCH}"
    ))
    .fetch_all(pool)
    .await?;
    let queued = pairs.len();
    let mut db = pool.acquire().await?;
    for (
        project,
        dedup,
        event,
        at,
        title,
        body,
        status,
        subject,
        kind,
        subscriber,
        digest,
        page_name,
        slug,
        domain,
    ) in pairs
    {
        let url = page_url(public_url, &slug, domain.as_deref());
        let leave = unsubscribe_url(&url, subscriber, &digest);
        let what = match event.as_str() {
            "incident.opened" => "New incident",
            "incident.updated" => "Incident update",
            "incident.resolved" => "Resolved",
            "maintenance.scheduled" => "Maintenance scheduled",
            "maintenance.started" => "Maintenance started",
            _ => "Maintenance completed",
        };
        let summary = format!("[{page_name}] {what}: {title}");
        let link = if event.starts_with("incident.") {
            format!("{url}/incidents/{subject}")
        } else {
            url.clone()
        };
        let mut text = format!("{summary}\n");
        if let Some(body) = body.as_deref().filter(|b| !b.is_empty()) {
            text.push_str(&format!("\n{body}\n"));
        }
        text.push_str(&format!("\n{link}\n\nUnsubscribe: {leave}\n"));
        let payload = json!({
            "event": event,
            "summary": summary,
            // Email and Slack send this; webhooks get the fields.
            "text": if kind == "slack" { format!("{summary}\n{link}") } else { text },
            "page": {"name": page_name, "url": url},
            "subject": {"id": subject, "title": title, "status": status, "body": body,
                        "at": at, "url": link},
            "unsubscribe_url": leave,
        });
        enqueue_for_subscriber(&mut db, project, subscriber, &dedup, &event, payload).await?;
    }
    Ok(queued)
}
