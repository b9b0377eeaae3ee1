//! A project's API keys (admins): programs call the API with one (`Authorization: Bearer`).
//! The list, a new key (a role no stronger than the creator's, an optional expiry) whose secret
//! is shown once, and revocation behind a confirmation page.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{ConfirmPage, CsrfForm, SignedIn, check_csrf, error_page, page, refusal};
use super::project_nav::ProjectNav;
use crate::access::{Role, SessionUser};
use crate::api::keys::{NewApiKey, api_keys_of, new_api_key, revoke_api_key_of};
use crate::api::{AppState, PageQuery};
use crate::error::ApiError;

struct KeyRow {
    id: Uuid,
    name: String,
    role: &'static str,
    hint: String,
    created: String,
    expires: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "api_keys.html")]
struct ApiKeysPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    csrf: String,
    keys: Vec<KeyRow>,
    created: Option<String>,
}

fn day(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

async fn keys_page(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    status: StatusCode,
    refused: Option<ApiError>,
    created: Option<String>,
) -> Result<Response, ApiError> {
    let nav = ProjectNav::of(state, user, project_id, "/api-keys").await?;
    let keys = api_keys_of(
        &state.pool,
        &user.caller(),
        project_id,
        &PageQuery::first(200),
    )
    .await?
    .items
    .into_iter()
    .map(|k| KeyRow {
        id: k.id,
        name: k.name,
        role: k.role.as_str(),
        hint: k.hint,
        created: day(k.created_at),
        expires: k.expires_at.map_or_else(|| "never".to_owned(), day),
        revoked: k.revoked_at.map(day),
    })
    .collect();
    let (refused_status, error) = refusal(refused);
    Ok(page(
        if error.is_some() {
            refused_status
        } else {
            status
        },
        &ApiKeysPage {
            user: Some(user),
            error,
            nav,
            csrf: user.csrf_token.clone(),
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
    role: String,
    /// `YYYY-MM-DD` (a date field), the key's last day in UTC; empty: never.
    #[serde(default)]
    expires: String,
}

/// Creates a key and answers with the list and the secret (never in a URL or a redirect).
pub(super) async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Form(form): Form<NewKeyForm>,
) -> Response {
    let created = async {
        check_csrf(&user, &form.csrf_token)?;
        let role = Role::parse(&form.role)
            .map_err(|_| ApiError::BadRequest(format!("role: `{}` is not a role", form.role)))?;
        let expires_at = match form.expires.trim() {
            "" => None,
            d => Some(
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.succ_opt()?.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc())
                    .ok_or_else(|| ApiError::BadRequest("expires: a date".into()))?,
            ),
        };
        let new = NewApiKey {
            name: form.name.clone(),
            role,
            expires_at,
        };
        new_api_key(&state.pool, &user.caller(), project_id, new).await
    };
    let shown = match created.await {
        Ok(created) => {
            let secret = Some(created.secret);
            keys_page(&state, &user, project_id, StatusCode::CREATED, None, secret).await
        }
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
            keys_page(&state, &user, project_id, StatusCode::OK, Some(e), None).await
        }
        Err(e) => Err(e),
    };
    shown.unwrap_or_else(|e| error_page(Some(&user), &e))
}

/// Asks before revoking.
pub(super) async fn confirm_revoke(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, key_id)): Path<(Uuid, Uuid)>,
) -> Response {
    let keys = api_keys_of(
        &state.pool,
        &user.caller(),
        project_id,
        &PageQuery::first(200),
    )
    .await;
    let found = keys.and_then(|k| {
        k.items
            .into_iter()
            .find(|k| k.id == key_id)
            .ok_or(ApiError::NotFound("API key"))
    });
    match found {
        Ok(key) => page(
            StatusCode::OK,
            &ConfirmPage {
                user: Some(&user),
                error: None,
                heading: "Revoke this API key?",
                question: format!(
                    "Programs calling the API with “{}” ({}…) will be refused at once. This \
                     cannot be undone.",
                    key.name, key.hint
                ),
                action: format!("/projects/{project_id}/api-keys/{key_id}/revoke"),
                button: "Revoke API key",
                back: format!("/projects/{project_id}/api-keys"),
            },
        ),
        Err(e) => error_page(Some(&user), &e),
    }
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, key_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let revoked = async {
        check_csrf(&user, &form.csrf_token)?;
        revoke_api_key_of(&state, &user.caller(), project_id, key_id).await
    };
    match revoked.await {
        Ok(_) => Redirect::to(&format!("/projects/{project_id}/api-keys")).into_response(),
        Err(e) => error_page(Some(&user), &e),
    }
}
