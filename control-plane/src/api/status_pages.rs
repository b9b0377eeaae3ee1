//! Status pages of a project: their settings (name, slug, look, time zone, who may read them,
//! the host names they claim) and their layout (groups and resources, in order). Members
//! manage them; viewers read them. What the public sees is built from these by
//! `status_page::snapshot`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::owned::{delete_row, require_row};
use super::status_page_checks::{
    check_color, check_domains, check_mail_channel, check_slug, check_text, check_time_zone,
};
use super::{AppState, Body, Page, PageQuery, check_name, project_page};
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};

/// Who may read a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Visibility {
    /// Anyone.
    Public,
    /// Whoever knows the page's password.
    Password,
    /// Members of the page's project, signed in.
    Members,
}

impl Visibility {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Password => "password",
            Visibility::Members => "members",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, ApiError> {
        match s {
            "public" => Ok(Visibility::Public),
            "password" => Ok(Visibility::Password),
            "members" => Ok(Visibility::Members),
            other => Err(ApiError::Internal(format!("unknown visibility {other:?}"))),
        }
    }
}

/// A link in a page's footer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FooterLink {
    pub label: String,
    /// `http://` or `https://`.
    pub url: String,
}

/// A status page's settings.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatusPage {
    pub id: Uuid,
    pub name: String,
    /// The page is at `/status/{slug}`.
    pub slug: String,
    pub description: String,
    /// `#rrggbb`.
    pub brand_color: String,
    pub footer_links: Vec<FooterLink>,
    /// IANA time zone times are shown in.
    pub time_zone: String,
    /// Asks search engines not to index the page.
    pub noindex: bool,
    pub visibility: Visibility,
    /// Host names that serve the page at `/` (custom domains).
    pub domains: Vec<String>,
    pub has_logo: bool,
    /// The email channel subscriber mail goes out through; absent: no email subscriptions.
    pub subscriber_channel_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new status page.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewStatusPage {
    pub name: String,
    /// Lower-case letters, digits and inner dashes, at most 64.
    pub slug: String,
    #[serde(default)]
    pub description: String,
    pub brand_color: Option<String>,
    #[serde(default)]
    pub footer_links: Vec<FooterLink>,
    pub time_zone: Option<String>,
    #[serde(default)]
    pub noindex: bool,
    pub visibility: Option<Visibility>,
    /// Needed when `visibility` is `password`; stored hashed.
    pub password: Option<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    /// An email channel of the project to send subscriber mail through.
    pub subscriber_channel_id: Option<Uuid>,
}

/// Changes to a page; absent fields stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusPageChange {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub brand_color: Option<String>,
    pub footer_links: Option<Vec<FooterLink>>,
    pub time_zone: Option<String>,
    pub noindex: Option<bool>,
    pub visibility: Option<Visibility>,
    /// A new password (with `visibility` `password`, or a page already private by password).
    pub password: Option<String>,
    /// Replaces the host names the page claims.
    pub domains: Option<Vec<String>>,
    /// An email channel to send subscriber mail through; `null` stops email subscriptions.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    pub subscriber_channel_id: Option<Option<Uuid>>,
}

/// A field that may be sent as `null` (to clear it) or left out (to keep it).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Uuid>>, D::Error> {
    Option::<Uuid>::deserialize(d).map(Some)
}

/// Most footer links.
const MAX_LINKS: usize = 10;

/// At most `MAX_LINKS` footer links, each with a name and an http(s) URL.
fn check_links(links: &[FooterLink]) -> Result<(), ApiError> {
    if links.len() > MAX_LINKS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_LINKS} footer links"
        )));
    }
    for link in links {
        check_name(&link.label)?;
        if !crate::notification::http::is_http_url(&link.url) || link.url.len() > 2000 {
            return Err(ApiError::BadRequest(format!(
                "footer link {:?}: the URL must be http:// or https://, at most 2000 characters",
                link.label
            )));
        }
    }
    Ok(())
}

type Row = (
    Uuid,
    String,
    String,
    String,
    String,
    serde_json::Value,
    String,
    bool,
    String,
    Vec<String>,
    bool,
    Option<Uuid>,
    DateTime<Utc>,
    DateTime<Utc>,
);

const COLUMNS: &str = "p.id, p.name, p.slug, p.description, p.brand_color, p.footer_links, \
     p.time_zone, p.noindex, p.visibility, \
     COALESCE((SELECT array_agg(host ORDER BY host) FROM status_page_domains d \
     WHERE d.page_id = p.id), '{}'), p.logo IS NOT NULL, p.subscriber_channel_id, p.created_at, \
     p.updated_at";

fn status_page(
    (
        id,
        name,
        slug,
        description,
        brand_color,
        footer_links,
        time_zone,
        noindex,
        visibility,
        domains,
        has_logo,
        subscriber_channel_id,
        created_at,
        updated_at,
    ): Row,
) -> Result<StatusPage, ApiError> {
    Ok(StatusPage {
        id,
        name,
        slug,
        description,
        brand_color,
        footer_links: serde_json::from_value(footer_links)
            .map_err(|e| ApiError::Internal(format!("footer links: {e}")))?,
        time_zone,
        noindex,
        visibility: Visibility::parse(&visibility)?,
        domains,
        has_logo,
        subscriber_channel_id,
        created_at,
        updated_at,
    })
}

async fn set_domains(
    db: &mut PgConnection,
    project_id: Uuid,
    page_id: Uuid,
    hosts: &[String],
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM status_page_domains WHERE page_id = $1")
        .bind(page_id)
        .execute(&mut *db)
        .await?;
    for host in hosts {
        let claimed = sqlx::query(
            "INSERT INTO status_page_domains (host, page_id, project_id) VALUES ($1, $2, $3) \
             ON CONFLICT (host) DO NOTHING",
        )
        .bind(host)
        .bind(page_id)
        .bind(project_id)
        .execute(&mut *db)
        .await?;
        if claimed.rows_affected() == 0 {
            return Err(ApiError::Conflict(format!(
                "{host} is claimed by another status page"
            )));
        }
    }
    Ok(())
}

async fn fetch(db: &mut PgConnection, project_id: Uuid, id: Uuid) -> Result<StatusPage, ApiError> {
    let row: Row = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM status_pages p WHERE p.project_id = $1 AND p.id = $2"
    ))
    .bind(project_id)
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(ApiError::NotFound("status page"))?;
    status_page(row)
}

/// The hash of a page password, checked like an account password.
async fn page_password(password: String, name: &str, slug: &str) -> Result<String, ApiError> {
    crate::password::check(&password, &[name, slug])?;
    crate::password::hash(password).await
}

/// Creates a page.
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/status-pages",
    tag = "status pages", params(("project_id" = Uuid, Path)), request_body = NewStatusPage,
    responses((status = 201, body = StatusPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Body(new): Body<NewStatusPage>,
) -> Result<(StatusCode, Json<StatusPage>), ApiError> {
    let page = create_page(&state.pool, &caller, project_id, new).await?;
    Ok((StatusCode::CREATED, Json(page)))
}

/// Creates a page (members).
pub(crate) async fn create_page(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    new: NewStatusPage,
) -> Result<StatusPage, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let name = check_name(&new.name)?.to_owned();
    let slug = new.slug.trim().to_owned();
    check_slug(&slug)?;
    check_text("a description", &new.description, 2000)?;
    let color = new.brand_color.unwrap_or_else(|| "#2457c5".into());
    check_color(&color)?;
    check_links(&new.footer_links)?;
    let hosts = check_domains(&new.domains)?;
    let visibility = new.visibility.unwrap_or(Visibility::Public);
    let password_hash = match (visibility, new.password) {
        (Visibility::Password, Some(password)) => {
            Some(page_password(password, &name, &slug).await?)
        }
        (Visibility::Password, None) => {
            return Err(ApiError::BadRequest(
                "a page private by password needs a password".into(),
            ));
        }
        _ => None,
    };
    let zone = new.time_zone.unwrap_or_else(|| "UTC".into());
    let links =
        serde_json::to_value(&new.footer_links).map_err(|e| ApiError::Internal(e.to_string()))?;
    let id = Uuid::new_v4();
    let mut tx = pool.begin().await?;
    check_time_zone(&mut tx, &zone).await?;
    check_mail_channel(&mut tx, project_id, new.subscriber_channel_id).await?;
    let inserted = sqlx::query(
        "INSERT INTO status_pages (id, project_id, name, slug, description, brand_color, \
         footer_links, time_zone, noindex, visibility, password_hash, subscriber_channel_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (slug) DO NOTHING",
    )
    .bind(id)
    .bind(project_id)
    .bind(&name)
    .bind(&slug)
    .bind(new.description.trim())
    .bind(&color)
    .bind(links)
    .bind(&zone)
    .bind(new.noindex)
    .bind(visibility.as_str())
    .bind(password_hash)
    .bind(new.subscriber_channel_id)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::Conflict(format!("the slug {slug:?} is taken")));
    }
    set_domains(&mut tx, project_id, id, &hosts).await?;
    let page = fetch(&mut tx, project_id, id).await?;
    tx.commit().await?;
    Ok(page)
}

/// The project's pages.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/status-pages",
    tag = "status pages", params(("project_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<StatusPage>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<StatusPage>>, ApiError> {
    Ok(Json(
        pages_of(&state.pool, &caller, project_id, &page).await?,
    ))
}

/// A page of the project's status pages, oldest first (members and viewers).
pub(crate) async fn pages_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page: &PageQuery,
) -> Result<Page<StatusPage>, ApiError> {
    caller.role_in(pool, project_id).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM status_pages p WHERE p.project_id = $1 \
         ORDER BY p.created_at, p.id LIMIT $2 OFFSET $3"
    );
    project_page(pool, &sql, project_id, page, status_page).await
}

/// One page.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/status-pages/{page_id}",
    tag = "status pages", params(("project_id" = Uuid, Path), ("page_id" = Uuid, Path)),
    responses((status = 200, body = StatusPage), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, page_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<StatusPage>, ApiError> {
    Ok(Json(
        page_of(&state.pool, &caller, project_id, page_id).await?,
    ))
}

/// One page (members and viewers).
pub(crate) async fn page_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page_id: Uuid,
) -> Result<StatusPage, ApiError> {
    caller.role_in(pool, project_id).await?;
    let mut db = pool.acquire().await?;
    fetch(&mut db, project_id, page_id).await
}

/// Changes a page.
#[utoipa::path(patch, path = "/api/v1/projects/{project_id}/status-pages/{page_id}",
    tag = "status pages", params(("project_id" = Uuid, Path), ("page_id" = Uuid, Path)),
    request_body = StatusPageChange,
    responses((status = 200, body = StatusPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, page_id)): Path<(Uuid, Uuid)>,
    Body(change): Body<StatusPageChange>,
) -> Result<Json<StatusPage>, ApiError> {
    Ok(Json(
        change_page(&state.pool, &caller, project_id, page_id, change).await?,
    ))
}

/// Changes a page (members); every field is checked before anything is written.
pub(crate) async fn change_page(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page_id: Uuid,
    change: StatusPageChange,
) -> Result<StatusPage, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let mut tx = pool.begin().await?;
    require_row(
        &mut *tx,
        "status_pages",
        project_id,
        page_id,
        "status page",
        true,
    )
    .await?;
    let current = fetch(&mut tx, project_id, page_id).await?;
    let name = match &change.name {
        Some(name) => check_name(name)?.to_owned(),
        None => current.name.clone(),
    };
    let slug = change
        .slug
        .as_deref()
        .map(str::trim)
        .unwrap_or(&current.slug)
        .to_owned();
    check_slug(&slug)?;
    let description = change
        .description
        .as_deref()
        .map(str::trim)
        .unwrap_or(&current.description)
        .to_owned();
    check_text("a description", &description, 2000)?;
    let color = change.brand_color.unwrap_or(current.brand_color);
    check_color(&color)?;
    let links = change.footer_links.unwrap_or(current.footer_links);
    check_links(&links)?;
    let zone = change.time_zone.unwrap_or(current.time_zone);
    check_time_zone(&mut tx, &zone).await?;
    let hosts = change.domains.as_deref().map(check_domains).transpose()?;
    let mail_channel = change
        .subscriber_channel_id
        .unwrap_or(current.subscriber_channel_id);
    check_mail_channel(&mut tx, project_id, mail_channel).await?;
    let visibility = change.visibility.unwrap_or(current.visibility);
    let new_hash = match change.password {
        Some(password) => Some(page_password(password, &name, &slug).await?),
        None => None,
    };
    let (had_hash,): (bool,) =
        sqlx::query_as("SELECT password_hash IS NOT NULL FROM status_pages WHERE id = $1")
            .bind(page_id)
            .fetch_one(&mut *tx)
            .await?;
    if visibility == Visibility::Password && new_hash.is_none() && !had_hash {
        return Err(ApiError::BadRequest(
            "a page private by password needs a password".into(),
        ));
    }
    let taken: Option<(Uuid,)> =
        sqlx::query_as("SELECT id FROM status_pages WHERE slug = $1 AND id <> $2")
            .bind(&slug)
            .bind(page_id)
            .fetch_optional(&mut *tx)
            .await?;
    if taken.is_some() {
        return Err(ApiError::Conflict(format!("the slug {slug:?} is taken")));
    }
    sqlx::query(
        "UPDATE status_pages SET name = $2, slug = $3, description = $4, brand_color = $5, \
         footer_links = $6, time_zone = $7, noindex = COALESCE($8, noindex), visibility = $9, \
         password_hash = CASE WHEN $9 = 'password' THEN COALESCE($10, password_hash) END, \
         subscriber_channel_id = $11, updated_at = now() WHERE id = $1",
    )
    .bind(page_id)
    .bind(&name)
    .bind(&slug)
    .bind(&description)
    .bind(&color)
    .bind(serde_json::to_value(&links).map_err(|e| ApiError::Internal(e.to_string()))?)
    .bind(&zone)
    .bind(change.noindex)
    .bind(visibility.as_str())
    .bind(new_hash)
    .bind(mail_channel)
    .execute(&mut *tx)
    .await?;
    if let Some(hosts) = hosts {
        set_domains(&mut tx, project_id, page_id, &hosts).await?;
    }
    let page = fetch(&mut tx, project_id, page_id).await?;
    tx.commit().await?;
    Ok(page)
}

/// Deletes a page.
#[utoipa::path(delete, path = "/api/v1/projects/{project_id}/status-pages/{page_id}",
    tag = "status pages", params(("project_id" = Uuid, Path), ("page_id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, page_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    delete_page(&state.pool, &caller, project_id, page_id).await
}

/// Deletes a page (members).
pub(crate) async fn delete_page(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page_id: Uuid,
) -> Result<StatusCode, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    delete_row(pool, "status_pages", project_id, page_id, "status page").await
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete_one))
}
