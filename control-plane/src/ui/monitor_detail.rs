//! A monitor's page: its status (or "no data yet"), the latest result of each probe with its
//! failed phase, timings and certificate, the status timeline, its recent incidents, and the
//! response-time chart over 24 h to 90 days — drawn by uPlot from the API's aggregated series,
//! summarised in a table that needs no JavaScript. The status part updates live.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{SignedIn, error_page, page};
use super::project_nav::ProjectNav;
use crate::access::SessionUser;
use crate::api::incidents::{IncidentFilter, incidents_of};
use crate::api::monitor_history::{Range, latest_results_of, response_times_of};
use crate::api::monitors::monitor_of;
use crate::api::probes::probes_of;
use crate::api::statuses::{statuses_of, timeline_of};
use crate::api::{AppState, PageQuery};
use crate::error::ApiError;

/// The chart's ranges: `(name, label, seconds)`.
const RANGES: [(&str, &str, i64); 4] = [
    ("24h", "24 hours", 86_400),
    ("7d", "7 days", 7 * 86_400),
    ("30d", "30 days", 30 * 86_400),
    ("90d", "90 days", 90 * 86_400),
];

pub(super) fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

struct LatestRow {
    probe: String,
    at: String,
    online: bool,
    response: String,
    failed_phase: String,
    error: String,
    details: Vec<(String, String)>,
}

struct TimelineRow {
    status: String,
    color: String,
    from: String,
    to: Option<String>,
    reason: String,
}

#[derive(Template)]
#[template(path = "monitor_detail.html")]
struct DetailPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    csrf: String,
    id: Uuid,
    name: String,
    kind: &'static str,
    enabled: bool,
    interval: i32,
    target: String,
    status: String,
    status_color: String,
    known: bool,
    since: String,
    last: String,
    key_hint: Option<String>,
    latest: Vec<LatestRow>,
    timeline: Vec<TimelineRow>,
    /// `(id, number, title, state)`.
    incidents: Vec<(Uuid, i64, String, String)>,
    range: String,
    ranges: Vec<(&'static str, &'static str)>,
    from_param: String,
    to_param: String,
    probe_names_json: String,
    /// `(probe, results, offline, mean, slowest)`.
    summary: Vec<(String, u64, u64, String, String)>,
}

#[derive(Deserialize)]
pub(super) struct DetailQuery {
    range: Option<String>,
}

/// What a monitor checks, in one line.
fn target(settings: &serde_json::Value) -> String {
    let get = |k: &str| settings.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let port = settings.get("port").and_then(serde_json::Value::as_u64);
    if !get("url").is_empty() {
        format!("{} {}", get("method"), get("url"))
            .trim()
            .to_owned()
    } else if !get("record_type").is_empty() {
        format!("{} {}", get("record_type"), get("name"))
    } else if let Some(port) = port {
        format!("{}:{port}", get("host"))
    } else if !get("host").is_empty() {
        get("host").to_owned()
    } else {
        "pushed to Vigil".to_owned()
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.1} ms"))
}

async fn render(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    monitor_id: Uuid,
    range_name: &str,
) -> Result<Response, ApiError> {
    let caller = user.caller();
    let monitor = monitor_of(&state.pool, &caller, project_id, monitor_id).await?;
    let nav = ProjectNav::of(state, user, project_id, "").await?;
    let all = PageQuery::first(200);
    let statuses = statuses_of(&state.pool, &caller, project_id, &all).await?;
    let status = statuses
        .items
        .iter()
        .find(|s| s.id == monitor.current_status_id);
    let probes = probes_of(&state.pool, &caller, project_id, &all).await?;
    let probe_names: HashMap<Uuid, String> =
        probes.items.into_iter().map(|p| (p.id, p.name)).collect();
    let probe_name = |id: Option<Uuid>| match id {
        Some(id) => probe_names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("probe {}", &id.to_string()[..8])),
        None => "pushed".to_owned(),
    };
    // Without ClickHouse the page still shows what PostgreSQL knows, and says what is missing.
    let mut history_error = None;
    let mut unavailable = |e: ApiError| {
        tracing::warn!(error = %e, "monitor history unavailable");
        history_error = Some(
            "Results and response times are unavailable: the results store did not answer."
                .to_owned(),
        );
    };
    let latest = latest_results_of(state, &caller, project_id, monitor_id)
        .await
        .unwrap_or_else(|e| {
            unavailable(e);
            Vec::new()
        })
        .into_iter()
        .map(|r| {
            let mut details = Vec::new();
            let mut failed_phase = String::new();
            if let Some(fields) = r.result.as_object() {
                for (k, v) in fields {
                    match k.as_str() {
                        "failed_phase" => failed_phase = v.as_str().unwrap_or_default().to_owned(),
                        "is_online" | "is_timeout" | "response_time_ms" | "status_code"
                        | "error" => {}
                        "details" => {
                            for (dk, dv) in v.as_object().into_iter().flatten() {
                                details.push((dk.clone(), plain(dv)));
                            }
                        }
                        _ => details.push((k.clone(), plain(v))),
                    }
                }
            }
            if let Some(code) = r.status_code {
                details.insert(0, ("status_code".into(), code.to_string()));
            }
            LatestRow {
                probe: probe_name(r.probe_id),
                at: when(r.at),
                online: r.is_online,
                response: ms(r.response_time_ms),
                failed_phase,
                error: r.error.unwrap_or_default(),
                details,
            }
        })
        .collect();
    let timeline = timeline_of(
        &state.pool,
        &caller,
        project_id,
        monitor_id,
        &PageQuery::first(20),
    )
    .await?
    .items
    .into_iter()
    .map(|t| TimelineRow {
        status: t.status_name,
        color: t.color,
        from: when(t.starts_at),
        to: t.ends_at.map(when),
        reason: t.reason,
    })
    .collect();
    let incidents = incidents_of(
        &state.pool,
        &caller,
        project_id,
        &IncidentFilter {
            open: None,
            monitor_id: Some(monitor_id),
            severity_id: None,
        },
        &PageQuery::first(10),
    )
    .await?
    .items
    .into_iter()
    .map(|i| (i.id, i.number, i.title, i.state.name))
    .collect();
    let (range_name, _, secs) = RANGES
        .iter()
        .find(|r| r.0 == range_name)
        .copied()
        .unwrap_or(RANGES[0]);
    let range = Range::last(secs);
    let series = response_times_of(state, &caller, project_id, monitor_id, &range)
        .await
        .map(|r| r.series)
        .unwrap_or_else(|e| {
            unavailable(e);
            Vec::new()
        });
    let summary = series
        .iter()
        .map(|s| {
            let results: u64 = s.points.iter().map(|p| p.results).sum();
            let offline: u64 = s.points.iter().map(|p| p.offline).sum();
            let weighted: f64 = s
                .points
                .iter()
                .filter_map(|p| Some(p.avg_ms? * p.results as f64))
                .sum();
            let timed: u64 = s
                .points
                .iter()
                .filter(|p| p.avg_ms.is_some())
                .map(|p| p.results)
                .sum();
            let slowest = s.points.iter().filter_map(|p| p.max_ms).reduce(f64::max);
            (
                probe_name(s.probe_id),
                results,
                offline,
                ms((timed > 0).then(|| weighted / timed as f64)),
                ms(slowest),
            )
        })
        .collect();
    let stamp = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    let names: HashMap<String, &String> = probe_names
        .iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect();
    Ok(page(
        StatusCode::OK,
        &DetailPage {
            user: Some(user),
            error: history_error,
            csrf: user.csrf_token.clone(),
            id: monitor.id,
            kind: super::monitor_edit::kind_label(monitor.kind),
            enabled: monitor.enabled,
            interval: monitor.interval_secs,
            target: target(&monitor.settings),
            status: status.map_or_else(|| "unknown".to_owned(), |s| s.name.clone()),
            status_color: status.map_or_else(|| "#808080".to_owned(), |s| s.color.clone()),
            known: monitor.last_result_at.is_some(),
            since: when(monitor.status_since),
            last: monitor
                .last_result_at
                .map_or_else(|| "no data yet".to_owned(), when),
            key_hint: monitor.key_hint,
            name: monitor.name,
            latest,
            timeline,
            incidents,
            range: range_name.to_owned(),
            ranges: RANGES.iter().map(|r| (r.0, r.1)).collect(),
            from_param: stamp(range.from),
            to_param: stamp(range.to),
            probe_names_json: serde_json::to_string(&names).unwrap_or_default(),
            summary,
            nav,
        },
    ))
}

/// A JSON value as plain text (strings without quotes).
fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) async fn show(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, monitor_id)): Path<(Uuid, Uuid)>,
    Query(query): Query<DetailQuery>,
) -> Response {
    let range = query.range.as_deref().unwrap_or("24h");
    render(&state, &user, project_id, monitor_id, range)
        .await
        .unwrap_or_else(|e| error_page(Some(&user), &e))
}
