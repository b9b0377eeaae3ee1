//! Per-day rollups of each monitor's status (`monitor_daily`): how many seconds of each UTC
//! day it was observed, degraded and down, from the status timeline. Status pages draw their
//! 90-day bars and uptime from these, never from raw results. The job rewrites today and
//! yesterday (yesterday's last minutes land after midnight) and, when the worker starts, the
//! last 90 days, so that a page shows history for monitors older than the rollups.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

/// Days kept in view by status pages.
pub(crate) const DAYS: i64 = 90;

/// Rewrites the rollups of the `days` UTC days up to today, for every monitor; returns the
/// rows written.
pub(crate) async fn roll_up(pool: &PgPool, days: i64) -> Result<u64, sqlx::Error> {
    let now = Utc::now();
    let today: DateTime<Utc> = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let first = today - Duration::days(days.max(1) - 1);
    // `span` is the part of a timeline row inside the day; `now()` ends the open row.
    let done = sqlx::query(
        "INSERT INTO monitor_daily (monitor_id, project_id, day, observed_secs, degraded_secs, \
         down_secs) \
         SELECT t.monitor_id, t.project_id, (d.start AT TIME ZONE 'UTC')::date, \
                round(sum(x.span))::int, \
                round(COALESCE(sum(x.span) FILTER (WHERE NOT s.is_operational AND NOT s.is_offline), 0))::int, \
                round(COALESCE(sum(x.span) FILTER (WHERE s.is_offline), 0))::int \
         FROM generate_series($1::timestamptz, $2::timestamptz, interval '24 hours') AS d(start) \
         JOIN monitor_status_timeline t ON t.starts_at < d.start + interval '24 hours' \
              AND (t.ends_at IS NULL OR t.ends_at > d.start) \
         JOIN monitor_statuses s ON s.id = t.status_id \
         CROSS JOIN LATERAL (SELECT extract(epoch FROM \
              least(COALESCE(t.ends_at, $3), d.start + interval '24 hours') \
              - greatest(t.starts_at, d.start)) AS span) x \
         WHERE x.span > 0 AND (t.ends_at IS NULL OR t.ends_at > $1) \
         GROUP BY t.monitor_id, t.project_id, d.start \
         ON CONFLICT (monitor_id, day) DO UPDATE SET observed_secs = EXCLUDED.observed_secs, \
              degraded_secs = EXCLUDED.degraded_secs, down_secs = EXCLUDED.down_secs",
    )
    .bind(first)
    .bind(today)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
