//! The first pages: sign-up of the first admin, sign-in and sign-out, and the projects a
//! person belongs to (list and create). Each write checks the session's CSRF token, sent as a
//! form field, and answers with a redirect (post/redirect/get); a refused write shows the
//! form again with the reason, from the same domain functions the API uses.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::access::{SessionUser, csrf_matches, session_user};
use crate::api::accounts::{self, Credentials, NewUser};
use crate::api::invitations::{accept_for, decline_for, received_by};
use crate::api::projects::{self, Project};
use crate::api::{AppState, PageQuery};
use crate::error::ApiError;

/// The person viewing the page, when signed in.
pub(super) struct Viewer(pub(super) Option<SessionUser>);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        session_user(&state.pool, parts)
            .await
            .map(Viewer)
            .map_err(|e| error_page(None, &e))
    }
}

/// The person viewing the page, who must be signed in: anyone else is sent to sign-in.
pub(super) struct SignedIn(pub(super) SessionUser);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match Viewer::from_request_parts(parts, state).await? {
            Viewer(Some(user)) => Ok(SignedIn(user)),
            Viewer(None) => Err(Redirect::to("/login").into_response()),
        }
    }
}

/// A template rendered as a page with `status`.
pub(super) fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    heading: &'static str,
}

pub(super) fn error_page(user: Option<&SessionUser>, error: &ApiError) -> Response {
    let (status, message) = error.for_people();
    page(
        status,
        &ErrorPage {
            user,
            error: Some(message),
            heading: "Something went wrong",
        },
    )
}

/// A path nobody serves: the API's JSON error under `/api/`, a page elsewhere.
pub(super) async fn not_found(Viewer(user): Viewer, uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return ApiError::NotFound("route").into_response();
    }
    page(
        StatusCode::NOT_FOUND,
        &ErrorPage {
            user: user.as_ref(),
            error: None,
            heading: "There is no page here",
        },
    )
}

/// The status and message a page shows for a refused write (200 and none without one).
pub(super) fn refusal(refused: Option<ApiError>) -> (StatusCode, Option<String>) {
    match refused {
        Some(e) => {
            let (status, message) = e.for_people();
            (status, Some(message))
        }
        None => (StatusCode::OK, None),
    }
}

/// Refuses a write whose form does not carry the session's CSRF token.
pub(super) fn check_csrf(user: &SessionUser, sent: &str) -> Result<(), ApiError> {
    match csrf_matches(sent.as_bytes(), &user.csrf_token) {
        true => Ok(()),
        false => Err(ApiError::Csrf),
    }
}

/// `/`: the projects when signed in; else sign-in, or sign-up while no account exists.
pub(super) async fn home(State(state): State<AppState>, Viewer(user): Viewer) -> Response {
    if user.is_some() {
        return Redirect::to("/projects").into_response();
    }
    match accounts::any_account(&state.pool).await {
        Ok(true) => Redirect::to("/login").into_response(),
        Ok(false) => Redirect::to("/signup").into_response(),
        Err(e) => error_page(None, &e),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    email: &'a str,
}

pub(super) async fn login_form(Viewer(user): Viewer) -> Response {
    if user.is_some() {
        return Redirect::to("/projects").into_response();
    }
    page(
        StatusCode::OK,
        &LoginPage {
            user: None,
            error: None,
            email: "",
        },
    )
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    email: String,
    password: String,
}

pub(super) async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<LoginForm>,
) -> Response {
    let email = form.email.clone();
    let credentials = Credentials {
        email: form.email,
        password: form.password,
    };
    match accounts::sign_in(&state, peer, credentials).await {
        Ok((_, session)) => (session.cookies(&state), Redirect::to("/projects")).into_response(),
        Err(e) => {
            let (status, message) = e.for_people();
            page(
                status,
                &LoginPage {
                    user: None,
                    error: Some(message),
                    email: &email,
                },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    name: &'a str,
    email: &'a str,
}

pub(super) async fn signup_form() -> Response {
    page(
        StatusCode::OK,
        &SignupPage {
            user: None,
            error: None,
            name: "",
            email: "",
        },
    )
}

#[derive(Deserialize)]
pub(super) struct SignupForm {
    name: String,
    email: String,
    password: String,
}

pub(super) async fn signup(
    State(state): State<AppState>,
    Form(form): Form<SignupForm>,
) -> Response {
    let (name, email) = (form.name.clone(), form.email.clone());
    let new = NewUser {
        email: form.email,
        name: form.name,
        password: form.password,
        is_admin: false,
    };
    match accounts::sign_up(&state, new).await {
        Ok((_, session)) => (session.cookies(&state), Redirect::to("/projects")).into_response(),
        Err(e) => {
            let (status, message) = e.for_people();
            page(
                status,
                &SignupPage {
                    user: None,
                    error: Some(message),
                    name: &name,
                    email: &email,
                },
            )
        }
    }
}

/// A form that carries only the CSRF token (a button).
#[derive(Deserialize)]
pub(super) struct CsrfForm {
    pub(super) csrf_token: String,
}

/// A question before a write that cannot be undone: without JavaScript, a page of its own.
#[derive(Template)]
#[template(path = "confirm.html")]
pub(super) struct ConfirmPage<'a> {
    pub(super) user: Option<&'a SessionUser>,
    pub(super) error: Option<String>,
    pub(super) heading: &'static str,
    pub(super) question: String,
    pub(super) action: String,
    pub(super) button: &'static str,
    pub(super) back: String,
}

pub(super) async fn logout(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    let result = match check_csrf(&user, &form.csrf_token) {
        Ok(()) => accounts::sign_out(&state, &user.session_digest).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(cleared) => (cleared, Redirect::to("/login")).into_response(),
        Err(e) => error_page(Some(&user), &e),
    }
}

/// A project as the list shows it.
struct ProjectRow {
    id: uuid::Uuid,
    name: String,
    role: &'static str,
    created: String,
}

/// An invitation to the viewer, as the list shows it.
struct InvitationRow {
    id: uuid::Uuid,
    project: String,
    role: &'static str,
}

#[derive(Template)]
#[template(path = "projects.html")]
struct ProjectsPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    invitations: Vec<InvitationRow>,
    projects: Vec<ProjectRow>,
}

async fn projects_page(
    state: &AppState,
    user: &SessionUser,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let list = match projects::projects_of(&state.pool, user.id, &PageQuery::default()).await {
        Ok(list) => list,
        Err(e) => return error_page(Some(user), &e),
    };
    let invitations = match received_by(&state.pool, user.id, &PageQuery::default()).await {
        Ok(page) => page
            .items
            .into_iter()
            .map(|i| InvitationRow {
                id: i.id,
                project: i.project_name,
                role: i.role.as_str(),
            })
            .collect(),
        Err(e) => return error_page(Some(user), &e),
    };
    let projects = list
        .items
        .into_iter()
        .map(|p: Project| ProjectRow {
            id: p.id,
            name: p.name,
            role: p.role.as_str(),
            created: p.created_at.format("%Y-%m-%d").to_string(),
        })
        .collect();
    page(
        status,
        &ProjectsPage {
            user: Some(user),
            error,
            invitations,
            projects,
        },
    )
}

pub(super) async fn projects(State(state): State<AppState>, SignedIn(user): SignedIn) -> Response {
    projects_page(&state, &user, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub(super) struct NewProjectForm {
    csrf_token: String,
    name: String,
}

pub(super) async fn create_project(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Form(form): Form<NewProjectForm>,
) -> Response {
    let created = match check_csrf(&user, &form.csrf_token) {
        Ok(()) => projects::create_project(&state.pool, user.id, &form.name).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(_) => Redirect::to("/projects").into_response(),
        Err(e) => {
            let (status, message) = e.for_people();
            projects_page(&state, &user, status, Some(message)).await
        }
    }
}

/// Accepts or declines one of the viewer's invitations, then back to the projects.
pub(super) async fn answer_invitation(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    axum::extract::Path((invitation_id, answer)): axum::extract::Path<(uuid::Uuid, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let result = match (check_csrf(&user, &form.csrf_token), answer.as_str()) {
        (Err(e), _) => Err(e),
        (Ok(()), "accept") => accept_for(&state.pool, user.id, invitation_id)
            .await
            .map(|_| ()),
        (Ok(()), "decline") => decline_for(&state.pool, user.id, invitation_id).await,
        (Ok(()), _) => Err(ApiError::NotFound("page")),
    };
    match result {
        Ok(()) => Redirect::to("/projects").into_response(),
        Err(e) => error_page(Some(&user), &e),
    }
}
