//! Projects and their members. Whoever creates a project owns it; every other call needs a
//! role in the project, and a project without one is answered 404.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{AppState, Body, Page, PageQuery, check_name, project_page};
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};

/// A project, with the caller's role in it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Project {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub role: Role,
}

/// A new project.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewProject {
    pub name: String,
}

/// A member of a project.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// A member's new role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleChange {
    pub role: Role,
}

type ProjectRow = (Uuid, String, DateTime<Utc>, String);

fn project((id, name, created_at, role): ProjectRow) -> Result<Project, ApiError> {
    Ok(Project {
        id,
        name,
        created_at,
        role: Role::parse(&role)?,
    })
}

/// Creates a project owned by the signed-in user.
#[utoipa::path(post, path = "/api/v1/projects", tag = "projects", request_body = NewProject,
    responses((status = 201, body = Project), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(new): Body<NewProject>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    let user = caller.user()?;
    let project = create_project(&state.pool, user, &new.name).await?;
    Ok((StatusCode::CREATED, Json(project)))
}

/// Creates a project owned by `user`, with the default statuses, states and severities
/// (shared by the API and the UI).
pub(crate) async fn create_project(
    pool: &sqlx::PgPool,
    user: Uuid,
    name: &str,
) -> Result<Project, ApiError> {
    let name = check_name(name)?;
    let mut tx = pool.begin().await?;
    let (id, name, created_at): (Uuid, String, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO projects (id, name) VALUES ($1, $2) RETURNING id, name, created_at",
    )
    .bind(Uuid::new_v4())
    .bind(name)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, 'owner')")
        .bind(id)
        .bind(user)
        .execute(&mut *tx)
        .await?;
    // Default monitor statuses, incident states and severities (defined in the migration).
    sqlx::query("SELECT vigil_seed_project($1)")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Project {
        id,
        name,
        created_at,
        role: Role::Owner,
    })
}

/// The projects the caller belongs to (an API key: its own project).
#[utoipa::path(get, path = "/api/v1/projects", tag = "projects", params(PageQuery),
    responses((status = 200, body = Page<Project>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Project>>, ApiError> {
    let bounds = page.bounds()?;
    let rows: Vec<ProjectRow> = match &caller {
        Caller::User { id, .. } => return Ok(Json(projects_of(&state.pool, *id, &page).await?)),
        Caller::ApiKey { project, role, .. } => {
            sqlx::query_as(
                "SELECT id, name, created_at, $2 FROM projects WHERE id = $1 LIMIT $3 OFFSET $4",
            )
            .bind(project)
            .bind(role.as_str())
            .bind(bounds.0 + 1)
            .bind(bounds.1)
            .fetch_all(&state.pool)
            .await?
        }
    };
    let items = rows.into_iter().map(project).collect::<Result<_, _>>()?;
    Ok(Json(Page::from_rows(items, bounds)))
}

/// The projects `user` is a member of, with their role, oldest first (shared by the API and
/// the UI).
pub(crate) async fn projects_of(
    pool: &sqlx::PgPool,
    user: Uuid,
    page: &PageQuery,
) -> Result<Page<Project>, ApiError> {
    let bounds = page.bounds()?;
    let rows: Vec<ProjectRow> = sqlx::query_as(
        "SELECT p.id, p.name, p.created_at, m.role FROM projects p \
         JOIN project_members m ON m.project_id = p.id AND m.user_id = $1 \
         ORDER BY p.created_at, p.id LIMIT $2 OFFSET $3",
    )
    .bind(user)
    .bind(bounds.0 + 1)
    .bind(bounds.1)
    .fetch_all(pool)
    .await?;
    let items = rows.into_iter().map(project).collect::<Result<_, _>>()?;
    Ok(Page::from_rows(items, bounds))
}

/// One project.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}", tag = "projects",
    params(("project_id" = Uuid, Path)),
    responses((status = 200, body = Project), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
) -> Result<Json<Project>, ApiError> {
    Ok(Json(project_of(&state.pool, &caller, project_id).await?))
}

/// One project with the caller's role in it; 404 when the caller has none (shared by the API
/// and the UI).
pub(crate) async fn project_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
) -> Result<Project, ApiError> {
    let role = caller.role_in(pool, project_id).await?;
    let (id, name, created_at): (Uuid, String, DateTime<Utc>) =
        sqlx::query_as("SELECT id, name, created_at FROM projects WHERE id = $1")
            .bind(project_id)
            .fetch_one(pool)
            .await?;
    Ok(Project {
        id,
        name,
        created_at,
        role,
    })
}

/// Deletes a project and everything in it (owners only).
#[utoipa::path(delete, path = "/api/v1/projects/{project_id}", tag = "projects",
    params(("project_id" = Uuid, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller
        .require_in(&state.pool, project_id, Role::Owner)
        .await?;
    sqlx::query("DELETE FROM projects WHERE id = $1")
        .bind(project_id)
        .execute(&state.pool)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

type MemberRow = (Uuid, String, String, String, DateTime<Utc>);

fn member((user_id, email, name, role, created_at): MemberRow) -> Result<Member, ApiError> {
    Ok(Member {
        user_id,
        email,
        name,
        role: Role::parse(&role)?,
        created_at,
    })
}

const MEMBER_SELECT: &str = "SELECT u.id, u.email, u.name, m.role, m.created_at \
     FROM project_members m JOIN users u ON u.id = m.user_id";

/// The members of a project.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/members", tag = "projects",
    params(("project_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Member>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn members(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Member>>, ApiError> {
    Ok(Json(
        members_of(&state.pool, &caller, project_id, &page).await?,
    ))
}

/// The project's members with their roles (shared by the API and the UI).
pub(crate) async fn members_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page: &PageQuery,
) -> Result<Page<Member>, ApiError> {
    caller.role_in(pool, project_id).await?;
    project_page(
        pool,
        &format!(
            "{MEMBER_SELECT} WHERE m.project_id = $1 ORDER BY m.created_at, u.id \
             LIMIT $2 OFFSET $3"
        ),
        project_id,
        page,
        member,
    )
    .await
}

/// Refuses a change that only an owner may make: making, changing or removing an owner.
pub(crate) fn check_owner_rule(
    caller: Role,
    from: Option<Role>,
    to: Option<Role>,
) -> Result<(), ApiError> {
    caller.require(Role::Admin)?;
    if from == Some(Role::Owner) || to == Some(Role::Owner) {
        caller.require(Role::Owner)?;
    }
    Ok(())
}

/// Fails when the project would be left without an owner.
async fn keep_an_owner(
    tx: &mut sqlx::PgConnection,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<(), ApiError> {
    // Locking every owner row makes concurrent demotions of two owners wait for each other.
    let owners: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT user_id FROM project_members WHERE project_id = $1 AND role = 'owner' FOR UPDATE",
    )
    .bind(project_id)
    .fetch_all(&mut *tx)
    .await?;
    if owners.iter().all(|(owner,)| *owner == user_id) {
        return Err(ApiError::Conflict(
            "a project keeps at least one owner".into(),
        ));
    }
    Ok(())
}

/// The current role of a member, locked for the rest of the transaction.
async fn member_role(
    tx: &mut sqlx::PgConnection,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<Role, ApiError> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2 FOR UPDATE",
    )
    .bind(project_id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    Role::parse(&row.ok_or(ApiError::NotFound("member"))?.0)
}

/// Changes a member's role (admins; owners for anything touching an owner). The last owner
/// stays an owner.
#[utoipa::path(patch, path = "/api/v1/projects/{project_id}/members/{user_id}", tag = "projects",
    params(("project_id" = Uuid, Path), ("user_id" = Uuid, Path)), request_body = RoleChange,
    responses((status = 200, body = Member), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn change_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, user_id)): Path<(Uuid, Uuid)>,
    Body(change): Body<RoleChange>,
) -> Result<Json<Member>, ApiError> {
    change_member_of(&state.pool, &caller, project_id, user_id, change.role)
        .await
        .map(Json)
}

/// Changes a member's role (admins; owners for anything touching an owner).
pub(crate) async fn change_member_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    user_id: Uuid,
    to: Role,
) -> Result<Member, ApiError> {
    let change = RoleChange { role: to };
    let role = caller.role_in(pool, project_id).await?;
    let mut tx = pool.begin().await?;
    let from = member_role(&mut tx, project_id, user_id).await?;
    check_owner_rule(role, Some(from), Some(change.role))?;
    if from == Role::Owner && change.role != Role::Owner {
        keep_an_owner(&mut tx, project_id, user_id).await?;
    }
    sqlx::query("UPDATE project_members SET role = $3 WHERE project_id = $1 AND user_id = $2")
        .bind(project_id)
        .bind(user_id)
        .bind(change.role.as_str())
        .execute(&mut *tx)
        .await?;
    let row: MemberRow = sqlx::query_as(&format!(
        "{MEMBER_SELECT} WHERE m.project_id = $1 AND m.user_id = $2"
    ))
    .bind(project_id)
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    member(row)
}

/// Removes a member (admins; owners to remove an owner). The last owner stays.
#[utoipa::path(delete, path = "/api/v1/projects/{project_id}/members/{user_id}", tag = "projects",
    params(("project_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204, description = "removed"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, user_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    remove_member_of(&state.pool, &caller, project_id, user_id).await
}

/// Removes a member (admins; owners to remove an owner). The last owner stays.
pub(crate) async fn remove_member_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<StatusCode, ApiError> {
    let role = caller.role_in(pool, project_id).await?;
    let mut tx = pool.begin().await?;
    let from = member_role(&mut tx, project_id, user_id).await?;
    check_owner_rule(role, Some(from), None)?;
    if from == Role::Owner {
        keep_an_owner(&mut tx, project_id, user_id).await?;
    }
    sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2")
        .bind(project_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one, delete_one))
        .routes(routes!(members))
        .routes(routes!(change_member, remove_member))
}
