//! The JSON API of Atlassian Statuspage's public v2, under `/status/{slug}/api/v2/`: the same
//! documents, field names and values (`indicator` none/minor/major/critical, component
//! `status` operational/degraded_performance/partial_outage/major_outage/under_maintenance,
//! incident `status` investigating/identified/monitoring/resolved, times ISO 8601 with the
//! page's offset), so tools written for Statuspage read Vigil unchanged.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::StatusPages;
use super::model::{
    GroupView, IncidentView, MaintenanceState, MaintenanceView, Model, ResourceView,
};

/// Most incidents and maintenance events a list document holds (Statuspage's own bound).
const LIST_MAX: usize = 50;

fn time(model: &Model, at: DateTime<Utc>) -> String {
    model
        .local(at)
        .to_rfc3339_opts(SecondsFormat::Millis, false)
}

fn page_url(headers: &HeaderMap, model: &Model) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|s| *s == "https" || *s == "http")
        .unwrap_or("http");
    format!("{scheme}://{host}/status/{}", model.page.slug)
}

fn page(headers: &HeaderMap, model: &Model) -> Value {
    json!({
        "id": model.page.id.simple().to_string(),
        "name": model.page.name,
        "url": page_url(headers, model),
        "time_zone": model.page.time_zone,
        "updated_at": time(model, model.built_at),
    })
}

fn status(model: &Model) -> Value {
    json!({
        "indicator": model.indicator.as_str(),
        "description": model.indicator.description(),
    })
}

fn resource(model: &Model, r: &ResourceView, group: Option<&GroupView>) -> Value {
    json!({
        "id": r.id.simple().to_string(),
        "name": r.name,
        "status": r.condition.as_str(),
        "created_at": time(model, model.page.updated_at.min(r.since)),
        "updated_at": time(model, r.since),
        "position": r.position,
        "description": (!r.description.is_empty()).then_some(&r.description),
        "showcase": true,
        "start_date": Value::Null,
        "group_id": group.map(|g| g.id.simple().to_string()),
        "page_id": model.page.id.simple().to_string(),
        "group": false,
        "only_show_if_degraded": false,
    })
}

fn components(model: &Model) -> Vec<Value> {
    let mut all: Vec<(i32, Value)> = model
        .resources
        .iter()
        .map(|r| (r.position, resource(model, r, None)))
        .collect();
    for g in &model.groups {
        let since = g
            .resources
            .iter()
            .map(|r| r.since)
            .max()
            .unwrap_or(model.page.updated_at);
        let first = g.resources.iter().map(|r| r.position).min().unwrap_or(0);
        all.push((
            first,
            json!({
                "id": g.id.simple().to_string(),
                "name": g.name,
                "status": g.condition.as_str(),
                "created_at": time(model, model.page.updated_at.min(since)),
                "updated_at": time(model, since),
                "position": first,
                "description": (!g.description.is_empty()).then_some(&g.description),
                "showcase": false,
                "start_date": Value::Null,
                "group_id": Value::Null,
                "page_id": model.page.id.simple().to_string(),
                "group": true,
                "only_show_if_degraded": false,
                "components": g.resources.iter().map(|r| r.id.simple().to_string()).collect::<Vec<_>>(),
            }),
        ));
        all.extend(
            g.resources
                .iter()
                .map(|r| (r.position, resource(model, r, Some(g)))),
        );
    }
    all.sort_by_key(|(position, _)| *position);
    all.into_iter().map(|(_, v)| v).collect()
}

/// The components among `ids`, as Statuspage lists them on incidents.
fn affected(model: &Model, ids: &[uuid::Uuid]) -> Vec<Value> {
    model
        .resources
        .iter()
        .map(|r| (r, None))
        .chain(
            model
                .groups
                .iter()
                .flat_map(|g| g.resources.iter().map(move |r| (r, Some(g)))),
        )
        .filter(|(r, _)| ids.contains(&r.id))
        .map(|(r, g)| resource(model, r, g))
        .collect()
}

fn incident(model: &Model, i: &IncidentView) -> Value {
    let id = i.id.simple().to_string();
    let components = affected(model, &i.resource_ids);
    let codes: Vec<Value> = components
        .iter()
        .map(|c| {
            json!({"code": c["id"], "name": c["name"], "old_status": c["status"], "new_status": c["status"]})
        })
        .collect();
    json!({
        "id": id,
        "name": i.name,
        "status": i.status.as_str(),
        "created_at": time(model, i.started_at),
        "updated_at": time(model, i.updated_at),
        "monitoring_at": i.monitoring_at.map(|t| time(model, t)),
        "resolved_at": i.resolved_at.map(|t| time(model, t)),
        "impact": i.impact.as_str(),
        "shortlink": Value::Null,
        "started_at": time(model, i.started_at),
        "page_id": model.page.id.simple().to_string(),
        "incident_updates": i.updates.iter().map(|u| json!({
            "id": u.id.simple().to_string(),
            "status": u.status.as_str(),
            "body": u.body,
            "incident_id": id,
            "created_at": time(model, u.at),
            "updated_at": time(model, u.at),
            "display_at": time(model, u.at),
            "affected_components": codes,
        })).collect::<Vec<_>>(),
        "components": components,
    })
}

fn maintenance(model: &Model, m: &MaintenanceView) -> Value {
    let id = m.id.simple().to_string();
    let status = m.state.as_str();
    let body = if m.description.is_empty() {
        m.title.clone()
    } else {
        m.description.clone()
    };
    let update_at = match m.state {
        MaintenanceState::Scheduled => m.created_at,
        MaintenanceState::InProgress => m.starts_at,
        MaintenanceState::Completed => m.ends_at,
    };
    json!({
        "id": id,
        "name": m.title,
        "status": status,
        "created_at": time(model, m.created_at),
        "updated_at": time(model, update_at),
        "monitoring_at": Value::Null,
        "resolved_at": (m.state == MaintenanceState::Completed).then(|| time(model, m.ends_at)),
        "impact": "maintenance",
        "shortlink": Value::Null,
        "started_at": time(model, m.starts_at),
        "page_id": model.page.id.simple().to_string(),
        "incident_updates": [{
            "id": uuid::Uuid::new_v5(&m.id, status.as_bytes()).simple().to_string(),
            "status": status,
            "body": body,
            "incident_id": id,
            "created_at": time(model, update_at),
            "updated_at": time(model, update_at),
            "display_at": time(model, update_at),
            "affected_components": [],
        }],
        "components": affected(model, &m.resource_ids),
        "scheduled_for": time(model, m.starts_at),
        "scheduled_until": time(model, m.ends_at),
    })
}

/// The document named by the path after `api/v2/`; `None` for a name Statuspage does not have.
fn document_of(headers: &HeaderMap, model: &Model, name: &str) -> Option<Value> {
    let incidents = |open_only: bool| -> Vec<Value> {
        model
            .incidents
            .iter()
            .filter(|i| !open_only || i.is_open())
            .take(LIST_MAX)
            .map(|i| incident(model, i))
            .collect()
    };
    let maint = |keep: &dyn Fn(MaintenanceState) -> bool| -> Vec<Value> {
        model
            .maintenance
            .iter()
            .filter(|m| keep(m.state))
            .take(LIST_MAX)
            .map(|m| maintenance(model, m))
            .collect()
    };
    let page = page(headers, model);
    Some(match name {
        "summary.json" => json!({
            "page": page,
            "components": components(model),
            "incidents": incidents(true),
            "scheduled_maintenances": maint(&|s| s != MaintenanceState::Completed),
            "status": status(model),
        }),
        "status.json" => json!({"page": page, "status": status(model)}),
        "components.json" => json!({"page": page, "components": components(model)}),
        "incidents.json" => json!({"page": page, "incidents": incidents(false)}),
        "incidents/unresolved.json" => json!({"page": page, "incidents": incidents(true)}),
        "scheduled-maintenances.json" => {
            json!({"page": page, "scheduled_maintenances": maint(&|_| true)})
        }
        "scheduled-maintenances/upcoming.json" => json!({
            "page": page,
            "scheduled_maintenances": maint(&|s| s == MaintenanceState::Scheduled),
        }),
        "scheduled-maintenances/active.json" => json!({
            "page": page,
            "scheduled_maintenances": maint(&|s| s == MaintenanceState::InProgress),
        }),
        _ => return None,
    })
}

/// `GET /status/{slug}/api/v2/{document}`.
pub(super) async fn document(
    State(state): State<StatusPages>,
    Path((slug, name)): Path<(String, String)>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let snapshot = match super::readable(&state, &slug, &parts, false).await {
        Ok(snapshot) => snapshot,
        Err(refusal) => return refusal,
    };
    let Some(value) = document_of(&parts.headers, &snapshot.model, &name) else {
        return super::not_found();
    };
    let mut response = super::rendered(
        &parts.headers,
        &snapshot,
        "application/json",
        value.to_string(),
    );
    // A public page's documents are public: scripts on other sites may read them, as they
    // read Statuspage's. A private page's are not shared with other origins.
    if snapshot.model.page.visibility == crate::api::status_pages::Visibility::Public {
        response.headers_mut().insert(
            axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            axum::http::HeaderValue::from_static("*"),
        );
    }
    response
}
