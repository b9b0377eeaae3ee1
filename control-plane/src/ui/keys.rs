//! A project's ingestion keys: the list (members), a new key with its secret shown once, and
//! revocation behind a confirmation page (admins). A viewer or member sees no write control;
//! the domain functions refuse their writes anyway.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{ConfirmPage, CsrfForm, SignedIn, check_csrf, error_page, page};
use super::project_nav::ProjectNav;
use crate::access::SessionUser;
use crate::api::keys::{ingestion_keys, new_ingestion_key, revoke_ingestion_key_of};
use crate::api::{AppState, PageQuery};
use crate::error::ApiError;

struct KeyRow {
    id: Uuid,
    name: String,
    hint: String,
    created: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    keys: Vec<KeyRow>,
    created: Option<String>,
}

async fn keys_page(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    status: StatusCode,
    error: Option<String>,
    created: Option<String>,
) -> Result<Response, ApiError> {
    let caller = user.caller();
    let nav = ProjectNav::of(state, user, project_id, "/keys").await?;
    let keys = ingestion_keys(&state.pool, &caller, project_id, &PageQuery::default()).await?;
    let day = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d").to_string();
    let keys = keys
        .items
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            name: k.name,
            hint: k.hint,
            created: day(k.created_at),
            revoked: k.revoked_at.map(day),
        })
        .collect();
    Ok(page(
        status,
        &KeysPage {
            user: Some(user),
            error,
            nav,
            keys,
            created,
        },
    ))
}

pub(super) async fn list(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
) -> Response {
    keys_page(&state, &user, project_id, StatusCode::OK, None, None)
        .await
        .unwrap_or_else(|e| error_page(Some(&user), &e))
}

#[derive(Deserialize)]
pub(super) struct NewKeyForm {
    csrf_token: String,
    name: String,
}

/// Creates a key and answers with the list and the secret (never in a URL or a redirect).
pub(super) async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Form(form): Form<NewKeyForm>,
) -> Response {
    let created = match check_csrf(&user, &form.csrf_token) {
        Ok(()) => new_ingestion_key(&state.pool, &user.caller(), project_id, &form.name).await,
        Err(e) => Err(e),
    };
    let shown = match created {
        Ok(created) => {
            keys_page(
                &state,
                &user,
                project_id,
                StatusCode::CREATED,
                None,
                Some(created.secret),
            )
            .await
        }
        Err(e) => {
            let (status, message) = e.for_people();
            keys_page(&state, &user, project_id, status, Some(message), None).await
        }
    };
    shown.unwrap_or_else(|e| error_page(Some(&user), &e))
}

/// Asks before revoking: without JavaScript a confirmation is a page of its own.
pub(super) async fn confirm_revoke(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, key_id)): Path<(Uuid, Uuid)>,
) -> Response {
    let keys = match ingestion_keys(
        &state.pool,
        &user.caller(),
        project_id,
        &PageQuery::default(),
    )
    .await
    {
        Ok(keys) => keys,
        Err(e) => return error_page(Some(&user), &e),
    };
    let Some(key) = keys.items.into_iter().find(|k| k.id == key_id) else {
        return error_page(Some(&user), &ApiError::NotFound("ingestion key"));
    };
    page(
        StatusCode::OK,
        &ConfirmPage {
            user: Some(&user),
            error: None,
            heading: "Revoke this key?",
            question: format!(
                "Clients sending with “{}” ({}) will be refused within seconds. This cannot be undone.",
                key.name, key.hint
            ),
            action: format!("/projects/{project_id}/keys/{key_id}/revoke"),
            button: "Revoke key",
            back: format!("/projects/{project_id}/keys"),
        },
    )
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, key_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let revoked = match check_csrf(&user, &form.csrf_token) {
        Ok(()) => revoke_ingestion_key_of(&state, &user.caller(), project_id, key_id).await,
        Err(e) => Err(e),
    };
    match revoked {
        Ok(_) => Redirect::to(&format!("/projects/{project_id}/keys")).into_response(),
        Err(e) => error_page(Some(&user), &e),
    }
}
