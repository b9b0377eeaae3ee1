//! A project's members, and for admins: their roles changed, a member removed (after a
//! confirmation page), the invite form and the open invitations, withdrawn. Inviting answers
//! alike whether or not an account has the address, as the API does: "sent" either way. The
//! owner rules (only owners touch owners; the last owner stays) are the API's.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::monitor_detail::when;
use super::pages::{ConfirmPage, CsrfForm, SignedIn, check_csrf, error_page, page};
use super::project_nav::ProjectNav;
use crate::access::{Role, SessionUser};
use crate::api::invitations::{NewInvitation, invitations_of, invite_to, withdraw_invitation};
use crate::api::projects::{change_member_of, members_of, remove_member_of};
use crate::api::{AppState, PageQuery};
use crate::error::ApiError;

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    csrf: String,
    /// `(user id, name, email, role, is the viewer)`.
    members: Vec<(Uuid, String, String, &'static str, bool)>,
    /// Open invitations (admins): `(id, email, role, expires)`.
    invitations: Vec<(Uuid, String, &'static str, String)>,
    roles: [&'static str; 4],
    invited: Option<String>,
}

async fn members_page(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    status: StatusCode,
    error: Option<String>,
    invited: Option<String>,
) -> Result<Response, ApiError> {
    let caller = user.caller();
    let nav = ProjectNav::of(state, user, project_id, "/members").await?;
    let members = members_of(&state.pool, &caller, project_id, &PageQuery::first(200))
        .await?
        .items
        .into_iter()
        .map(|m| {
            (
                m.user_id,
                m.name,
                m.email,
                m.role.as_str(),
                m.user_id == user.id,
            )
        })
        .collect();
    let invitations = if nav.is_admin() {
        invitations_of(&state.pool, &caller, project_id, &PageQuery::first(200))
            .await?
            .items
            .into_iter()
            .map(|i| (i.id, i.email, i.role.as_str(), when(i.expires_at)))
            .collect()
    } else {
        Vec::new()
    };
    Ok(page(
        status,
        &MembersPage {
            user: Some(user),
            error,
            nav,
            csrf: user.csrf_token.clone(),
            members,
            invitations,
            roles: ["viewer", "member", "admin", "owner"],
            invited,
        },
    ))
}

pub(super) async fn list(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
) -> Response {
    members_page(&state, &user, project_id, StatusCode::OK, None, None)
        .await
        .unwrap_or_else(|e| error_page(Some(&user), &e))
}

#[derive(Deserialize)]
pub(super) struct InviteForm {
    csrf_token: String,
    email: String,
    role: String,
}

pub(super) async fn invite(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Form(form): Form<InviteForm>,
) -> Response {
    let sent = async {
        check_csrf(&user, &form.csrf_token)?;
        let new = NewInvitation {
            email: form.email.clone(),
            role: Role::parse(&form.role).map_err(|_| {
                ApiError::BadRequest(format!("role: `{}` is not a role", form.role))
            })?,
        };
        invite_to(&state.pool, &user.caller(), project_id, &new).await
    }
    .await;
    let shown = match sent {
        Ok(invitation) => {
            members_page(
                &state,
                &user,
                project_id,
                StatusCode::OK,
                None,
                Some(invitation.email),
            )
            .await
        }
        Err(e) => {
            let (status, message) = e.for_people();
            members_page(&state, &user, project_id, status, Some(message), None).await
        }
    };
    shown.unwrap_or_else(|e| error_page(Some(&user), &e))
}

#[derive(Deserialize)]
pub(super) struct RoleForm {
    csrf_token: String,
    role: String,
}

/// `POST /projects/<id>/members/<user>/role`.
pub(super) async fn change_role(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, user_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<RoleForm>,
) -> Response {
    let changed = async {
        check_csrf(&user, &form.csrf_token)?;
        let role = Role::parse(&form.role)
            .map_err(|_| ApiError::BadRequest(format!("role: `{}` is not a role", form.role)))?;
        change_member_of(&state.pool, &user.caller(), project_id, user_id, role).await
    };
    match changed.await {
        Ok(_) => Redirect::to(&format!("/projects/{project_id}/members")).into_response(),
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_) | ApiError::Forbidden(_))) => {
            let (status, message) = e.for_people();
            members_page(&state, &user, project_id, status, Some(message), None)
                .await
                .unwrap_or_else(|e| error_page(Some(&user), &e))
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

/// `/projects/<id>/members/<user>/remove`: asks first.
pub(super) async fn confirm_remove(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, user_id)): Path<(Uuid, Uuid)>,
) -> Response {
    let members = members_of(
        &state.pool,
        &user.caller(),
        project_id,
        &PageQuery::first(200),
    )
    .await;
    let found = members.and_then(|m| {
        m.items
            .into_iter()
            .find(|m| m.user_id == user_id)
            .ok_or(ApiError::NotFound("member"))
    });
    match found {
        Ok(member) => page(
            StatusCode::OK,
            &ConfirmPage {
                user: Some(&user),
                error: None,
                heading: "Remove this member?",
                question: format!(
                    "{} ({}) loses access to this project at once.",
                    member.name, member.email
                ),
                action: format!("/projects/{project_id}/members/{user_id}/remove"),
                button: "Remove member",
                back: format!("/projects/{project_id}/members"),
            },
        ),
        Err(e) => error_page(Some(&user), &e),
    }
}

pub(super) async fn remove(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, user_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let removed = async {
        check_csrf(&user, &form.csrf_token)?;
        remove_member_of(&state.pool, &user.caller(), project_id, user_id).await
    };
    match removed.await {
        // Who removed themselves has no members page to go back to.
        Ok(_) if user_id == user.id => Redirect::to("/projects").into_response(),
        Ok(_) => Redirect::to(&format!("/projects/{project_id}/members")).into_response(),
        Err(e) => error_page(Some(&user), &e),
    }
}

/// `POST /projects/<id>/invitations/<invitation>/withdraw`.
pub(super) async fn withdraw(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, invitation_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let withdrawn = async {
        check_csrf(&user, &form.csrf_token)?;
        withdraw_invitation(&state.pool, &user.caller(), project_id, invitation_id).await
    };
    match withdrawn.await {
        Ok(_) => Redirect::to(&format!("/projects/{project_id}/members")).into_response(),
        Err(e) => error_page(Some(&user), &e),
    }
}
