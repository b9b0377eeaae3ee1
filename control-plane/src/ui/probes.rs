//! A project's probes: each with its last contact, version, online or offline, and the
//! monitors assigned; admins register one and get its key once, with the exact command that
//! starts `vigil-probe` with it.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::monitor_detail::when;
use super::pages::{SignedIn, check_csrf, error_page, page};
use super::project_nav::ProjectNav;
use crate::access::SessionUser;
use crate::api::monitors::monitor_names;
use crate::api::probes::{probes_of, register_probe};
use crate::api::{AppState, PageQuery};
use crate::error::ApiError;

struct ProbeRow {
    name: String,
    hint: String,
    version: String,
    last_seen: String,
    online: bool,
    monitors: Vec<(Uuid, String)>,
}

#[derive(Template)]
#[template(path = "probes.html")]
struct ProbesPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    csrf: String,
    probes: Vec<ProbeRow>,
    /// The command that starts a just-registered probe (its key in it), shown once.
    command: Option<String>,
}

async fn probes_page(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    status: StatusCode,
    error: Option<String>,
    command: Option<String>,
) -> Result<Response, ApiError> {
    let caller = user.caller();
    let nav = ProjectNav::of(state, user, project_id, "/probes").await?;
    let probes = probes_of(&state.pool, &caller, project_id, &PageQuery::first(200)).await?;
    let assigned: Vec<Uuid> = probes
        .items
        .iter()
        .flat_map(|p| p.monitor_ids.iter().copied())
        .collect();
    let names: HashMap<Uuid, String> = monitor_names(&state.pool, &caller, project_id, &assigned)
        .await?
        .into_iter()
        .collect();
    let probes = probes
        .items
        .into_iter()
        .map(|p| ProbeRow {
            name: p.name,
            hint: p.hint,
            version: p.version.unwrap_or_else(|| "–".into()),
            last_seen: p.last_seen_at.map_or_else(|| "never".into(), when),
            online: p.is_online,
            monitors: p
                .monitor_ids
                .iter()
                .filter_map(|id| Some((*id, names.get(id)?.clone())))
                .collect(),
        })
        .collect();
    Ok(page(
        status,
        &ProbesPage {
            user: Some(user),
            error,
            nav,
            csrf: user.csrf_token.clone(),
            probes,
            command,
        },
    ))
}

pub(super) async fn list(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
) -> Response {
    probes_page(&state, &user, project_id, StatusCode::OK, None, None)
        .await
        .unwrap_or_else(|e| error_page(Some(&user), &e))
}

#[derive(Deserialize)]
pub(super) struct NewProbeForm {
    csrf_token: String,
    name: String,
}

/// Registers a probe and answers with the list and its start command (never in a redirect).
pub(super) async fn register(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    headers: axum::http::HeaderMap,
    Form(form): Form<NewProbeForm>,
) -> Response {
    let registered = match check_csrf(&user, &form.csrf_token) {
        Ok(()) => register_probe(&state, &user.caller(), project_id, &form.name).await,
        Err(e) => Err(e),
    };
    let shown = match registered {
        Ok(registered) => {
            // The address this page was reached at is the one the probe can use too.
            let host = headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1:8080");
            let scheme = if state.config.secure_cookies {
                "https"
            } else {
                "http"
            };
            let command = format!(
                "VIGIL_PROBE_KEY={key} \\\n  VIGIL_PROBE_CONTROL_URL={scheme}://{host} \\\n  \
                 VIGIL_PROBE_INGEST_URL={ingest} \\\n  vigil-probe",
                key = registered.key,
                ingest = state.config.public_ingest_grpc_url,
            );
            probes_page(
                &state,
                &user,
                project_id,
                StatusCode::CREATED,
                None,
                Some(command),
            )
            .await
        }
        Err(e) => {
            let (status, message) = e.for_people();
            probes_page(&state, &user, project_id, status, Some(message), None).await
        }
    };
    shown.unwrap_or_else(|e| error_page(Some(&user), &e))
}
