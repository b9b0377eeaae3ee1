//! The worker's notification sender: takes due notifications from the outbox (rows locked with
//! SKIP LOCKED, so workers never send the same one at once), sends them concurrently, and
//! records each outcome: sent, retried with exponential backoff, or failed after
//! `notify_max_attempts`. A crash between sending and recording sends again (at least once);
//! receivers can drop repeats by the `x-vigil-delivery` id.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::delivery::{self, Delivery};
use super::egress::Egress;
use super::http::HttpClient;
use super::{ChannelKind, NotifyError};
use crate::config::WorkerConfig;

/// Sends due notifications until `shutdown`.
pub(crate) async fn run(pool: PgPool, config: WorkerConfig, shutdown: CancellationToken) {
    let egress = Egress {
        allow_private: config.notify_allow_private_networks,
    };
    let http = match HttpClient::new(Duration::from_millis(config.notify_timeout_ms), egress) {
        Ok(http) => http,
        Err(error) => {
            tracing::error!(%error, "notification sender cannot build its HTTP client");
            return;
        }
    };
    loop {
        let sent = match round(&pool, &http, &config).await {
            Ok(n) => n,
            Err(error) => {
                tracing::warn!(%error, "notification round failed; retrying");
                0
            }
        };
        // A full round suggests more are due: go again at once.
        if sent < config.notify_batch as usize {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        } else if shutdown.is_cancelled() {
            return;
        }
    }
}

type Due = (
    Uuid,
    String,
    serde_json::Value,
    i32,
    String,
    serde_json::Value,
);

/// One round: up to `notify_batch` due notifications; how many were taken.
async fn round(
    pool: &PgPool,
    http: &HttpClient,
    config: &WorkerConfig,
) -> Result<usize, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // A subscriber's settings are made from its row: a webhook's URL and key, a Slack URL, or
    // for email the page's mail channel with the subscriber as the one recipient ('null' when
    // the page has none any more: the delivery fails and says so).
    let due: Vec<Due> = sqlx::query_as(
        "SELECT n.id, n.event, n.payload, n.attempts, COALESCE(c.kind, s.kind), \
         CASE WHEN c.id IS NOT NULL THEN c.settings \
              WHEN s.kind = 'webhook' THEN jsonb_build_object('url', s.target, 'secret', s.secret) \
              WHEN s.kind = 'slack' THEN jsonb_build_object('url', s.target) \
              ELSE COALESCE(jsonb_set(m.settings, '{to}', jsonb_build_array(s.target)), 'null') END \
         FROM notifications n LEFT JOIN notification_channels c ON c.id = n.channel_id \
         LEFT JOIN status_page_subscribers s ON s.id = n.subscriber_id \
         LEFT JOIN status_pages p ON p.id = s.page_id \
         LEFT JOIN notification_channels m ON m.id = p.subscriber_channel_id \
         WHERE n.state = 'pending' AND n.next_attempt_at <= now() \
         ORDER BY n.next_attempt_at LIMIT $1 FOR UPDATE OF n SKIP LOCKED",
    )
    .bind(config.notify_batch)
    .fetch_all(&mut *tx)
    .await?;
    let taken = due.len();
    let timeout = Duration::from_millis(config.notify_timeout_ms);
    let sends = due
        .into_iter()
        .map(|(id, event, payload, attempts, kind, settings)| {
            let http = http.clone();
            async move {
                let result = match ChannelKind::parse(&kind) {
                    Some(kind) => {
                        let d = Delivery {
                            id,
                            event,
                            payload,
                            kind,
                            settings,
                        };
                        delivery::send(&http, &d, timeout).await
                    }
                    None => Err(NotifyError::Internal(format!(
                        "unknown channel kind {kind:?}"
                    ))),
                };
                (id, attempts + 1, result)
            }
        });
    let outcomes = futures_util::future::join_all(sends).await;
    for (id, attempts, result) in outcomes {
        match result {
            Ok(()) => {
                sqlx::query(
                    "UPDATE notifications SET state = 'sent', attempts = $2, sent_at = now(), \
                     last_error = NULL WHERE id = $1",
                )
                .bind(id)
                .bind(attempts)
                .execute(&mut *tx)
                .await?;
            }
            Err(error) => {
                let failed = attempts >= config.notify_max_attempts;
                tracing::warn!(notification = %id, attempts, failed, %error, "notification not delivered");
                // 2, 4, 8 … seconds, at most ten minutes.
                let backoff = 2f64.powi(attempts.min(10)).min(600.0);
                sqlx::query(
                    "UPDATE notifications SET attempts = $2, last_error = $3, \
                     state = CASE WHEN $4 THEN 'failed' ELSE 'pending' END, \
                     next_attempt_at = now() + make_interval(secs => $5) WHERE id = $1",
                )
                .bind(id)
                .bind(attempts)
                .bind(error.to_string().chars().take(1000).collect::<String>())
                .bind(failed)
                .bind(backoff)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(taken)
}
