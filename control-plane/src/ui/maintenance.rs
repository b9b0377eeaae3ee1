//! A project's maintenance windows: while one is on, its monitors change status as usual but
//! open no incidents. The list (current and upcoming first), and for members scheduling one
//! (times in UTC, `datetime-local` fields that work without script) and cancelling one.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDateTime, Utc};
use uuid::Uuid;

use super::monitor_detail::when;
use super::pages::{SignedIn, check_csrf, error_page, page, refusal};
use super::project_nav::ProjectNav;
use crate::access::SessionUser;
use crate::api::maintenance::{NewWindow, cancel_window, schedule_window, windows_of};
use crate::api::monitors::{MonitorFilter, monitor_names, monitors_of};
use crate::api::{AppState, PageQuery};
use crate::error::ApiError;

struct WindowRow {
    id: Uuid,
    title: String,
    starts: String,
    ends: String,
    state: &'static str,
    monitors: String,
}

#[derive(Template)]
#[template(path = "maintenance.html")]
struct MaintenancePage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    csrf: String,
    windows: Vec<WindowRow>,
    monitors: Vec<(Uuid, String)>,
    title: String,
}

async fn maintenance_page(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    refused: Option<(ApiError, String)>,
) -> Result<Response, ApiError> {
    let caller = user.caller();
    let nav = ProjectNav::of(state, user, project_id, "/maintenance").await?;
    let windows = windows_of(&state.pool, &caller, project_id, &PageQuery::first(100))
        .await?
        .items;
    let named: Vec<Uuid> = windows.iter().flat_map(|w| w.monitor_ids.clone()).collect();
    let names = monitor_names(&state.pool, &caller, project_id, &named).await?;
    let now = Utc::now();
    let windows = windows
        .into_iter()
        .map(|w| WindowRow {
            id: w.id,
            state: if w.ends_at <= now {
                "over"
            } else if w.starts_at <= now {
                "in progress"
            } else {
                "scheduled"
            },
            monitors: if w.monitor_ids.is_empty() {
                "every monitor".to_owned()
            } else {
                names
                    .iter()
                    .filter(|(id, _)| w.monitor_ids.contains(id))
                    .map(|(_, n)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            title: w.title,
            starts: when(w.starts_at),
            ends: when(w.ends_at),
        })
        .collect();
    let monitors = monitors_of(
        &state.pool,
        &caller,
        project_id,
        &MonitorFilter::default(),
        &PageQuery::first(200),
    )
    .await?
    .items
    .into_iter()
    .map(|m| (m.id, m.name))
    .collect();
    let (refused, title) = refused.map_or((None, String::new()), |(e, t)| (Some(e), t));
    let (status, error) = refusal(refused);
    Ok(page(
        status,
        &MaintenancePage {
            user: Some(user),
            error,
            nav,
            csrf: user.csrf_token.clone(),
            windows,
            monitors,
            title,
        },
    ))
}

pub(super) async fn list(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
) -> Response {
    maintenance_page(&state, &user, project_id, None)
        .await
        .unwrap_or_else(|e| error_page(Some(&user), &e))
}

/// A `datetime-local` value, read as UTC.
fn utc(field: &str, value: &str) -> Result<chrono::DateTime<Utc>, ApiError> {
    NaiveDateTime::parse_from_str(value.trim(), "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(value.trim(), "%Y-%m-%dT%H:%M:%S"))
        .map(|t| t.and_utc())
        .map_err(|_| ApiError::BadRequest(format!("{field}: a date and time, in UTC")))
}

/// `POST /projects/<id>/maintenance`: schedules one.
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
    let title = field("title");
    let scheduled = async {
        check_csrf(&user, &field("csrf_token"))?;
        let new = NewWindow {
            title: title.clone(),
            starts_at: utc("starts", &field("starts"))?,
            ends_at: utc("ends", &field("ends"))?,
            monitor_ids: pairs
                .iter()
                .filter(|(k, _)| k == "monitor")
                .filter_map(|(_, v)| v.parse().ok())
                .take(1000)
                .collect(),
            description: field("description"),
            show_on_status_pages: Some(field("public") == "on"),
        };
        schedule_window(&state.pool, &user.caller(), project_id, new).await
    };
    match scheduled.await {
        Ok(_) => Redirect::to(&format!("/projects/{project_id}/maintenance")).into_response(),
        Err(e @ ApiError::BadRequest(_)) => {
            maintenance_page(&state, &user, project_id, Some((e, title)))
                .await
                .unwrap_or_else(|e| error_page(Some(&user), &e))
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct CancelForm {
    csrf_token: String,
}

/// `POST /projects/<id>/maintenance/<window>/cancel`.
pub(super) async fn cancel(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, window_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<CancelForm>,
) -> Response {
    let done = async {
        check_csrf(&user, &form.csrf_token)?;
        cancel_window(&state.pool, &user.caller(), project_id, window_id).await
    };
    match done.await {
        Ok(_) => Redirect::to(&format!("/projects/{project_id}/maintenance")).into_response(),
        Err(e) => error_page(Some(&user), &e),
    }
}
