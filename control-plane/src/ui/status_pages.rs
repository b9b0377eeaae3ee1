//! A project's status pages in the operator UI: the list with links to the public pages, and
//! for members making one and deleting one (after confirming). Editing a page is
//! `status_page_edit.rs`.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{ConfirmPage, CsrfForm, SignedIn, check_csrf, error_page, page, refusal};
use super::project_nav::ProjectNav;
use crate::access::SessionUser;
use crate::api::status_pages::{
    NewStatusPage, StatusPage, create_page, delete_page, page_of, pages_of,
};
use crate::api::{AppState, PageQuery};
use crate::error::ApiError;

#[derive(Template)]
#[template(path = "status_pages.html")]
struct StatusPagesPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    csrf: String,
    pages: Vec<StatusPage>,
    name: String,
    slug: String,
}

async fn list_page(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    refused: Option<(ApiError, String, String)>,
) -> Result<Response, ApiError> {
    let nav = ProjectNav::of(state, user, project_id, "/status-pages").await?;
    let pages = pages_of(
        &state.pool,
        &user.caller(),
        project_id,
        &PageQuery::first(200),
    )
    .await?
    .items;
    let (refused, name, slug) = refused
        .map_or((None, String::new(), String::new()), |(e, n, s)| {
            (Some(e), n, s)
        });
    let (status, error) = refusal(refused);
    Ok(page(
        status,
        &StatusPagesPage {
            user: Some(user),
            error,
            nav,
            csrf: user.csrf_token.clone(),
            pages,
            name,
            slug,
        },
    ))
}

/// `GET /projects/<id>/status-pages`.
pub(super) async fn list(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
) -> Response {
    list_page(&state, &user, project_id, None)
        .await
        .unwrap_or_else(|e| error_page(Some(&user), &e))
}

#[derive(Deserialize)]
pub(super) struct NewForm {
    csrf_token: String,
    name: String,
    slug: String,
}

/// `POST /projects/<id>/status-pages`: makes a public page, then opens its settings.
pub(super) async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Form(form): Form<NewForm>,
) -> Response {
    let made = async {
        check_csrf(&user, &form.csrf_token)?;
        let new = NewStatusPage {
            name: form.name.clone(),
            slug: form.slug.clone(),
            description: String::new(),
            brand_color: None,
            footer_links: Vec::new(),
            time_zone: None,
            noindex: false,
            visibility: None,
            password: None,
            domains: Vec::new(),
            subscriber_channel_id: None,
        };
        create_page(&state.pool, &user.caller(), project_id, new).await
    };
    match made.await {
        Ok(made) => Redirect::to(&format!("/projects/{project_id}/status-pages/{}", made.id))
            .into_response(),
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
            list_page(&state, &user, project_id, Some((e, form.name, form.slug)))
                .await
                .unwrap_or_else(|e| error_page(Some(&user), &e))
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// `GET /projects/<id>/status-pages/<page>/delete`: asks first.
pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, page_id)): Path<(Uuid, Uuid)>,
) -> Response {
    match page_of(&state.pool, &user.caller(), project_id, page_id).await {
        Ok(found) => page(
            StatusCode::OK,
            &ConfirmPage {
                user: Some(&user),
                error: None,
                heading: "Delete this status page?",
                question: format!(
                    "“{}” (/status/{}) stops answering, and its subscribers are removed. \
                     This cannot be undone.",
                    found.name, found.slug
                ),
                action: format!("/projects/{project_id}/status-pages/{page_id}/delete"),
                button: "Delete the page",
                back: format!("/projects/{project_id}/status-pages/{page_id}"),
            },
        ),
        Err(e) => error_page(Some(&user), &e),
    }
}

/// `POST /projects/<id>/status-pages/<page>/delete`.
pub(super) async fn delete(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, page_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let deleted = match check_csrf(&user, &form.csrf_token) {
        Ok(()) => delete_page(&state.pool, &user.caller(), project_id, page_id).await,
        Err(e) => Err(e),
    };
    match deleted {
        Ok(_) => Redirect::to(&format!("/projects/{project_id}/status-pages")).into_response(),
        Err(e) => error_page(Some(&user), &e),
    }
}
