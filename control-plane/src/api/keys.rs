//! Keys of a project: API keys (a project and a role, for programs calling this API) and
//! ingestion keys (for telemetry sent to the ingest engine). A key's secret is shown once, at
//! creation; only its SHA-256 and a short hint are stored. Revoking sets `revoked_at`, and a
//! trigger sends NOTIFY `vigil_keys` for the ingest engine's cache (the engine does not listen
//! yet: it still takes its tokens from its configuration).

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
use crate::secret;

/// An API key (without its secret).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    /// The secret's first characters, to tell keys apart.
    pub hint: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new API key. Its role can be no stronger than the creator's, and never owner; a key
/// made with an expiring API key expires no later than that key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewApiKey {
    pub name: String,
    pub role: Role,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key just created, with its secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedKey<K> {
    pub key: K,
    /// Send as `Authorization: Bearer <secret>` (API keys) or as an ingestion token.
    pub secret: String,
}

/// An ingestion key (without its secret).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IngestionKey {
    pub id: Uuid,
    pub name: String,
    pub hint: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new ingestion key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewIngestionKey {
    pub name: String,
}

type ApiKeyRow = (
    Uuid,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

fn api_key(
    (id, name, role, hint, created_at, expires_at, revoked_at): ApiKeyRow,
) -> Result<ApiKey, ApiError> {
    Ok(ApiKey {
        id,
        name,
        role: Role::parse(&role)?,
        hint,
        created_at,
        expires_at,
        revoked_at,
    })
}

/// Creates an API key (admins).
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/api-keys", tag = "keys",
    params(("project_id" = Uuid, Path)), request_body = NewApiKey,
    responses((status = 201, body = CreatedKey<ApiKey>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Body(new): Body<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedKey<ApiKey>>), ApiError> {
    let created = new_api_key(&state.pool, &caller, project_id, new).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Creates an API key (admins); its secret is in the answer, once.
pub(crate) async fn new_api_key(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    new: NewApiKey,
) -> Result<CreatedKey<ApiKey>, ApiError> {
    let role = caller.require_in(pool, project_id, Role::Admin).await?;
    let name = check_name(&new.name)?;
    if new.role == Role::Owner || new.role > role {
        return Err(ApiError::BadRequest(
            "an API key's role is admin, member or viewer, and no stronger than yours".into(),
        ));
    }
    if new.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::BadRequest("expires_at is in the past".into()));
    }
    // A key never makes a key that outlives it.
    if let Caller::ApiKey {
        expires_at: Some(own),
        ..
    } = caller
        && new.expires_at.is_none_or(|at| at > *own)
    {
        return Err(ApiError::BadRequest(format!(
            "expires_at must be set and no later than this API key's own expiry ({own})"
        )));
    }
    let secret = secret::generate(secret::API_KEY)?;
    let created_by = caller.user().ok();
    let row: ApiKeyRow = sqlx::query_as(
        "INSERT INTO api_keys (id, project_id, name, role, digest, hint, created_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING id, name, role, hint, created_at, expires_at, revoked_at",
    )
    .bind(Uuid::new_v4())
    .bind(project_id)
    .bind(name)
    .bind(new.role.as_str())
    .bind(secret::digest(&secret))
    .bind(secret::hint(&secret))
    .bind(created_by)
    .bind(new.expires_at)
    .fetch_one(pool)
    .await?;
    Ok(CreatedKey {
        key: api_key(row)?,
        secret,
    })
}

/// The project's API keys, revoked ones included (admins).
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/api-keys", tag = "keys",
    params(("project_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<ApiKey>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list_api_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<ApiKey>>, ApiError> {
    Ok(Json(
        api_keys_of(&state.pool, &caller, project_id, &page).await?,
    ))
}

/// A page of the project's API keys, revoked ones included (admins).
pub(crate) async fn api_keys_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page: &PageQuery,
) -> Result<Page<ApiKey>, ApiError> {
    caller.require_in(pool, project_id, Role::Admin).await?;
    project_page(
        pool,
        "SELECT id, name, role, hint, created_at, expires_at, revoked_at FROM api_keys \
         WHERE project_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3",
        project_id,
        page,
        api_key,
    )
    .await
}

/// Revokes a key of `table` in the project; 404 when there is no such key.
async fn revoke(
    state: &AppState,
    table: &str,
    project_id: Uuid,
    key_id: Uuid,
) -> Result<StatusCode, ApiError> {
    let done = sqlx::query(&format!(
        "UPDATE {table} SET revoked_at = coalesce(revoked_at, now()) \
         WHERE project_id = $1 AND id = $2"
    ))
    .bind(project_id)
    .bind(key_id)
    .execute(&state.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("key"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes an API key at once (admins).
#[utoipa::path(delete, path = "/api/v1/projects/{project_id}/api-keys/{key_id}", tag = "keys",
    params(("project_id" = Uuid, Path), ("key_id" = Uuid, Path)),
    responses((status = 204, description = "revoked"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, key_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    revoke_api_key_of(&state, &caller, project_id, key_id).await
}

/// Revokes an API key (admins; shared by the API and the UI).
pub(crate) async fn revoke_api_key_of(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    key_id: Uuid,
) -> Result<StatusCode, ApiError> {
    caller
        .require_in(&state.pool, project_id, Role::Admin)
        .await?;
    revoke(state, "api_keys", project_id, key_id).await
}

type IngestionKeyRow = (Uuid, String, String, DateTime<Utc>, Option<DateTime<Utc>>);

fn ingestion_key((id, name, hint, created_at, revoked_at): IngestionKeyRow) -> IngestionKey {
    IngestionKey {
        id,
        name,
        hint,
        created_at,
        revoked_at,
    }
}

/// Creates an ingestion key (admins).
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/ingestion-keys", tag = "keys",
    params(("project_id" = Uuid, Path)), request_body = NewIngestionKey,
    responses((status = 201, body = CreatedKey<IngestionKey>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn create_ingestion_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Body(new): Body<NewIngestionKey>,
) -> Result<(StatusCode, Json<CreatedKey<IngestionKey>>), ApiError> {
    let created = new_ingestion_key(&state.pool, &caller, project_id, &new.name).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Makes an ingestion key named `name` in the project (admins); its secret is returned once
/// (shared by the API and the UI).
pub(crate) async fn new_ingestion_key(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    name: &str,
) -> Result<CreatedKey<IngestionKey>, ApiError> {
    caller.require_in(pool, project_id, Role::Admin).await?;
    let name = check_name(name)?;
    let secret = secret::generate(secret::INGESTION_KEY)?;
    let row: IngestionKeyRow = sqlx::query_as(
        "INSERT INTO ingestion_keys (id, project_id, name, digest, hint, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, name, hint, created_at, revoked_at",
    )
    .bind(Uuid::new_v4())
    .bind(project_id)
    .bind(name)
    .bind(secret::digest(&secret))
    .bind(secret::hint(&secret))
    .bind(caller.user().ok())
    .fetch_one(pool)
    .await?;
    Ok(CreatedKey {
        key: ingestion_key(row),
        secret,
    })
}

/// The project's ingestion keys, revoked ones included (members).
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/ingestion-keys", tag = "keys",
    params(("project_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<IngestionKey>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list_ingestion_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<IngestionKey>>, ApiError> {
    Ok(Json(
        ingestion_keys(&state.pool, &caller, project_id, &page).await?,
    ))
}

/// The project's ingestion keys, revoked ones included (members; shared by the API and the
/// UI).
pub(crate) async fn ingestion_keys(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page: &PageQuery,
) -> Result<Page<IngestionKey>, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    project_page(
        pool,
        "SELECT id, name, hint, created_at, revoked_at FROM ingestion_keys \
         WHERE project_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3",
        project_id,
        page,
        |row| Ok(ingestion_key(row)),
    )
    .await
}

/// Revokes an ingestion key (admins).
#[utoipa::path(delete, path = "/api/v1/projects/{project_id}/ingestion-keys/{key_id}",
    tag = "keys", params(("project_id" = Uuid, Path), ("key_id" = Uuid, Path)),
    responses((status = 204, description = "revoked"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke_ingestion_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, key_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    revoke_ingestion_key_of(&state, &caller, project_id, key_id).await
}

/// Revokes an ingestion key (admins; shared by the API and the UI).
pub(crate) async fn revoke_ingestion_key_of(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    key_id: Uuid,
) -> Result<StatusCode, ApiError> {
    caller
        .require_in(&state.pool, project_id, Role::Admin)
        .await?;
    revoke(state, "ingestion_keys", project_id, key_id).await
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_api_key, list_api_keys))
        .routes(routes!(revoke_api_key))
        .routes(routes!(create_ingestion_key, list_ingestion_keys))
        .routes(routes!(revoke_ingestion_key))
}
