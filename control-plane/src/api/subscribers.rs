//! Subscribers of a status page: email addresses (double opt-in: nothing is sent but the
//! confirmation until its link is followed), webhooks (signed like notification webhooks, the
//! key shown once) and Slack incoming webhooks, told of the whole page or some of its
//! monitors. People subscribe on the page itself (`status_page::subscription`); members list,
//! add (confirmed at once) and remove them here. Every message carries an unsubscribe link.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::owned::require_row;
use super::{AppState, Body, Page, PageQuery};
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};
use crate::notification::ChannelKind;
use crate::notification::egress::Egress;
use crate::notification::subscriber::{page_url, unsubscribe_key, unsubscribe_url};

/// A subscriber.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Subscriber {
    pub id: Uuid,
    pub kind: ChannelKind,
    /// The email address, or the URL posted to.
    pub target: String,
    /// Empty: the whole page.
    pub monitor_ids: Vec<Uuid>,
    /// Whether the email address was confirmed (webhooks and Slack always are).
    pub confirmed: bool,
    pub created_at: DateTime<Utc>,
}

/// A new subscriber.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewSubscriber {
    pub kind: ChannelKind,
    /// An email address (`email`), or an `http(s)` URL (`webhook`, `slack`).
    pub target: String,
    /// Only these monitors of the page (empty: all of it).
    #[serde(default)]
    pub monitor_ids: Vec<Uuid>,
}

/// A subscriber just added; a webhook's signing key is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedSubscriber {
    pub subscriber: Subscriber,
    /// Verify `x-vigil-signature: sha256=<hex HMAC-SHA256 of "<x-vigil-timestamp>.<body>">`.
    pub secret: Option<String>,
}

/// Checks a target for its kind: a mail address, or a URL the sender may post to.
fn check_target(kind: ChannelKind, target: &str, egress: Egress) -> Result<String, ApiError> {
    let target = target.trim();
    match kind {
        ChannelKind::Email => {
            if target.len() > 254 || target.parse::<lettre::Address>().is_err() {
                return Err(ApiError::BadRequest(format!(
                    "{target:?} is not an email address"
                )));
            }
            Ok(target.to_owned())
        }
        ChannelKind::Webhook | ChannelKind::Slack => {
            if !crate::notification::http::is_http_url(target) {
                return Err(ApiError::BadRequest(
                    "the URL must be http:// or https://, at most 2048 characters".into(),
                ));
            }
            egress.check_channel(kind, &serde_json::json!({ "url": target }))?;
            Ok(target.to_owned())
        }
    }
}

/// Subscribes `new` to page `page_id`. `confirmed` (members adding one) skips the opt-in;
/// otherwise an email address gets a confirmation to follow. Subscribing a target twice
/// changes nothing (an unconfirmed email gets a fresh confirmation): `None` when it was
/// subscribed and confirmed already.
pub(crate) async fn subscribe(
    state: &AppState,
    project_id: Uuid,
    page_id: Uuid,
    new: NewSubscriber,
    confirmed: bool,
) -> Result<Option<CreatedSubscriber>, ApiError> {
    let egress = Egress {
        allow_private: state.config.worker.notify_allow_private_networks,
    };
    let target = check_target(new.kind, &new.target, egress)?;
    if new.monitor_ids.len() > super::status_page_layout::MAX_RESOURCES {
        return Err(ApiError::BadRequest("too many monitors".into()));
    }
    let mut tx = state.pool.begin().await?;
    require_row(
        &mut *tx,
        "status_pages",
        project_id,
        page_id,
        "status page",
        true,
    )
    .await?;
    let (on_page, mail_channel, name, slug, domain): (
        i64,
        Option<Uuid>,
        String,
        String,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM status_page_resources \
                 WHERE page_id = $1 AND monitor_id = ANY($2)), subscriber_channel_id, name, slug, \
                (SELECT min(host) FROM status_page_domains WHERE page_id = $1) \
         FROM status_pages WHERE id = $1",
    )
    .bind(page_id)
    .bind(&new.monitor_ids)
    .fetch_one(&mut *tx)
    .await?;
    let mut wanted = new.monitor_ids.clone();
    wanted.sort_unstable();
    wanted.dedup();
    if on_page as usize != wanted.len() {
        return Err(ApiError::BadRequest(
            "a monitor given is not on this status page".into(),
        ));
    }
    if new.kind == ChannelKind::Email && mail_channel.is_none() {
        return Err(ApiError::BadRequest(
            "this status page takes no email subscriptions (it has no email channel to send with)"
                .into(),
        ));
    }
    let token = crate::secret::generate("vst_")?;
    let secret = match new.kind {
        ChannelKind::Webhook => Some(crate::secret::generate(crate::secret::WEBHOOK_SECRET)?),
        _ => None,
    };
    let confirmed = confirmed || new.kind != ChannelKind::Email;
    // (id, confirmed_at, created_at, whether inserted rather than updated)
    type Upserted = (Uuid, Option<DateTime<Utc>>, DateTime<Utc>, bool);
    let row: Option<Upserted> = sqlx::query_as(
        "INSERT INTO status_page_subscribers (id, page_id, project_id, kind, target, secret, \
         token_digest, monitor_ids, confirmed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9 THEN now() END) \
         ON CONFLICT (page_id, kind, target) DO UPDATE SET token_digest = EXCLUDED.token_digest, \
             monitor_ids = EXCLUDED.monitor_ids \
             WHERE status_page_subscribers.confirmed_at IS NULL \
         RETURNING id, confirmed_at, created_at, (xmax = 0)",
    )
    .bind(Uuid::new_v4())
    .bind(page_id)
    .bind(project_id)
    .bind(new.kind.as_str())
    .bind(&target)
    .bind(&secret)
    .bind(crate::secret::digest(&token))
    .bind(&wanted)
    .bind(confirmed)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, confirmed_at, created_at, inserted)) = row else {
        // Confirmed already: nothing changes, nothing is sent.
        tx.commit().await?;
        return Ok(None);
    };
    if confirmed_at.is_none() {
        // The confirmation goes out through the outbox, in this transaction.
        let url = page_url(&state.config.public_url, &slug, domain.as_deref());
        let digest = crate::secret::digest(&token);
        let text = format!(
            "Someone (we hope you) asked to be told by email of incidents and maintenance on \
             {name}.\n\nTo confirm, open:\n{url}/subscription/confirm?token={token}\n\n\
             If it was not you, do nothing: without confirmation you will get no other mail.\n\n\
             Unsubscribe: {}\n",
            unsubscribe_url(&url, id, &digest)
        );
        let payload = serde_json::json!({
            "event": "subscription.confirm",
            "summary": format!("Confirm your subscription to {name}"),
            "text": text,
        });
        crate::notification::outbox::enqueue_for_subscriber(
            &mut tx,
            project_id,
            id,
            &format!("confirm:{digest}"),
            "subscription.confirm",
            payload,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Some(CreatedSubscriber {
        subscriber: Subscriber {
            id,
            kind: new.kind,
            target,
            monitor_ids: wanted,
            confirmed: confirmed_at.is_some(),
            created_at,
        },
        secret: secret.filter(|_| inserted),
    }))
}

/// Confirms the subscription whose confirmation token is `token`; whether one was found.
pub(crate) async fn confirm(
    pool: &sqlx::PgPool,
    page_id: Uuid,
    token: &str,
) -> Result<bool, ApiError> {
    let done = sqlx::query(
        "UPDATE status_page_subscribers SET confirmed_at = COALESCE(confirmed_at, now()) \
         WHERE page_id = $1 AND token_digest = $2",
    )
    .bind(page_id)
    .bind(crate::secret::digest(token))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes subscriber `id` if `key` is its unsubscribe key; whether it was removed.
pub(crate) async fn unsubscribe(
    pool: &sqlx::PgPool,
    page_id: Uuid,
    id: Uuid,
    key: &str,
) -> Result<bool, ApiError> {
    let digest: Option<(String,)> = sqlx::query_as(
        "SELECT token_digest FROM status_page_subscribers WHERE page_id = $1 AND id = $2",
    )
    .bind(page_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some((digest,)) = digest else {
        return Ok(false);
    };
    if !crate::access::csrf_matches(key.as_bytes(), &unsubscribe_key(&digest)) {
        return Ok(false);
    }
    sqlx::query("DELETE FROM status_page_subscribers WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(true)
}

/// Adds a subscriber, confirmed (members).
#[utoipa::path(post, path = "/api/v1/projects/{project_id}/status-pages/{page_id}/subscribers",
    tag = "status pages", params(("project_id" = Uuid, Path), ("page_id" = Uuid, Path)),
    request_body = NewSubscriber,
    responses((status = 201, body = CreatedSubscriber), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, page_id)): Path<(Uuid, Uuid)>,
    Body(new): Body<NewSubscriber>,
) -> Result<(StatusCode, Json<CreatedSubscriber>), ApiError> {
    caller
        .require_in(&state.pool, project_id, Role::Member)
        .await?;
    match subscribe(&state, project_id, page_id, new, true).await? {
        Some(created) => Ok((StatusCode::CREATED, Json(created))),
        None => Err(ApiError::Conflict(
            "this target is subscribed already".into(),
        )),
    }
}

/// A page's subscribers.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/status-pages/{page_id}/subscribers",
    tag = "status pages", params(("project_id" = Uuid, Path), ("page_id" = Uuid, Path),
        PageQuery),
    responses((status = 200, body = Page<Subscriber>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, page_id)): Path<(Uuid, Uuid)>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Subscriber>>, ApiError> {
    Ok(Json(
        subscribers_of(&state.pool, &caller, project_id, page_id, &page).await?,
    ))
}

/// A page of a status page's subscribers, newest first (members: addresses are personal).
pub(crate) async fn subscribers_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page_id: Uuid,
    page: &PageQuery,
) -> Result<Page<Subscriber>, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    require_row(
        pool,
        "status_pages",
        project_id,
        page_id,
        "status page",
        false,
    )
    .await?;
    let bounds = page.bounds()?;
    type Row = (Uuid, String, String, Vec<Uuid>, bool, DateTime<Utc>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, kind, target, monitor_ids, confirmed_at IS NOT NULL, created_at \
         FROM status_page_subscribers WHERE page_id = $1 \
         ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
    )
    .bind(page_id)
    .bind(bounds.0 + 1)
    .bind(bounds.1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .into_iter()
        .map(|(id, kind, target, monitor_ids, confirmed, created_at)| {
            Ok(Subscriber {
                id,
                kind: ChannelKind::parse(&kind)
                    .ok_or_else(|| ApiError::Internal(format!("subscriber kind {kind:?}")))?,
                target,
                monitor_ids,
                confirmed,
                created_at,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Page::from_rows(items, bounds))
}

/// Removes a subscriber.
#[utoipa::path(delete,
    path = "/api/v1/projects/{project_id}/status-pages/{page_id}/subscribers/{subscriber_id}",
    tag = "status pages", params(("project_id" = Uuid, Path), ("page_id" = Uuid, Path),
        ("subscriber_id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, page_id, subscriber_id)): Path<(Uuid, Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    remove_subscriber(&state.pool, &caller, project_id, page_id, subscriber_id).await
}

/// Removes a subscriber (members).
pub(crate) async fn remove_subscriber(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page_id: Uuid,
    subscriber_id: Uuid,
) -> Result<StatusCode, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let done = sqlx::query(
        "DELETE FROM status_page_subscribers WHERE project_id = $1 AND page_id = $2 AND id = $3",
    )
    .bind(project_id)
    .bind(page_id)
    .bind(subscriber_id)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("subscriber"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete_one))
}
