//! Notification channels of a project (webhook, email, Slack) and their delivery log. Admins
//! manage channels; members read them. Secrets (a webhook's signing key, an SMTP password) are
//! never shown back; a generated signing key is shown once, at creation.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::owned::{delete_row, require_row};
use super::{AppState, Body, Page, PageQuery, check_name, project_page};
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};
use crate::notification::egress::Egress;
use crate::notification::{ChannelKind, check_settings, keep_secrets, shown_settings};

/// A notification channel (secrets left out of `settings`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Channel {
    pub id: Uuid,
    pub name: String,
    pub kind: ChannelKind,
    /// `webhook` `{url, secret}`; `slack` `{url}`; `email` `{host, port, security:
    /// none|starttls|tls, username, password, from, to: [..]}`.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

/// A new channel.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewChannel {
    pub name: String,
    pub kind: ChannelKind,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    pub enabled: Option<bool>,
}

/// Changes to a channel; absent fields stay. New `settings` replace the old ones whole, but for
/// the secrets they leave out: a webhook's signing key, and an email channel's password while
/// its username stays, are kept (send one to replace it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChannelChange {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
    pub enabled: Option<bool>,
}

/// A channel just created; a webhook's generated signing key is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedChannel {
    pub channel: Channel,
    /// Verify `x-vigil-signature: sha256=<hex HMAC-SHA256 of "<x-vigil-timestamp>.<body>">`.
    pub secret: Option<String>,
}

/// One notification sent (or being sent) through a channel.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Delivery {
    pub id: Uuid,
    /// `incident.opened`, `incident.acknowledged`, `incident.resolved`,
    /// `monitor.status_changed`, or `test` (sent from the channel's page).
    pub event: String,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

type ChannelRow = (Uuid, String, String, serde_json::Value, bool, DateTime<Utc>);

fn channel(
    (id, name, kind, settings, enabled, created_at): ChannelRow,
) -> Result<Channel, ApiError> {
    Ok(Channel {
        id,
        name,
        kind: ChannelKind::parse(&kind)
            .ok_or_else(|| ApiError::Internal(format!("unknown channel kind {kind:?}")))?,
        settings: shown_settings(settings),
        enabled,
        created_at,
    })
}

const COLUMNS: &str = "id, name, kind, settings, enabled, created_at";

/// Adds a channel (admins).
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/notification-channels",
    tag = "notifications", params(("project_id" = Uuid, Path)), request_body = NewChannel,
    responses((status = 201, body = CreatedChannel), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Body(new): Body<NewChannel>,
) -> Result<(StatusCode, Json<CreatedChannel>), ApiError> {
    let created = create_channel(&state, &caller, project_id, new).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Adds a channel (admins); a webhook's generated signing key is in the answer, once.
pub(crate) async fn create_channel(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    new: NewChannel,
) -> Result<CreatedChannel, ApiError> {
    caller
        .require_in(&state.pool, project_id, Role::Admin)
        .await?;
    let name = check_name(&new.name)?;
    let (settings, secret) = check_settings(new.kind, new.settings).map_err(ApiError::from)?;
    egress(state)
        .check_channel(new.kind, &settings)
        .map_err(ApiError::from)?;
    let row: ChannelRow = sqlx::query_as(&format!(
        "INSERT INTO notification_channels (id, project_id, name, kind, settings, enabled) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(project_id)
    .bind(name)
    .bind(new.kind.as_str())
    .bind(settings)
    .bind(new.enabled.unwrap_or(true))
    .fetch_one(&state.pool)
    .await?;
    Ok(CreatedChannel {
        channel: channel(row)?,
        secret,
    })
}

/// The project's channels.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/notification-channels",
    tag = "notifications", params(("project_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Channel>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Channel>>, ApiError> {
    Ok(Json(
        channels_of(&state.pool, &caller, project_id, &page).await?,
    ))
}

/// A page of the project's channels, oldest first (members).
pub(crate) async fn channels_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page: &PageQuery,
) -> Result<Page<Channel>, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM notification_channels WHERE project_id = $1 \
         ORDER BY created_at, id LIMIT $2 OFFSET $3"
    );
    project_page(pool, &sql, project_id, page, channel).await
}

/// Changes a channel (admins).
#[utoipa::path(patch, path = "/api/v1/projects/{project_id}/notification-channels/{channel_id}",
    tag = "notifications", params(("project_id" = Uuid, Path), ("channel_id" = Uuid, Path)),
    request_body = ChannelChange,
    responses((status = 200, body = Channel), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, channel_id)): Path<(Uuid, Uuid)>,
    Body(change): Body<ChannelChange>,
) -> Result<Json<Channel>, ApiError> {
    change_channel(&state, &caller, project_id, channel_id, change)
        .await
        .map(Json)
}

/// Changes a channel (admins); absent fields stay.
pub(crate) async fn change_channel(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    channel_id: Uuid,
    change: ChannelChange,
) -> Result<Channel, ApiError> {
    caller
        .require_in(&state.pool, project_id, Role::Admin)
        .await?;
    let name = change.name.as_deref().map(check_name).transpose()?;
    let mut tx = state.pool.begin().await?;
    let stored: Option<(String, serde_json::Value)> = sqlx::query_as(
        "SELECT kind, settings FROM notification_channels \
         WHERE project_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(project_id)
    .bind(channel_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (kind, stored) = stored
        .and_then(|(k, s)| Some((ChannelKind::parse(&k)?, s)))
        .ok_or(ApiError::NotFound("channel"))?;
    let settings = match change.settings {
        Some(s) => {
            let s = keep_secrets(kind, s, &stored);
            let (settings, _) = check_settings(kind, s).map_err(ApiError::from)?;
            egress(state)
                .check_channel(kind, &settings)
                .map_err(ApiError::from)?;
            Some(settings)
        }
        None => None,
    };
    let row: ChannelRow = sqlx::query_as(&format!(
        "UPDATE notification_channels SET name = COALESCE($3, name), \
         settings = COALESCE($4, settings), enabled = COALESCE($5, enabled) \
         WHERE project_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(project_id)
    .bind(channel_id)
    .bind(name)
    .bind(settings)
    .bind(change.enabled)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    channel(row)
}

/// Deletes a channel and its pending notifications (admins).
#[utoipa::path(delete, path = "/api/v1/projects/{project_id}/notification-channels/{channel_id}",
    tag = "notifications", params(("project_id" = Uuid, Path), ("channel_id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, channel_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    delete_channel(&state.pool, &caller, project_id, channel_id).await
}

/// Deletes a channel and its pending notifications (admins).
pub(crate) async fn delete_channel(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    channel_id: Uuid,
) -> Result<StatusCode, ApiError> {
    caller.require_in(pool, project_id, Role::Admin).await?;
    delete_row(
        pool,
        "notification_channels",
        project_id,
        channel_id,
        "channel",
    )
    .await
}

/// What a channel sent, newest first.
#[utoipa::path(get,
    path = "/api/v1/projects/{project_id}/notification-channels/{channel_id}/deliveries",
    tag = "notifications",
    params(("project_id" = Uuid, Path), ("channel_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Delivery>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, channel_id)): Path<(Uuid, Uuid)>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Delivery>>, ApiError> {
    Ok(Json(
        deliveries_of(&state.pool, &caller, project_id, channel_id, &page).await?,
    ))
}

/// A page of what a channel sent, newest first (members).
pub(crate) async fn deliveries_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    channel_id: Uuid,
    page: &PageQuery,
) -> Result<Page<Delivery>, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let bounds = page.bounds()?;
    require_row(
        pool,
        "notification_channels",
        project_id,
        channel_id,
        "channel",
        false,
    )
    .await?;
    type Row = (
        Uuid,
        String,
        String,
        i32,
        Option<String>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, event, state, attempts, last_error, created_at, sent_at FROM notifications \
         WHERE project_id = $1 AND channel_id = $2 ORDER BY created_at DESC, id \
         LIMIT $3 OFFSET $4",
    )
    .bind(project_id)
    .bind(channel_id)
    .bind(bounds.0 + 1)
    .bind(bounds.1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .into_iter()
        .map(
            |(id, event, state, attempts, last_error, created_at, sent_at)| Delivery {
                id,
                event,
                state,
                attempts,
                last_error,
                created_at,
                sent_at,
            },
        )
        .collect();
    Ok(Page::from_rows(items, bounds))
}

/// Queues a test notification for one channel (admins): the worker's sender delivers it like
/// any other, and it shows in the delivery log with its outcome.
#[utoipa::path(post,
    path = "/api/v1/projects/{project_id}/notification-channels/{channel_id}/test",
    tag = "notifications",
    params(("project_id" = Uuid, Path), ("channel_id" = Uuid, Path)),
    responses((status = 202, body = Delivery), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, channel_id)): Path<(Uuid, Uuid)>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    let queued = send_test(&state.pool, &caller, project_id, channel_id).await?;
    Ok((StatusCode::ACCEPTED, Json(queued)))
}

/// Queues a test notification for one channel (admins).
pub(crate) async fn send_test(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    channel_id: Uuid,
) -> Result<Delivery, ApiError> {
    caller.require_in(pool, project_id, Role::Admin).await?;
    let mut tx = pool.begin().await?;
    require_row(
        &mut *tx,
        "notification_channels",
        project_id,
        channel_id,
        "channel",
        false,
    )
    .await?;
    let id = Uuid::new_v4();
    let payload = serde_json::json!({
        "event": TEST_EVENT,
        "summary": "A test notification from Vigil: this channel works.",
        "project_id": project_id,
    });
    let created_at: (DateTime<Utc>,) = sqlx::query_as(
        "INSERT INTO notifications (id, project_id, channel_id, dedup_key, event, payload) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at",
    )
    .bind(id)
    .bind(project_id)
    .bind(channel_id)
    .bind(format!("test:{id}"))
    .bind(TEST_EVENT)
    .bind(payload)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Delivery {
        id,
        event: TEST_EVENT.to_owned(),
        state: "pending".to_owned(),
        attempts: 0,
        last_error: None,
        created_at: created_at.0,
        sent_at: None,
    })
}

/// The event of a test notification.
const TEST_EVENT: &str = "test";

/// The worker's rule for notification targets, applied when a channel is saved too.
fn egress(state: &AppState) -> Egress {
    Egress {
        allow_private: state.config.worker.notify_allow_private_networks,
    }
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(change, delete_one))
        .routes(routes!(deliveries))
        .routes(routes!(test))
}
