//! What a monitor's fields must satisfy beyond their types (numbers in range, criteria whose
//! statuses and severities are the project's, probe agreement), the defaults it gets (its
//! statuses and criteria), its probe assignments and its push key.

use sqlx::PgConnection;
use uuid::Uuid;

use super::owned::check_owned;
use crate::error::ApiError;
use crate::monitor::MonitorKind;
use crate::monitor::criteria::{self, Check, Criterion, Filter, IncidentTemplate, Matching, Op};
use crate::secret;

/// The numeric bounds of a monitor (the table's CHECKs, said clearly).
pub(super) fn check_numbers(
    interval: i32,
    timeout: i32,
    retries: i32,
    agreement: i32,
) -> Result<(), ApiError> {
    if !(10..=86_400).contains(&interval)
        || !(100..=60_000).contains(&timeout)
        || !(0..=5).contains(&retries)
        || !(1..=100).contains(&agreement)
    {
        return Err(ApiError::BadRequest(
            "interval_secs is 10 to 86400, timeout_ms 100 to 60000, retries 0 to 5 and \
             min_probe_agreement 1 to 100"
                .into(),
        ));
    }
    if i64::from(timeout) > i64::from(interval) * 1000 {
        return Err(ApiError::BadRequest(
            "timeout_ms cannot exceed the interval".into(),
        ));
    }
    Ok(())
}

/// Checks criteria: their shape, and that their statuses and severities are the project's.
pub(super) async fn check_criteria(
    db: &mut PgConnection,
    project_id: Uuid,
    criteria: &[Criterion],
) -> Result<(), ApiError> {
    if let Some(p) = criteria::problem(criteria) {
        return Err(ApiError::BadRequest(p));
    }
    let statuses: Vec<Uuid> = criteria.iter().map(|c| c.status_id).collect();
    check_owned(db, "monitor_statuses", project_id, &statuses).await?;
    let severities: Vec<Uuid> = criteria
        .iter()
        .filter_map(|c| c.incident.as_ref().map(|i| i.severity_id))
        .collect();
    check_owned(db, "incident_severities", project_id, &severities).await
}

pub(super) async fn set_probes(
    db: &mut PgConnection,
    project_id: Uuid,
    monitor_id: Uuid,
    probes: &[Uuid],
) -> Result<(), ApiError> {
    check_owned(db, "probes", project_id, probes).await?;
    sqlx::query("DELETE FROM monitor_probes WHERE monitor_id = $1 AND NOT (probe_id = ANY($2))")
        .bind(monitor_id)
        .bind(probes)
        .execute(&mut *db)
        .await?;
    sqlx::query(
        "INSERT INTO monitor_probes (monitor_id, probe_id, project_id) \
         SELECT $1, p, $3 FROM unnest($2::uuid[]) p ON CONFLICT DO NOTHING",
    )
    .bind(monitor_id)
    .bind(probes)
    .bind(project_id)
    .execute(db)
    .await?;
    Ok(())
}

/// The project's first status flagged `flag` (`is_operational` or `is_offline`).
pub(super) async fn status_flagged(
    db: &mut PgConnection,
    project_id: Uuid,
    flag: &'static str,
) -> Result<Uuid, ApiError> {
    let row: Option<(Uuid,)> = sqlx::query_as(&format!(
        "SELECT id FROM monitor_statuses WHERE project_id = $1 AND {flag} \
         ORDER BY position, created_at LIMIT 1"
    ))
    .bind(project_id)
    .fetch_optional(db)
    .await?;
    row.map(|(id,)| id).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "the project has no status with {flag}: name the statuses to use"
        ))
    })
}

/// Offline → the offline status, with a Critical incident resolved on recovery; for a
/// telemetry monitor, "Threshold": its value above 0 (a count of errors, say) does the same.
pub(super) async fn default_criteria(
    db: &mut PgConnection,
    project_id: Uuid,
    name: &str,
    kind: MonitorKind,
) -> Result<Vec<Criterion>, ApiError> {
    let offline = status_flagged(db, project_id, "is_offline").await?;
    let severity: Option<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM incident_severities WHERE project_id = $1 ORDER BY position LIMIT 1",
    )
    .bind(project_id)
    .fetch_optional(&mut *db)
    .await?;
    if kind.is_telemetry() {
        return Ok(vec![Criterion {
            name: "Threshold".into(),
            matching: Matching::All,
            filters: vec![Filter {
                check: Check::TelemetryValue,
                op: Op::Gt,
                value: Some(criteria::FilterValue::Number(0.0)),
            }],
            status_id: offline,
            incident: severity.map(|(severity_id,)| IncidentTemplate {
                title: format!("{name}: threshold crossed"),
                description: String::new(),
                severity_id,
                auto_resolve: true,
            }),
        }]);
    }
    let mut filters = vec![Filter {
        check: Check::IsOnline,
        op: Op::IsFalse,
        value: None,
    }];
    // A website that answers 5xx is down too.
    if matches!(kind, MonitorKind::Http | MonitorKind::Api) {
        filters.push(Filter {
            check: Check::StatusCode,
            op: Op::Gte,
            value: Some(criteria::FilterValue::Number(500.0)),
        });
    }
    Ok(vec![Criterion {
        name: "Offline".into(),
        matching: Matching::Any,
        filters,
        status_id: offline,
        incident: severity.map(|(severity_id,)| IncidentTemplate {
            title: format!("{name} is offline"),
            description: String::new(),
            severity_id,
            auto_resolve: true,
        }),
    }])
}

/// A new push key, or none for probe-checked kinds: `(secret, digest, hint)`.
pub(super) fn push_key(kind: MonitorKind) -> Result<Option<(String, String, String)>, ApiError> {
    if !kind.is_push() {
        return Ok(None);
    }
    let key = secret::generate(secret::MONITOR_KEY)?;
    let (digest, hint) = (secret::digest(&key), secret::hint(&key));
    Ok(Some((key, digest, hint)))
}

/// Push monitors take no probes; agreement cannot ask for more probes than assigned.
pub(super) fn check_agreement(
    kind: MonitorKind,
    agreement: i32,
    probes: usize,
) -> Result<(), ApiError> {
    if !kind.is_probed() && probes > 0 {
        return Err(ApiError::BadRequest(
            "heartbeat, server, logs, traces and metrics monitors are not checked by probes".into(),
        ));
    }
    if agreement > 1 && agreement as usize > probes {
        return Err(ApiError::BadRequest(
            "min_probe_agreement cannot exceed the number of probes assigned".into(),
        ));
    }
    Ok(())
}
