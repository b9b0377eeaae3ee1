//! Invitations: how an account joins a project. An admin invites an email address with a role;
//! the answer is the same whether or not an account has that address, so inviting cannot be
//! used to learn who has an account. The holder of the address sees the invitation after
//! signing in (or signing up) and accepts or declines it.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::accounts::normal_email;
use super::projects::{Project, check_owner_rule};
use super::{AppState, Body, Page, PageQuery, project_page};
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};

/// How long an invitation can be accepted.
const VALID_FOR: Duration = Duration::days(7);
/// Open invitations a project may have at once; a bound on what one admin can make pile up.
const MAX_OPEN_PER_PROJECT: i64 = 500;

/// An open invitation into a project.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Invitation {
    pub id: Uuid,
    pub project_id: Uuid,
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An invitation as its addressee sees it: with the project's name.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReceivedInvitation {
    pub id: Uuid,
    pub project_id: Uuid,
    pub project_name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Whom to invite, with the role they get on accepting.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewInvitation {
    pub email: String,
    pub role: Role,
}

type InvitationRow = (Uuid, Uuid, String, String, DateTime<Utc>, DateTime<Utc>);

const INVITATION_COLUMNS: &str = "id, project_id, email, role, created_at, expires_at";

fn invitation(
    (id, project_id, email, role, created_at, expires_at): InvitationRow,
) -> Result<Invitation, ApiError> {
    Ok(Invitation {
        id,
        project_id,
        email,
        role: Role::parse(&role)?,
        created_at,
        expires_at,
    })
}

/// Invites an email address into a project (admins; owners to invite an owner). Inviting an
/// address again renews its invitation with the new role.
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/invitations", tag = "projects",
    params(("project_id" = Uuid, Path)), request_body = NewInvitation,
    responses((status = 201, body = Invitation), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Body(new): Body<NewInvitation>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    let invitation = invite_to(&state.pool, &caller, project_id, &new).await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

/// Invites `new.email` into the project (admins; owners to invite an owner), answering alike
/// whether or not an account has the address (shared by the API and the UI).
pub(crate) async fn invite_to(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    new: &NewInvitation,
) -> Result<Invitation, ApiError> {
    let role = caller.role_in(pool, project_id).await?;
    check_owner_rule(role, None, Some(new.role))?;
    let email = normal_email(&new.email)?;
    let mut tx = pool.begin().await?;
    // Admins see the member list anyway, so saying "already a member" reveals nothing new.
    let member: Option<(i32,)> = sqlx::query_as(
        "SELECT 1 FROM project_members m JOIN users u ON u.id = m.user_id \
         WHERE m.project_id = $1 AND u.email = $2",
    )
    .bind(project_id)
    .bind(&email)
    .fetch_optional(&mut *tx)
    .await?;
    if member.is_some() {
        return Err(ApiError::Conflict("already a member".into()));
    }
    // The project row lock serialises invitations into one project, so the cap holds.
    sqlx::query("SELECT 1 FROM projects WHERE id = $1 FOR UPDATE")
        .bind(project_id)
        .execute(&mut *tx)
        .await?;
    let (open,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM project_invitations \
         WHERE project_id = $1 AND expires_at > now() AND email <> $2",
    )
    .bind(project_id)
    .bind(&email)
    .fetch_one(&mut *tx)
    .await?;
    if open >= MAX_OPEN_PER_PROJECT {
        return Err(ApiError::Conflict(format!(
            "a project has at most {MAX_OPEN_PER_PROJECT} open invitations; revoke some first"
        )));
    }
    let row: InvitationRow = sqlx::query_as(&format!(
        "INSERT INTO project_invitations (id, project_id, email, role, invited_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (project_id, email) DO UPDATE SET role = EXCLUDED.role, \
           invited_by = EXCLUDED.invited_by, created_at = now(), expires_at = EXCLUDED.expires_at \
         RETURNING {INVITATION_COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(project_id)
    .bind(&email)
    .bind(new.role.as_str())
    .bind(caller.user().ok())
    .bind(Utc::now() + VALID_FOR)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    invitation(row)
}

/// A project's open invitations (admins).
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/invitations", tag = "projects",
    params(("project_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Invitation>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Invitation>>, ApiError> {
    Ok(Json(
        invitations_of(&state.pool, &caller, project_id, &page).await?,
    ))
}

/// A page of the project's open invitations, oldest first (admins).
pub(crate) async fn invitations_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page: &PageQuery,
) -> Result<Page<Invitation>, ApiError> {
    caller.require_in(pool, project_id, Role::Admin).await?;
    project_page(
        pool,
        &format!(
            "SELECT {INVITATION_COLUMNS} FROM project_invitations \
             WHERE project_id = $1 AND expires_at > now() ORDER BY created_at, id \
             LIMIT $2 OFFSET $3"
        ),
        project_id,
        page,
        invitation,
    )
    .await
}

/// Withdraws an invitation (admins).
#[utoipa::path(delete, path = "/api/v1/projects/{project_id}/invitations/{invitation_id}",
    tag = "projects", params(("project_id" = Uuid, Path), ("invitation_id" = Uuid, Path)),
    responses((status = 204, description = "withdrawn"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, invitation_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    withdraw_invitation(&state.pool, &caller, project_id, invitation_id).await
}

/// Withdraws an invitation (admins).
pub(crate) async fn withdraw_invitation(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    invitation_id: Uuid,
) -> Result<StatusCode, ApiError> {
    caller.require_in(pool, project_id, Role::Admin).await?;
    let deleted = sqlx::query("DELETE FROM project_invitations WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(invitation_id)
        .execute(pool)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(ApiError::NotFound("invitation"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account's open invitations.
#[utoipa::path(get, path = "/api/v1/me/invitations", tag = "accounts", params(PageQuery),
    responses((status = 200, body = Page<ReceivedInvitation>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn received(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<ReceivedInvitation>>, ApiError> {
    Ok(Json(received_by(&state.pool, caller.user()?, &page).await?))
}

/// The open invitations to `user`'s address (shared by the API and the UI).
pub(crate) async fn received_by(
    pool: &sqlx::PgPool,
    user: Uuid,
    page: &PageQuery,
) -> Result<Page<ReceivedInvitation>, ApiError> {
    let bounds = page.bounds()?;
    // The same columns as an invitation, with the project's name where the email was.
    let rows: Vec<InvitationRow> = sqlx::query_as(
        "SELECT i.id, i.project_id, p.name, i.role, i.created_at, i.expires_at \
         FROM project_invitations i JOIN projects p ON p.id = i.project_id \
         JOIN users u ON u.email = i.email \
         WHERE u.id = $1 AND i.expires_at > now() ORDER BY i.created_at, i.id \
         LIMIT $2 OFFSET $3",
    )
    .bind(user)
    .bind(bounds.0 + 1)
    .bind(bounds.1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .into_iter()
        .map(
            |(id, project_id, project_name, role, created_at, expires_at)| {
                Ok(ReceivedInvitation {
                    id,
                    project_id,
                    project_name,
                    role: Role::parse(&role)?,
                    created_at,
                    expires_at,
                })
            },
        )
        .collect::<Result<_, ApiError>>()?;
    Ok(Page::from_rows(items, bounds))
}

/// Takes the signed-in account's invitation out of the table, locked; 404 when it is not
/// theirs, gone or expired.
async fn take_own(
    tx: &mut sqlx::PgConnection,
    user: Uuid,
    invitation_id: Uuid,
) -> Result<(Uuid, Role), ApiError> {
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "DELETE FROM project_invitations i USING users u \
         WHERE i.id = $1 AND u.id = $2 AND u.email = i.email AND i.expires_at > now() \
         RETURNING i.project_id, i.role",
    )
    .bind(invitation_id)
    .bind(user)
    .fetch_optional(&mut *tx)
    .await?;
    let (project_id, role) = row.ok_or(ApiError::NotFound("invitation"))?;
    Ok((project_id, Role::parse(&role)?))
}

/// Accepts an invitation: the signed-in account becomes a member with the invited role.
#[utoipa::path(post, path = "/api/v1/me/invitations/{invitation_id}/accept", tag = "accounts",
    params(("invitation_id" = Uuid, Path)),
    responses((status = 200, body = Project), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    Path(invitation_id): Path<Uuid>,
) -> Result<Json<Project>, ApiError> {
    Ok(Json(
        accept_for(&state.pool, caller.user()?, invitation_id).await?,
    ))
}

/// `user` accepts their invitation and becomes a member (shared by the API and the UI).
pub(crate) async fn accept_for(
    pool: &sqlx::PgPool,
    user: Uuid,
    invitation_id: Uuid,
) -> Result<Project, ApiError> {
    let mut tx = pool.begin().await?;
    let (project_id, role) = take_own(&mut tx, user, invitation_id).await?;
    // Already a member (added by an earlier invitation): the role they have stays.
    sqlx::query(
        "INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(project_id)
    .bind(user)
    .bind(role.as_str())
    .execute(&mut *tx)
    .await?;
    let (id, name, created_at, role): (Uuid, String, DateTime<Utc>, String) = sqlx::query_as(
        "SELECT p.id, p.name, p.created_at, m.role FROM projects p \
         JOIN project_members m ON m.project_id = p.id AND m.user_id = $2 WHERE p.id = $1",
    )
    .bind(project_id)
    .bind(user)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Project {
        id,
        name,
        created_at,
        role: Role::parse(&role)?,
    })
}

/// Declines an invitation.
#[utoipa::path(delete, path = "/api/v1/me/invitations/{invitation_id}", tag = "accounts",
    params(("invitation_id" = Uuid, Path)),
    responses((status = 204, description = "declined"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn decline(
    State(state): State<AppState>,
    caller: Caller,
    Path(invitation_id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    decline_for(&state.pool, caller.user()?, invitation_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `user` declines their invitation (shared by the API and the UI).
pub(crate) async fn decline_for(
    pool: &sqlx::PgPool,
    user: Uuid,
    invitation_id: Uuid,
) -> Result<(), ApiError> {
    let mut tx = pool.begin().await?;
    take_own(&mut tx, user, invitation_id).await?;
    tx.commit().await?;
    Ok(())
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(received))
        .routes(routes!(decline))
        .routes(routes!(accept))
        .routes(routes!(invite, list))
        .routes(routes!(revoke))
}
