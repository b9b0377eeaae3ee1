//! Creating and changing monitors through forms: choose a kind, fill in its form (settings,
//! schedule, probes and agreement, criteria), and see each refusal of the API's rules next to
//! the field it is about; enable or disable, and delete behind a confirmation page. A push
//! monitor's key is shown once, on the answer to its creation.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::monitor_criteria_form::{checks, ops};
use super::monitor_form::{MonitorDraft, field_of};
use super::pages::{ConfirmPage, CsrfForm, SignedIn, check_csrf, error_page, page};
use super::project_nav::ProjectNav;
use crate::access::SessionUser;
use crate::api::incident_levels::{LevelKind, levels_of};
use crate::api::monitors::{
    MonitorChange, change_monitor, create_monitor, delete_monitor, monitor_of,
};
use crate::api::probes::probes_of;
use crate::api::statuses::statuses_of;
use crate::api::{AppState, PageQuery};
use crate::error::ApiError;
use crate::monitor::MonitorKind;
use crate::monitor::telemetry::measures;

/// Every kind: `(kind, label, what it does)`.
pub(super) const KINDS: [(MonitorKind, &str, &str); 11] = [
    (
        MonitorKind::Http,
        "Website",
        "GET a URL; down when it does not answer or answers 5xx",
    ),
    (
        MonitorKind::Api,
        "API",
        "a request with a method, headers and a body",
    ),
    (MonitorKind::Tcp, "TCP port", "a port accepts connections"),
    (MonitorKind::Ping, "Ping", "ICMP echo: loss and round trip"),
    (MonitorKind::Dns, "DNS", "a name resolves, to what"),
    (
        MonitorKind::Ssl,
        "SSL certificate",
        "a certificate is valid and not about to expire",
    ),
    (
        MonitorKind::Heartbeat,
        "Heartbeat",
        "a cron job or service calls a URL on schedule",
    ),
    (
        MonitorKind::Server,
        "Server",
        "the server agent reports CPU, memory and disk",
    ),
    (
        MonitorKind::Logs,
        "Logs",
        "a count of logs matching a search, over a window",
    ),
    (
        MonitorKind::Traces,
        "Traces",
        "spans matching a search: count, error rate or duration",
    ),
    (
        MonitorKind::Metrics,
        "Metric",
        "a metric's average, sum, rate or percentile, over a window",
    ),
];

pub(super) fn kind_label(kind: MonitorKind) -> &'static str {
    KINDS
        .iter()
        .find(|k| k.0 == kind)
        .map_or("monitor", |k| k.1)
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const RECORD_TYPES: [&str; 10] = [
    "A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "PTR", "SRV", "CAA",
];

#[derive(Template)]
#[template(path = "monitor_kinds.html")]
struct KindsPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    kinds: Vec<(&'static str, &'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "monitor_form.html")]
struct FormPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    csrf: String,
    heading: String,
    action: String,
    button: &'static str,
    back: String,
    creating: bool,
    kind: &'static str,
    kind_label: &'static str,
    draft: MonitorDraft,
    methods: [&'static str; 7],
    record_types: [&'static str; 10],
    statuses: Vec<(String, String)>,
    severities: Vec<(String, String)>,
    probes: Vec<(Uuid, String, bool)>,
    /// Whether probes check the monitor (the probes fieldset and retries).
    probed: bool,
    /// Whether the worker measures it in the telemetry (and which measures it offers).
    telemetry: bool,
    measures: &'static [&'static str],
    checks: Vec<(String, String)>,
    ops: Vec<(String, &'static str)>,
    /// `(field, message)` of the API's refusal.
    problem: Option<(String, String)>,
}

impl FormPage<'_> {
    fn error_for(&self, field: impl AsRef<str>) -> Option<&str> {
        self.problem
            .as_ref()
            .filter(|(f, _)| f == field.as_ref())
            .map(|(_, m)| m.as_str())
    }
}

/// What renders the form: a new monitor (`monitor_id` none) or a change.
struct FormContext {
    kind: MonitorKind,
    monitor_id: Option<Uuid>,
}

async fn form_page(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    context: FormContext,
    draft: MonitorDraft,
    refused: Option<ApiError>,
) -> Result<Response, ApiError> {
    let caller = user.caller();
    let nav = ProjectNav::of(state, user, project_id, "").await?;
    let all = PageQuery::first(200);
    let statuses = statuses_of(&state.pool, &caller, project_id, &all).await?;
    let severities = levels_of(&state.pool, &caller, project_id, LevelKind::Severity, &all).await?;
    let probes = probes_of(&state.pool, &caller, project_id, &all).await?;
    let (status, problem) = match refused {
        Some(e) => {
            let (status, message) = e.for_people();
            (status, Some((field_of(&message), message)))
        }
        None => (StatusCode::OK, None),
    };
    let FormContext { kind, monitor_id } = context;
    let (heading, action, button, back) = match monitor_id {
        None => (
            format!("New {} monitor", kind_label(kind).to_lowercase()),
            format!("/projects/{project_id}/monitors?kind={}", kind.as_str()),
            "Create monitor",
            format!("/projects/{project_id}"),
        ),
        Some(id) => (
            format!("Edit “{}”", draft.name),
            format!("/projects/{project_id}/monitors/{id}/edit"),
            "Save changes",
            format!("/projects/{project_id}/monitors/{id}"),
        ),
    };
    Ok(page(
        status,
        &FormPage {
            user: Some(user),
            error: None,
            csrf: user.csrf_token.clone(),
            heading,
            action,
            button,
            back,
            creating: monitor_id.is_none(),
            kind: kind.as_str(),
            kind_label: kind_label(kind),
            methods: METHODS,
            record_types: RECORD_TYPES,
            statuses: statuses
                .items
                .into_iter()
                .map(|s| (s.id.to_string(), s.name))
                .collect(),
            severities: severities
                .items
                .into_iter()
                .map(|s| (s.id.to_string(), s.name))
                .collect(),
            probes: probes
                .items
                .into_iter()
                .map(|p| (p.id, p.name, draft.probes.contains(&p.id)))
                .collect(),
            probed: kind.is_probed(),
            telemetry: kind.is_telemetry(),
            measures: measures(kind),
            checks: checks(),
            ops: ops(),
            draft: draft.with_blank_rows(),
            problem,
            nav,
        },
    ))
}

#[derive(Deserialize)]
pub(super) struct KindQuery {
    kind: Option<String>,
}

fn parse_kind(kind: &str) -> Result<MonitorKind, ApiError> {
    MonitorKind::parse(kind)
        .ok_or_else(|| ApiError::BadRequest(format!("kind: `{kind}` is not a monitor kind")))
}

/// `/projects/<id>/monitors/new`: the kinds, then `?kind=` the form of one.
pub(super) async fn new_form(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Query(query): Query<KindQuery>,
) -> Response {
    let shown = async {
        let Some(kind) = query.kind.as_deref() else {
            let nav = ProjectNav::of(&state, &user, project_id, "").await?;
            return Ok(page(
                StatusCode::OK,
                &KindsPage {
                    user: Some(&user),
                    error: None,
                    nav,
                    kinds: KINDS.iter().map(|k| (k.0.as_str(), k.1, k.2)).collect(),
                },
            ));
        };
        let context = FormContext {
            kind: parse_kind(kind)?,
            monitor_id: None,
        };
        let draft = MonitorDraft::new_monitor();
        form_page(&state, &user, project_id, context, draft, None).await
    };
    shown
        .await
        .unwrap_or_else(|e: ApiError| error_page(Some(&user), &e))
}

#[derive(Template)]
#[template(path = "monitor_created.html")]
struct CreatedPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    monitor_id: Uuid,
    name: String,
    heartbeat: bool,
    key: String,
}

fn csrf_of(pairs: &[(String, String)]) -> &str {
    pairs
        .iter()
        .find(|(k, _)| k == "csrf_token")
        .map_or("", |(_, v)| v.as_str())
}

/// `POST /projects/<id>/monitors?kind=`: creates the monitor, or shows the form again with
/// the refusal next to its field.
pub(super) async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Query(query): Query<KindQuery>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let outcome = async {
        check_csrf(&user, csrf_of(&pairs))?;
        let kind = parse_kind(query.kind.as_deref().unwrap_or(""))?;
        let draft = MonitorDraft::from_pairs(&pairs);
        let created = match draft.to_new(kind) {
            Ok(new) => create_monitor(&state.pool, &user.caller(), project_id, new).await,
            Err(e) => Err(e),
        };
        match created {
            Ok(created) => match created.key {
                Some(key) => {
                    let nav = ProjectNav::of(&state, &user, project_id, "").await?;
                    Ok(page(
                        StatusCode::CREATED,
                        &CreatedPage {
                            user: Some(&user),
                            error: None,
                            nav,
                            monitor_id: created.monitor.id,
                            name: created.monitor.name,
                            heartbeat: kind == MonitorKind::Heartbeat,
                            key,
                        },
                    ))
                }
                None => Ok(Redirect::to(&format!(
                    "/projects/{project_id}/monitors/{}",
                    created.monitor.id
                ))
                .into_response()),
            },
            // Refusals the person can fix are shown on the form; others on an error page.
            Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
                let context = FormContext {
                    kind,
                    monitor_id: None,
                };
                form_page(&state, &user, project_id, context, draft, Some(e)).await
            }
            Err(e) => Err(e),
        }
    };
    outcome
        .await
        .unwrap_or_else(|e: ApiError| error_page(Some(&user), &e))
}

/// `/projects/<id>/monitors/<monitor>/edit`.
pub(super) async fn edit_form(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, monitor_id)): Path<(Uuid, Uuid)>,
) -> Response {
    let shown = async {
        let monitor = monitor_of(&state.pool, &user.caller(), project_id, monitor_id).await?;
        let context = FormContext {
            kind: monitor.kind,
            monitor_id: Some(monitor_id),
        };
        let draft = MonitorDraft::of(&monitor);
        form_page(&state, &user, project_id, context, draft, None).await
    };
    shown
        .await
        .unwrap_or_else(|e: ApiError| error_page(Some(&user), &e))
}

/// `POST /projects/<id>/monitors/<monitor>/edit`.
pub(super) async fn update(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, monitor_id)): Path<(Uuid, Uuid)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let outcome = async {
        check_csrf(&user, csrf_of(&pairs))?;
        let caller = user.caller();
        let kind = monitor_of(&state.pool, &caller, project_id, monitor_id)
            .await?
            .kind;
        let draft = MonitorDraft::from_pairs(&pairs);
        let changed = match draft.to_change(kind) {
            Ok(change) => {
                change_monitor(&state.pool, &caller, project_id, monitor_id, change).await
            }
            Err(e) => Err(e),
        };
        match changed {
            Ok(_) => Ok(
                Redirect::to(&format!("/projects/{project_id}/monitors/{monitor_id}"))
                    .into_response(),
            ),
            Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
                let context = FormContext {
                    kind,
                    monitor_id: Some(monitor_id),
                };
                form_page(&state, &user, project_id, context, draft, Some(e)).await
            }
            Err(e) => Err(e),
        }
    };
    outcome
        .await
        .unwrap_or_else(|e: ApiError| error_page(Some(&user), &e))
}

#[derive(Deserialize)]
pub(super) struct EnabledForm {
    csrf_token: String,
    enabled: bool,
}

/// `POST /projects/<id>/monitors/<monitor>/enabled`: turns checks on or off.
pub(super) async fn set_enabled(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, monitor_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<EnabledForm>,
) -> Response {
    let outcome = async {
        check_csrf(&user, &form.csrf_token)?;
        let change = MonitorChange {
            enabled: Some(form.enabled),
            ..MonitorChange::default()
        };
        change_monitor(&state.pool, &user.caller(), project_id, monitor_id, change).await
    };
    match outcome.await {
        Ok(_) => {
            Redirect::to(&format!("/projects/{project_id}/monitors/{monitor_id}")).into_response()
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// `/projects/<id>/monitors/<monitor>/delete`: asks first.
pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, monitor_id)): Path<(Uuid, Uuid)>,
) -> Response {
    match monitor_of(&state.pool, &user.caller(), project_id, monitor_id).await {
        Ok(monitor) => page(
            StatusCode::OK,
            &ConfirmPage {
                user: Some(&user),
                error: None,
                heading: "Delete this monitor?",
                question: format!(
                    "“{}” and its status history will be deleted; its results stay in \
                     ClickHouse until retention removes them. This cannot be undone.",
                    monitor.name
                ),
                action: format!("/projects/{project_id}/monitors/{monitor_id}/delete"),
                button: "Delete monitor",
                back: format!("/projects/{project_id}/monitors/{monitor_id}"),
            },
        ),
        Err(e) => error_page(Some(&user), &e),
    }
}

pub(super) async fn delete(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, monitor_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let outcome = async {
        check_csrf(&user, &form.csrf_token)?;
        delete_monitor(&state.pool, &user.caller(), project_id, monitor_id).await
    };
    match outcome.await {
        Ok(_) => Redirect::to(&format!("/projects/{project_id}")).into_response(),
        Err(e) => error_page(Some(&user), &e),
    }
}
