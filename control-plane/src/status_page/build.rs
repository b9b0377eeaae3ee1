//! Builds a page's [`Model`] from PostgreSQL (settings, layout, current statuses, the per-day
//! rollups, incidents and their public updates, maintenance, announcements) and ClickHouse
//! (response-time charts, where shown). A fixed number of bounded queries whatever the page's
//! size; run once per change by the snapshot cache, never per view.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Offset, Utc};
use uuid::Uuid;

use super::model::{
    AnnouncementView, Condition, Day, GroupView, Impact, IncidentView, MaintenanceState,
    MaintenanceView, Model, PageInfo, ResourceView, UpdateView, group_condition, indicator, uptime,
    uptimes,
};
use crate::api::AppState;
use crate::api::incident_updates::PublicStatus;
use crate::api::status_page_layout::GroupRule;
use crate::api::status_pages::Visibility;
use crate::error::ApiError;
use crate::worker::rollups::DAYS;

/// Incidents older than this (resolved before it) leave the page's history.
const HISTORY_DAYS: i64 = 365;
/// Most incidents a page lists.
const MAX_INCIDENTS: i64 = 1000;
/// Most maintenance events a page lists.
const MAX_MAINTENANCE: i64 = 200;
/// Most announcements shown at once.
const MAX_ANNOUNCEMENTS: i64 = 20;

type PageRow = (
    Uuid,
    String,
    String,
    String,
    String,
    serde_json::Value,
    String,
    Option<i32>,
    bool,
    String,
    Option<String>,
    bool,
    bool,
    DateTime<Utc>,
);

/// The page `page_id`'s model, now.
pub(crate) async fn build(state: &AppState, page_id: Uuid) -> Result<Model, ApiError> {
    let pool = &state.pool;
    let now = Utc::now();
    let row: PageRow = sqlx::query_as(
        "SELECT p.project_id, p.name, p.slug, p.description, p.brand_color, p.footer_links, \
         p.time_zone, EXTRACT(epoch FROM z.utc_offset)::int, p.noindex, p.visibility, \
         p.password_hash, p.logo IS NOT NULL, p.subscriber_channel_id IS NOT NULL, p.updated_at \
         FROM status_pages p LEFT JOIN pg_timezone_names z ON z.name = p.time_zone \
         WHERE p.id = $1",
    )
    .bind(page_id)
    .fetch_optional(pool)
    .await?
    .ok_or(ApiError::NotFound("status page"))?;
    let (
        project_id,
        name,
        slug,
        description,
        brand_color,
        footer_links,
        time_zone,
        offset_secs,
        noindex,
        visibility,
        password_hash,
        has_logo,
        takes_email,
        updated_at,
    ) = row;
    let page = PageInfo {
        id: page_id,
        project_id,
        name,
        slug,
        description,
        brand_color,
        footer_links: serde_json::from_value(footer_links).unwrap_or_default(),
        time_zone,
        offset: FixedOffset::east_opt(offset_secs.unwrap_or(0)).unwrap_or(Utc.fix()),
        noindex,
        visibility: Visibility::parse(&visibility)?,
        password_hash,
        has_logo,
        takes_email,
        updated_at,
    };

    let groups: Vec<(Uuid, String, String, String, i32)> = sqlx::query_as(
        "SELECT id, name, description, rule, position FROM status_page_groups \
         WHERE page_id = $1 ORDER BY position",
    )
    .bind(page_id)
    .fetch_all(pool)
    .await?;
    type ResourceRow = (
        Option<Uuid>,
        Uuid,
        String,
        String,
        bool,
        i32,
        bool,
        bool,
        DateTime<Utc>,
    );
    let rows: Vec<ResourceRow> = sqlx::query_as(
        "SELECT r.group_id, r.monitor_id, r.display_name, r.description, r.show_chart, \
         r.position, s.is_operational, s.is_offline, m.status_since \
         FROM status_page_resources r JOIN monitors m ON m.id = r.monitor_id \
         JOIN monitor_statuses s ON s.id = m.current_status_id \
         WHERE r.page_id = $1 ORDER BY r.position",
    )
    .bind(page_id)
    .fetch_all(pool)
    .await?;
    let monitor_ids: Vec<Uuid> = rows.iter().map(|r| r.1).collect();
    let resource_id = |monitor: Uuid| Uuid::new_v5(&page_id, monitor.as_bytes());

    // Maintenance that covers the page's monitors (a window naming none covers them all).
    type WindowRow = (
        Uuid,
        String,
        String,
        DateTime<Utc>,
        DateTime<Utc>,
        DateTime<Utc>,
        Vec<Uuid>,
    );
    let windows: Vec<WindowRow> = sqlx::query_as(
        "SELECT id, title, description, starts_at, ends_at, created_at, monitor_ids \
             FROM maintenance_windows WHERE project_id = $1 AND show_on_status_pages \
             AND ends_at > $2 AND (cardinality(monitor_ids) = 0 OR monitor_ids && $3) \
             ORDER BY starts_at DESC LIMIT $4",
    )
    .bind(project_id)
    .bind(now - Duration::days(DAYS))
    .bind(&monitor_ids)
    .bind(MAX_MAINTENANCE)
    .fetch_all(pool)
    .await?;
    let mut maintenance: Vec<MaintenanceView> = windows
        .into_iter()
        .filter(|_| !monitor_ids.is_empty())
        .map(
            |(id, title, description, starts_at, ends_at, created_at, covered)| {
                let resource_ids = monitor_ids
                    .iter()
                    .filter(|m| covered.is_empty() || covered.contains(m))
                    .map(|m| resource_id(*m))
                    .collect();
                MaintenanceView {
                    id,
                    title,
                    description,
                    starts_at,
                    ends_at,
                    created_at,
                    state: MaintenanceState::at(now, starts_at, ends_at),
                    resource_ids,
                }
            },
        )
        .collect();
    maintenance.sort_by_key(|m| match m.state {
        MaintenanceState::Completed => (1, -m.ends_at.timestamp()),
        _ => (0, m.starts_at.timestamp()),
    });
    let in_maintenance = |resource: Uuid| {
        maintenance
            .iter()
            .any(|m| m.state == MaintenanceState::InProgress && m.resource_ids.contains(&resource))
    };

    // Day cells, oldest first, from the rollups.
    let first_day = now.date_naive() - Duration::days(DAYS - 1);
    let daily: Vec<(Uuid, NaiveDate, i32, i32, i32)> = sqlx::query_as(
        "SELECT monitor_id, day, observed_secs, degraded_secs, down_secs FROM monitor_daily \
         WHERE monitor_id = ANY($1) AND day >= $2",
    )
    .bind(&monitor_ids)
    .bind(first_day)
    .fetch_all(pool)
    .await?;
    let empty_days: Vec<Day> = (0..DAYS)
        .map(|i| Day::empty(first_day + Duration::days(i)))
        .collect();
    let mut days: HashMap<Uuid, Vec<Day>> = HashMap::new();
    for (monitor, day, observed, degraded, down) in daily {
        let cells = days.entry(monitor).or_insert_with(|| empty_days.clone());
        if let Some(cell) = usize::try_from((day - first_day).num_days())
            .ok()
            .and_then(|i| cells.get_mut(i))
        {
            cell.observed_secs = observed.into();
            cell.degraded_secs = degraded.into();
            cell.down_secs = down.into();
        }
    }
    // The last 24 hours exactly, from the timeline (a few rows per monitor).
    let last_day: Vec<(Uuid, f64, f64)> = sqlx::query_as(
        "SELECT t.monitor_id, sum(x.span), COALESCE(sum(x.span) FILTER (WHERE s.is_offline), 0) \
         FROM monitor_status_timeline t JOIN monitor_statuses s ON s.id = t.status_id \
         CROSS JOIN LATERAL (SELECT extract(epoch FROM least(COALESCE(t.ends_at, $2), $2) \
              - greatest(t.starts_at, $2 - interval '24 hours'))::float8 AS span) x \
         WHERE t.monitor_id = ANY($1) AND (t.ends_at IS NULL OR t.ends_at > $2 - interval '24 hours') \
         AND x.span > 0 GROUP BY t.monitor_id",
    )
    .bind(&monitor_ids)
    .bind(now)
    .fetch_all(pool)
    .await?;
    let last_day: HashMap<Uuid, (i64, i64)> = last_day
        .into_iter()
        .map(|(m, observed, down)| (m, (observed as i64, down as i64)))
        .collect();

    // Incidents touching the page's monitors, not hidden, open or within the history.
    type IncidentRow = (
        Uuid,
        i64,
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        i64,
        Vec<Uuid>,
    );
    let incident_rows: Vec<IncidentRow> = sqlx::query_as(
        "SELECT i.id, i.number, i.title, i.declared_at, i.acknowledged_at, i.resolved_at, \
         (SELECT count(*) FROM incident_severities o WHERE o.project_id = i.project_id \
          AND (o.position, o.id) < (sv.position, sv.id)), \
         ARRAY(SELECT im.monitor_id FROM incident_monitors im \
               WHERE im.incident_id = i.id AND im.monitor_id = ANY($2)) \
         FROM incidents i JOIN incident_severities sv ON sv.id = i.severity_id \
         WHERE i.project_id = $1 AND NOT i.hidden_from_status_pages \
         AND (i.resolved_at IS NULL OR i.resolved_at > $3) \
         AND EXISTS (SELECT 1 FROM incident_monitors im \
                     WHERE im.incident_id = i.id AND im.monitor_id = ANY($2)) \
         ORDER BY i.declared_at DESC LIMIT $4",
    )
    .bind(project_id)
    .bind(&monitor_ids)
    .bind(now - Duration::days(HISTORY_DAYS))
    .bind(MAX_INCIDENTS)
    .fetch_all(pool)
    .await?;
    let incident_ids: Vec<Uuid> = incident_rows.iter().map(|r| r.0).collect();
    let update_rows: Vec<(Uuid, Uuid, String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT incident_id, id, status, body, created_at FROM incident_public_updates \
         WHERE incident_id = ANY($1) ORDER BY created_at DESC, id",
    )
    .bind(&incident_ids)
    .fetch_all(pool)
    .await?;
    let mut updates: HashMap<Uuid, Vec<UpdateView>> = HashMap::new();
    for (incident, id, status, body, at) in update_rows {
        if let Some(status) = PublicStatus::parse(&status) {
            updates.entry(incident).or_default().push(UpdateView {
                id,
                status,
                body,
                at,
            });
        }
    }
    let incidents: Vec<IncidentView> = incident_rows
        .into_iter()
        .map(
            |(id, number, title, declared, acknowledged, resolved, rank, monitors)| {
                public_incident(
                    id,
                    number,
                    title,
                    declared,
                    acknowledged,
                    resolved,
                    Impact::of_rank(rank),
                    monitors.into_iter().map(resource_id).collect(),
                    updates.remove(&id).unwrap_or_default(),
                )
            },
        )
        .collect();

    let announcements: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT title, body, starts_at FROM status_page_announcements \
         WHERE page_id = $1 AND starts_at <= $2 AND (ends_at IS NULL OR ends_at > $2) \
         ORDER BY starts_at DESC LIMIT $3",
    )
    .bind(page_id)
    .bind(now)
    .bind(MAX_ANNOUNCEMENTS)
    .fetch_all(pool)
    .await?;

    // Charts are a nicety: without ClickHouse the page still shows everything else.
    let charted: Vec<Uuid> = rows.iter().filter(|r| r.4).map(|r| r.1).collect();
    let charts = if charted.is_empty() {
        BTreeMap::new()
    } else {
        crate::api::monitor_history::sparklines(state, project_id, &charted)
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, page = %page_id, "status page charts not read");
                BTreeMap::new()
            })
    };

    let mut resources: Vec<ResourceView> = rows
        .into_iter()
        .map(
            |(group_id, monitor_id, name, description, show_chart, position, ok, off, since)| {
                let id = resource_id(monitor_id);
                let mut cells = days
                    .remove(&monitor_id)
                    .unwrap_or_else(|| empty_days.clone());
                mark_incidents(&mut cells, &incidents, id, now);
                let (observed, down) = last_day.get(&monitor_id).copied().unwrap_or((0, 0));
                let condition = if in_maintenance(id) {
                    Condition::UnderMaintenance
                } else {
                    Condition::of_status(ok, off)
                };
                ResourceView {
                    id,
                    monitor_id,
                    group_id,
                    name,
                    description,
                    condition,
                    since,
                    position,
                    uptime: uptimes(&cells, uptime(observed, down)),
                    days: cells,
                    chart: show_chart.then(|| {
                        charts
                            .get(&monitor_id)
                            .cloned()
                            .unwrap_or_else(|| vec![None; 24])
                    }),
                }
            },
        )
        .collect();

    let groups: Vec<GroupView> = groups
        .into_iter()
        .map(|(group_id, name, description, rule, position)| {
            let members: Vec<ResourceView> = resources
                .iter()
                .filter(|r| r.group_id == Some(group_id))
                .cloned()
                .collect();
            let conditions: Vec<Condition> = members.iter().map(|r| r.condition).collect();
            let mut cells = empty_days.clone();
            for member in &members {
                for (cell, day) in cells.iter_mut().zip(&member.days) {
                    cell.add(day);
                    for incident in &day.incidents {
                        if !cell.incidents.contains(incident) {
                            cell.incidents.push(incident.clone());
                        }
                    }
                }
            }
            let (observed, down) = members
                .iter()
                .filter_map(|m| last_day.get(&m.monitor_id))
                .fold((0, 0), |(o, d), (mo, md)| (o + mo, d + md));
            GroupView {
                id: Uuid::new_v5(&page_id, format!("group:{position}:{name}").as_bytes()),
                name,
                description,
                condition: group_condition(GroupRule::parse(&rule), &conditions),
                uptime: uptimes(&cells, uptime(observed, down)),
                days: cells,
                resources: members,
            }
        })
        .collect();
    resources.retain(|r| r.group_id.is_none());

    let conditions: Vec<Condition> = resources
        .iter()
        .chain(groups.iter().flat_map(|g| g.resources.iter()))
        .map(|r| r.condition)
        .collect();
    let open_impacts: Vec<Impact> = incidents
        .iter()
        .filter(|i| i.is_open())
        .map(|i| i.impact)
        .collect();
    Ok(Model {
        indicator: indicator(&conditions, &open_impacts),
        page,
        built_at: now,
        resources,
        groups,
        incidents,
        maintenance,
        announcements: announcements
            .into_iter()
            .map(|(title, body, starts_at)| AnnouncementView {
                title,
                body,
                starts_at,
            })
            .collect(),
    })
}

/// An incident as the public reads it. Its public state is the latest public update's (the
/// incident's own when it has none: acknowledged reads "identified"); a resolved incident, or
/// one whose latest update says resolved, is resolved. An incident with no public update gets
/// one saying it is being investigated (and one saying it is resolved, once it is), so that
/// readers never see an incident without a word — the internal title and notes aside, nothing
/// else of it is shown.
#[allow(clippy::too_many_arguments)]
fn public_incident(
    id: Uuid,
    number: i64,
    name: String,
    declared: DateTime<Utc>,
    acknowledged: Option<DateTime<Utc>>,
    resolved: Option<DateTime<Utc>>,
    impact: Impact,
    resource_ids: Vec<Uuid>,
    mut updates: Vec<UpdateView>,
) -> IncidentView {
    let written = !updates.is_empty();
    if !written {
        updates.push(UpdateView {
            id: Uuid::new_v5(&id, b"opened"),
            status: PublicStatus::Investigating,
            body: "We are investigating this issue.".into(),
            at: declared,
        });
    }
    let latest = updates.first().map(|u| (u.status, u.at));
    let resolved_at = resolved.or(match latest {
        Some((PublicStatus::Resolved, at)) => Some(at),
        _ => None,
    });
    if let Some(at) = resolved
        && latest.is_none_or(|(status, _)| status != PublicStatus::Resolved)
    {
        updates.insert(
            0,
            UpdateView {
                id: Uuid::new_v5(&id, b"resolved"),
                status: PublicStatus::Resolved,
                body: "This incident has been resolved.".into(),
                at,
            },
        );
    }
    let status = match (resolved_at, latest) {
        (Some(_), _) => PublicStatus::Resolved,
        (None, Some((status, _))) if written => status,
        (None, _) if acknowledged.is_some() => PublicStatus::Identified,
        (None, _) => PublicStatus::Investigating,
    };
    let monitoring_at = updates
        .iter()
        .rev()
        .find(|u| u.status == PublicStatus::Monitoring)
        .map(|u| u.at);
    let updated_at = updates.first().map_or(declared, |u| u.at);
    IncidentView {
        id,
        number,
        name,
        status,
        impact,
        started_at: declared,
        updated_at,
        monitoring_at,
        resolved_at,
        updates,
        resource_ids,
    }
}

/// Puts on each day cell of `resource` the incidents affecting it that were open that day.
fn mark_incidents(
    cells: &mut [Day],
    incidents: &[IncidentView],
    resource: Uuid,
    now: DateTime<Utc>,
) {
    for incident in incidents
        .iter()
        .filter(|i| i.resource_ids.contains(&resource))
    {
        let from = incident.started_at.date_naive();
        let to = incident.resolved_at.unwrap_or(now).date_naive();
        for cell in cells.iter_mut().filter(|c| c.date >= from && c.date <= to) {
            cell.incidents
                .push((incident.number, incident.name.clone()));
        }
    }
}
