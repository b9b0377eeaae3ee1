//! A project's members, and the invite form (admins). Inviting answers alike whether or not
//! an account has the address, as the API does: the page says "sent" either way.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{SignedIn, check_csrf, error_page, page};
use super::project_nav::ProjectNav;
use crate::access::{Role, SessionUser};
use crate::api::invitations::{NewInvitation, invite_to};
use crate::api::projects::members_of;
use crate::api::{AppState, PageQuery};
use crate::error::ApiError;

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    members: Vec<(String, String, &'static str)>,
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
    let members = members_of(&state.pool, &caller, project_id, &PageQuery::default())
        .await?
        .items
        .into_iter()
        .map(|m| (m.name, m.email, m.role.as_str()))
        .collect();
    Ok(page(
        status,
        &MembersPage {
            user: Some(user),
            error,
            nav,
            members,
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
