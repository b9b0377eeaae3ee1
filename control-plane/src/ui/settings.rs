//! A project's vocabulary: the statuses monitors take (which count as up, which as offline),
//! the incident states and the incident severities, in order; admins add to each and rename
//! or recolour a status. Removing them, and changing states and severities, is the API's for
//! now.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{SignedIn, check_csrf, error_page, page, refusal};
use super::project_nav::ProjectNav;
use crate::access::SessionUser;
use crate::api::incident_levels::{LevelKind, NewLevel, add_level, levels_of};
use crate::api::statuses::{StatusFields, add_status, change_status, statuses_of};
use crate::api::{AppState, PageQuery};
use crate::error::ApiError;

/// One status, state or severity as the page lists it.
struct Entry {
    id: Uuid,
    name: String,
    color: String,
    /// What it means (statuses: up, offline or neither; states: their kind).
    meaning: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    csrf: String,
    statuses: Vec<Entry>,
    states: Vec<Entry>,
    severities: Vec<Entry>,
}

impl SettingsPage<'_> {
    fn entries(&self, list: &str) -> &[Entry] {
        match list {
            "statuses" => &self.statuses,
            "states" => &self.states,
            _ => &self.severities,
        }
    }
}

async fn settings_page(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    refused: Option<ApiError>,
) -> Result<Response, ApiError> {
    let caller = user.caller();
    let nav = ProjectNav::of(state, user, project_id, "/settings").await?;
    let all = PageQuery::first(200);
    let statuses = statuses_of(&state.pool, &caller, project_id, &all)
        .await?
        .items
        .into_iter()
        .map(|s| {
            let meaning = match (s.is_operational, s.is_offline) {
                (true, _) => "counts as up",
                (_, true) => "counts as offline (down in uptime)",
                _ => "neither up nor offline",
            };
            Entry {
                id: s.id,
                name: s.name,
                color: s.color,
                meaning: meaning.to_owned(),
            }
        })
        .collect();
    let level = |l: crate::api::incident_levels::Level| Entry {
        id: l.id,
        name: l.name,
        color: l.color,
        meaning: l.kind.unwrap_or_default(),
    };
    let states = levels_of(&state.pool, &caller, project_id, LevelKind::State, &all)
        .await?
        .items
        .into_iter()
        .map(level)
        .collect();
    let severities = levels_of(&state.pool, &caller, project_id, LevelKind::Severity, &all)
        .await?
        .items
        .into_iter()
        .map(level)
        .collect();
    let (status, error) = refusal(refused);
    Ok(page(
        status,
        &SettingsPage {
            user: Some(user),
            error,
            nav,
            csrf: user.csrf_token.clone(),
            statuses,
            states,
            severities,
        },
    ))
}

pub(super) async fn show(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
) -> Response {
    settings_page(&state, &user, project_id, None)
        .await
        .unwrap_or_else(|e| error_page(Some(&user), &e))
}

#[derive(Deserialize)]
pub(super) struct AddForm {
    csrf_token: String,
    name: String,
    color: String,
    /// Statuses: `up`, `offline` or `other`.
    #[serde(default)]
    meaning: String,
}

/// `POST /projects/<id>/settings/<statuses|states|severities>`: adds one.
pub(super) async fn add(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, list)): Path<(Uuid, String)>,
    Form(form): Form<AddForm>,
) -> Response {
    let added = async {
        check_csrf(&user, &form.csrf_token)?;
        let caller = user.caller();
        let level = || NewLevel {
            name: form.name.clone(),
            color: form.color.clone(),
            position: None,
        };
        match list.as_str() {
            "statuses" => {
                let fields = StatusFields {
                    name: Some(form.name.clone()),
                    color: Some(form.color.clone()),
                    is_operational: Some(form.meaning == "up"),
                    is_offline: Some(form.meaning == "offline"),
                    position: None,
                };
                add_status(&state.pool, &caller, project_id, fields)
                    .await
                    .map(drop)
            }
            "states" => add_level(&state.pool, &caller, project_id, level(), LevelKind::State)
                .await
                .map(drop),
            "severities" => add_level(
                &state.pool,
                &caller,
                project_id,
                level(),
                LevelKind::Severity,
            )
            .await
            .map(drop),
            _ => Err(ApiError::NotFound("page")),
        }
    };
    after_write(&state, &user, project_id, added.await).await
}

/// Back to the page after a write; a refusal shows the page with why.
async fn after_write(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    written: Result<(), ApiError>,
) -> Response {
    match written {
        Ok(()) => Redirect::to(&format!("/projects/{project_id}/settings")).into_response(),
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
            settings_page(state, user, project_id, Some(e))
                .await
                .unwrap_or_else(|e| error_page(Some(user), &e))
        }
        Err(e) => error_page(Some(user), &e),
    }
}

#[derive(Deserialize)]
pub(super) struct StatusForm {
    csrf_token: String,
    name: String,
    color: String,
}

/// `POST /projects/<id>/settings/statuses/<status>`: renames or recolours a status (admins);
/// what it means stays. A refusal shows the page with why.
pub(super) async fn change(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, status_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<StatusForm>,
) -> Response {
    let changed = async {
        check_csrf(&user, &form.csrf_token)?;
        let fields = StatusFields {
            name: Some(form.name),
            color: Some(form.color),
            is_operational: None,
            is_offline: None,
            position: None,
        };
        change_status(&state.pool, &user.caller(), project_id, status_id, fields)
            .await
            .map(drop)
    };
    after_write(&state, &user, project_id, changed.await).await
}
