//! A project's incidents: open ones first, then the history a page at a time; one incident
//! with its timeline, affected monitors and severity; and, for members, declaring one by hand,
//! acknowledging, resolving, moving it to another state and adding notes — each through the
//! API's domain functions. Both pages update live when the worker opens or resolves one.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::monitor_detail::when;
use super::pages::{SignedIn, check_csrf, error_page, page, refusal};
use super::project_nav::ProjectNav;
use crate::access::SessionUser;
use crate::api::incident_levels::{LevelKind, levels_of};
use crate::api::incident_updates::{
    NewPublicUpdate, PublicStatus, Visibility, post_update, set_visibility, updates_of,
};
use crate::api::incidents::{
    Incident, IncidentFilter, NewIncidentBody, declare, incident_of, incidents_of, note_on,
    transition,
};
use crate::api::monitors::{MonitorFilter, monitor_names, monitors_of};
use crate::api::projects::members_of;
use crate::api::{AppState, PageQuery};
use crate::error::ApiError;
use crate::incident::StateKind;

/// Incidents per page of history.
const PAGE: i64 = 25;

struct IncidentRow {
    id: Uuid,
    number: i64,
    title: String,
    state: String,
    state_color: String,
    severity: String,
    severity_color: String,
    declared: String,
    resolved: Option<String>,
}

fn row(i: Incident) -> IncidentRow {
    IncidentRow {
        id: i.id,
        number: i.number,
        title: i.title,
        state: i.state.name,
        state_color: i.state.color,
        severity: i.severity.name,
        severity_color: i.severity.color,
        declared: when(i.declared_at),
        resolved: i.resolved_at.map(when),
    }
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct ListPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    csrf: String,
    here: String,
    open: Vec<IncidentRow>,
    history: Vec<IncidentRow>,
    previous: Option<String>,
    next: Option<String>,
    /// `(id, name, chosen in the filter)`.
    severities: Vec<(Uuid, String, bool)>,
    monitors: Vec<(Uuid, String)>,
    title: String,
    description: String,
}

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    offset: Option<i64>,
    #[serde(default)]
    severity: String,
}

/// What the declare form held when it was refused.
#[derive(Default)]
struct Typed {
    title: String,
    description: String,
}

async fn list_page(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    query: &ListQuery,
    refused: Option<(ApiError, Typed)>,
) -> Result<Response, ApiError> {
    let caller = user.caller();
    let nav = ProjectNav::of(state, user, project_id, "/incidents").await?;
    let offset = query.offset.unwrap_or(0);
    let severity_id = match query.severity.trim() {
        "" => None,
        s => Some(s.parse::<Uuid>().map_err(|_| {
            ApiError::BadRequest("severity: not a severity of this project".into())
        })?),
    };
    let filter = |open| IncidentFilter {
        open: Some(open),
        monitor_id: None,
        severity_id,
    };
    let open = incidents_of(
        &state.pool,
        &caller,
        project_id,
        &filter(true),
        &PageQuery::first(200),
    )
    .await?;
    let history = incidents_of(
        &state.pool,
        &caller,
        project_id,
        &filter(false),
        &PageQuery {
            limit: Some(PAGE),
            offset: Some(offset),
        },
    )
    .await?;
    let all = PageQuery::first(200);
    let severities = levels_of(&state.pool, &caller, project_id, LevelKind::Severity, &all).await?;
    let monitors = monitors_of(
        &state.pool,
        &caller,
        project_id,
        &MonitorFilter::default(),
        &all,
    )
    .await?;
    let link = |o: i64| {
        let params = [
            ("severity", query.severity.as_str()),
            ("offset", &o.to_string()),
        ];
        let encoded = serde_urlencoded::to_string(params).unwrap_or_default();
        format!("/projects/{project_id}/incidents?{encoded}")
    };
    let (refused, typed) = refused.map_or((None, Typed::default()), |(e, t)| (Some(e), t));
    let (status, error) = refusal(refused);
    Ok(page(
        status,
        &ListPage {
            user: Some(user),
            error,
            nav,
            csrf: user.csrf_token.clone(),
            here: link(offset),
            open: open.items.into_iter().map(row).collect(),
            previous: (offset > 0).then(|| link((offset - PAGE).max(0))),
            next: history.next_offset.map(link),
            history: history.items.into_iter().map(row).collect(),
            severities: severities
                .items
                .into_iter()
                .map(|s| (s.id, s.name, Some(s.id) == severity_id))
                .collect(),
            monitors: monitors.items.into_iter().map(|m| (m.id, m.name)).collect(),
            title: typed.title,
            description: typed.description,
        },
    ))
}

pub(super) async fn list(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Query(query): Query<ListQuery>,
) -> Response {
    list_page(&state, &user, project_id, &query, None)
        .await
        .unwrap_or_else(|e| error_page(Some(&user), &e))
}

/// `POST /projects/<id>/incidents`: declares one by hand.
pub(super) async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or(String::new(), |(_, v)| v.clone())
    };
    let typed = Typed {
        title: field("title"),
        description: field("description"),
    };
    let declared = async {
        check_csrf(&user, &field("csrf_token"))?;
        let severity_id = field("severity")
            .parse()
            .map_err(|_| ApiError::BadRequest("choose a severity".into()))?;
        let monitor_ids = pairs
            .iter()
            .filter(|(k, _)| k == "monitor")
            .filter_map(|(_, v)| v.parse().ok())
            .take(200)
            .collect();
        let new = NewIncidentBody {
            title: typed.title.clone(),
            description: typed.description.clone(),
            severity_id,
            monitor_ids,
        };
        declare(&state.pool, &user.caller(), project_id, new).await
    };
    match declared.await {
        Ok(incident) => Redirect::to(&format!("/projects/{project_id}/incidents/{}", incident.id))
            .into_response(),
        Err(e @ ApiError::BadRequest(_)) => list_page(
            &state,
            &user,
            project_id,
            &ListQuery::default(),
            Some((e, typed)),
        )
        .await
        .unwrap_or_else(|e| error_page(Some(&user), &e)),
        Err(e) => error_page(Some(&user), &e),
    }
}

struct TimelineRow {
    at: String,
    state: Option<String>,
    note: Option<String>,
    by: String,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct DetailPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    csrf: String,
    incident: IncidentRow,
    /// The description, its web addresses as links (a telemetry monitor's query).
    description: Vec<Piece>,
    open: bool,
    acknowledged: bool,
    source: Option<String>,
    monitors: Vec<(Uuid, String)>,
    timeline: Vec<TimelineRow>,
    states: Vec<(Uuid, String)>,
    hidden: bool,
    /// (status, text, when), oldest first.
    public_updates: Vec<(&'static str, String, String)>,
}

async fn detail_page(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    incident_id: Uuid,
    refused: Option<ApiError>,
) -> Result<Response, ApiError> {
    let caller = user.caller();
    let nav = ProjectNav::of(state, user, project_id, "/incidents").await?;
    let detail = incident_of(&state.pool, &caller, project_id, incident_id).await?;
    let i = detail.incident;
    let names = monitor_names(&state.pool, &caller, project_id, &i.monitor_ids).await?;
    let users: HashMap<Uuid, String> =
        members_of(&state.pool, &caller, project_id, &PageQuery::first(200))
            .await?
            .items
            .into_iter()
            .map(|m| (m.user_id, m.name))
            .collect();
    let states = levels_of(
        &state.pool,
        &caller,
        project_id,
        LevelKind::State,
        &PageQuery::first(200),
    )
    .await?;
    let source = i.source_criterion.as_ref().map(|criterion| {
        let monitor = i
            .source_monitor_id
            .and_then(|m| names.iter().find(|(id, _)| *id == m))
            .map_or("a monitor", |(_, name)| name.as_str());
        format!("opened by {monitor}: criterion “{criterion}”")
    });
    let public_updates = updates_of(&state.pool, &caller, project_id, incident_id)
        .await?
        .into_iter()
        .map(|u| (u.status.as_str(), u.body, when(u.created_at)))
        .collect();
    let (status, error) = refusal(refused);
    Ok(page(
        status,
        &DetailPage {
            hidden: i.hidden_from_status_pages,
            public_updates,
            user: Some(user),
            error,
            nav,
            csrf: user.csrf_token.clone(),
            description: pieces(&i.description),
            open: i.resolved_at.is_none(),
            acknowledged: i.acknowledged_at.is_some(),
            source,
            monitors: names,
            timeline: detail
                .timeline
                .into_iter()
                .map(|t| TimelineRow {
                    at: when(t.at),
                    state: t.state,
                    note: t.note,
                    by: t
                        .user_id
                        .and_then(|u| users.get(&u).cloned())
                        .unwrap_or_else(|| "Vigil".to_owned()),
                })
                .collect(),
            states: states.items.into_iter().map(|s| (s.id, s.name)).collect(),
            incident: row(i),
        },
    ))
}

pub(super) async fn show(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, incident_id)): Path<(Uuid, Uuid)>,
) -> Response {
    detail_page(&state, &user, project_id, incident_id, None)
        .await
        .unwrap_or_else(|e| error_page(Some(&user), &e))
}

#[derive(Deserialize)]
pub(super) struct ActionForm {
    csrf_token: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    state_id: Option<Uuid>,
    /// A public update's status.
    #[serde(default)]
    status: Option<PublicStatus>,
    #[serde(default)]
    body: String,
    /// `true` to keep it off status pages.
    #[serde(default)]
    hidden: Option<bool>,
}

/// `POST /projects/<id>/incidents/<incident>/<action>`: acknowledge, resolve, state, note,
/// a public update, shown on status pages or not.
pub(super) async fn act(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, incident_id, action)): Path<(Uuid, Uuid, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let done = async {
        check_csrf(&user, &form.csrf_token)?;
        let caller = user.caller();
        let pool = &state.pool;
        match action.as_str() {
            "acknowledge" => transition(
                pool,
                &caller,
                project_id,
                incident_id,
                Ok(StateKind::Acknowledged),
            )
            .await
            .map(drop),
            "resolve" => transition(
                pool,
                &caller,
                project_id,
                incident_id,
                Ok(StateKind::Resolved),
            )
            .await
            .map(drop),
            "state" => {
                let state_id = form
                    .state_id
                    .ok_or_else(|| ApiError::BadRequest("choose a state".into()))?;
                transition(pool, &caller, project_id, incident_id, Err(state_id))
                    .await
                    .map(drop)
            }
            "notes" => note_on(pool, &caller, project_id, incident_id, &form.note).await,
            "public-updates" => {
                let new = NewPublicUpdate {
                    status: form
                        .status
                        .ok_or_else(|| ApiError::BadRequest("choose a status".into()))?,
                    body: form.body.clone(),
                };
                post_update(pool, &caller, project_id, incident_id, new)
                    .await
                    .map(drop)
            }
            "visibility" => {
                let visibility = Visibility {
                    hidden_from_status_pages: form.hidden.unwrap_or(false),
                };
                set_visibility(pool, &caller, project_id, incident_id, &visibility).await
            }
            _ => Err(ApiError::NotFound("page")),
        }
    };
    match done.await {
        Ok(()) => {
            Redirect::to(&format!("/projects/{project_id}/incidents/{incident_id}")).into_response()
        }
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
            detail_page(&state, &user, project_id, incident_id, Some(e))
                .await
                .unwrap_or_else(|e| error_page(Some(&user), &e))
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// A run of a description: text, or a web address shown as a link to itself.
struct Piece {
    text: String,
    link: bool,
}

/// `text` cut into runs where `http://` and `https://` addresses start and end (at
/// whitespace); nothing else becomes a link, so a description cannot link `javascript:`.
fn pieces(text: &str) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut push = |text: &str, link: bool| match out.last_mut() {
        Some(last) if !last.link && !link => last.text.push_str(text),
        _ => out.push(Piece {
            text: text.to_owned(),
            link,
        }),
    };
    for word in text.split_inclusive(char::is_whitespace) {
        let address = word.trim_end();
        if address.starts_with("https://") || address.starts_with("http://") {
            push(address, true);
            push(&word[address.len()..], false);
        } else {
            push(word, false);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_a_description_become_links_and_nothing_else() {
        let p =
            pieces("count: 5 — https://v.test/projects/x/logs?q=a%20b\nmore javascript:alert(1)");
        let runs: Vec<(&str, bool)> = p.iter().map(|p| (p.text.as_str(), p.link)).collect();
        assert_eq!(
            runs,
            [
                ("count: 5 — ", false),
                ("https://v.test/projects/x/logs?q=a%20b", true),
                ("\nmore javascript:alert(1)", false),
            ]
        );
    }
}
