//! A project's notification channels (webhook, Slack, email): the list and, for admins, a new
//! channel (a webhook's signing key shown once); a channel's page with its settings (secrets
//! never shown back), its delivery log, its name and settings changed (a secret left blank
//! stays), enable or disable, a test notification that the worker delivers like any other,
//! and deletion behind a confirmation page.

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
use crate::access::SessionUser;
use crate::api::AppState;
use crate::api::PageQuery;
use crate::api::channels::{
    ChannelChange, NewChannel, change_channel, channels_of, create_channel, delete_channel,
    deliveries_of, send_test,
};
use crate::error::ApiError;
use crate::notification::ChannelKind;

/// The kinds a form offers: `(kind, label)`.
const KINDS: [(&str, &str); 3] = [
    ("webhook", "Webhook (signed JSON POST)"),
    ("slack", "Slack (incoming webhook)"),
    ("email", "Email (SMTP)"),
];

/// What the new-channel form held.
#[derive(Deserialize, Default)]
pub(super) struct ChannelForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    security: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

impl ChannelForm {
    /// The API's new channel: the settings of the chosen kind only.
    fn to_new(&self) -> Result<NewChannel, ApiError> {
        let kind = ChannelKind::parse(&self.kind)
            .ok_or_else(|| ApiError::BadRequest("choose the kind of channel".into()))?;
        let settings = match kind {
            ChannelKind::Webhook | ChannelKind::Slack => {
                serde_json::json!({ "url": self.url.trim() })
            }
            ChannelKind::Email => {
                let port: u16 = self.port.trim().parse().map_err(|_| {
                    ApiError::BadRequest("email: the port is a number from 1 to 65535".into())
                })?;
                let mut s = serde_json::json!({
                    "host": self.host.trim(),
                    "port": port,
                    "security": self.security,
                    "from": self.from.trim(),
                    "to": self.to.split(',').map(str::trim).filter(|t| !t.is_empty())
                        .collect::<Vec<_>>(),
                });
                if !self.username.is_empty() {
                    s["username"] = self.username.clone().into();
                }
                // Left blank: none on a new channel, the stored one on a changed channel.
                if !self.password.is_empty() {
                    s["password"] = self.password.clone().into();
                }
                s
            }
        };
        Ok(NewChannel {
            name: self.name.clone(),
            kind,
            settings,
            enabled: Some(true),
        })
    }
}

/// The edit form of a channel, from what is stored (never a secret: the API leaves them out).
fn form_of(name: &str, kind: ChannelKind, settings: &serde_json::Value) -> ChannelForm {
    let text = |k: &str| {
        settings
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    ChannelForm {
        name: name.to_owned(),
        kind: kind.as_str().to_owned(),
        url: text("url"),
        host: text("host"),
        port: settings
            .get("port")
            .and_then(|v| v.as_u64())
            .map_or_else(String::new, |p| p.to_string()),
        security: text("security"),
        username: text("username"),
        from: text("from"),
        to: recipients(settings).join(", "),
        ..ChannelForm::default()
    }
}

struct ChannelRow {
    id: Uuid,
    name: String,
    kind: &'static str,
    enabled: bool,
    target: String,
}

#[derive(Template)]
#[template(path = "channels.html")]
struct ChannelsPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    csrf: String,
    channels: Vec<ChannelRow>,
    kinds: [(&'static str, &'static str); 3],
    form: ChannelForm,
    /// A new webhook's signing key, shown once.
    secret: Option<String>,
}

/// Where a channel sends, in one line (its settings without secrets).
fn target(settings: &serde_json::Value) -> String {
    let text = |k: &str| settings.get(k).and_then(|v| v.as_str()).unwrap_or("");
    if !text("url").is_empty() {
        return text("url").to_owned();
    }
    format!("{} via {}", recipients(settings).join(", "), text("host"))
}

/// An email channel's recipients (none for other kinds).
fn recipients(settings: &serde_json::Value) -> Vec<&str> {
    settings
        .get("to")
        .and_then(|t| t.as_array())
        .map(|t| t.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default()
}

async fn channels_page(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    status: StatusCode,
    form: ChannelForm,
    outcome: Result<Option<String>, ApiError>,
) -> Result<Response, ApiError> {
    let nav = ProjectNav::of(state, user, project_id, "/channels").await?;
    let channels = channels_of(
        &state.pool,
        &user.caller(),
        project_id,
        &PageQuery::first(200),
    )
    .await?
    .items
    .into_iter()
    .map(|c| ChannelRow {
        id: c.id,
        target: target(&c.settings),
        name: c.name,
        kind: c.kind.as_str(),
        enabled: c.enabled,
    })
    .collect();
    let (status, error, secret) = match outcome {
        Ok(secret) => (status, None, secret),
        Err(e) => {
            let (status, message) = e.for_people();
            (status, Some(message), None)
        }
    };
    Ok(page(
        status,
        &ChannelsPage {
            user: Some(user),
            error,
            nav,
            csrf: user.csrf_token.clone(),
            channels,
            kinds: KINDS,
            form,
            secret,
        },
    ))
}

pub(super) async fn list(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
) -> Response {
    let form = ChannelForm {
        kind: "webhook".into(),
        security: "starttls".into(),
        port: "587".into(),
        ..ChannelForm::default()
    };
    channels_page(&state, &user, project_id, StatusCode::OK, form, Ok(None))
        .await
        .unwrap_or_else(|e| error_page(Some(&user), &e))
}

/// `POST /projects/<id>/channels`: adds one; a refusal shows the form again with what was typed
/// (the password excepted).
pub(super) async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Form(mut form): Form<ChannelForm>,
) -> Response {
    let created = async {
        check_csrf(&user, &form.csrf_token)?;
        create_channel(&state, &user.caller(), project_id, form.to_new()?).await
    }
    .await;
    form.password.clear();
    let shown = match created {
        Ok(c) => match c.secret {
            // The signing key is shown on this answer only.
            Some(secret) => {
                let form = ChannelForm::default();
                channels_page(
                    &state,
                    &user,
                    project_id,
                    StatusCode::CREATED,
                    form,
                    Ok(Some(secret)),
                )
                .await
            }
            None => Ok(
                Redirect::to(&format!("/projects/{project_id}/channels/{}", c.channel.id))
                    .into_response(),
            ),
        },
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
            channels_page(&state, &user, project_id, StatusCode::OK, form, Err(e)).await
        }
        Err(e) => Err(e),
    };
    shown.unwrap_or_else(|e| error_page(Some(&user), &e))
}

struct DeliveryRow {
    event: String,
    state: String,
    attempts: i32,
    error: String,
    created: String,
    sent: String,
}

#[derive(Template)]
#[template(path = "channel.html")]
struct ChannelPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    csrf: String,
    id: Uuid,
    name: String,
    kind: &'static str,
    enabled: bool,
    target: String,
    deliveries: Vec<DeliveryRow>,
    notice: Option<&'static str>,
    /// The edit form (admins): what is stored, or what was typed when it was refused.
    form: ChannelForm,
}

/// A channel's page; `refused` is an edit that was refused, shown again with its reason.
async fn channel_page(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    channel_id: Uuid,
    notice: Option<&'static str>,
    refused: Option<(ChannelForm, ApiError)>,
) -> Result<Response, ApiError> {
    let caller = user.caller();
    let nav = ProjectNav::of(state, user, project_id, "/channels").await?;
    let channel = channels_of(&state.pool, &caller, project_id, &PageQuery::first(200))
        .await?
        .items
        .into_iter()
        .find(|c| c.id == channel_id)
        .ok_or(ApiError::NotFound("channel"))?;
    let deliveries = deliveries_of(
        &state.pool,
        &caller,
        project_id,
        channel_id,
        &PageQuery::first(50),
    )
    .await?
    .items
    .into_iter()
    .map(|d| DeliveryRow {
        event: d.event,
        state: d.state,
        attempts: d.attempts,
        error: d.last_error.unwrap_or_default(),
        created: when(d.created_at),
        sent: d.sent_at.map_or_else(String::new, when),
    })
    .collect();
    let (form, error) = match refused {
        Some((form, e)) => (form, Some(e.for_people().1)),
        None => (
            form_of(&channel.name, channel.kind, &channel.settings),
            None,
        ),
    };
    Ok(page(
        StatusCode::OK,
        &ChannelPage {
            user: Some(user),
            error,
            form,
            csrf: user.csrf_token.clone(),
            id: channel.id,
            target: target(&channel.settings),
            name: channel.name,
            kind: channel.kind.as_str(),
            enabled: channel.enabled,
            deliveries,
            notice,
            nav,
        },
    ))
}

#[derive(Deserialize)]
pub(super) struct ShowQuery {
    test: Option<String>,
    saved: Option<String>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, channel_id)): Path<(Uuid, Uuid)>,
    axum::extract::Query(query): axum::extract::Query<ShowQuery>,
) -> Response {
    let notice = if query.test.is_some() {
        Some("A test notification is queued: it appears below with its outcome.")
    } else {
        query
            .saved
            .is_some()
            .then_some("The channel's settings are saved.")
    };
    channel_page(&state, &user, project_id, channel_id, notice, None)
        .await
        .unwrap_or_else(|e| error_page(Some(&user), &e))
}

/// `POST /projects/<id>/channels/<channel>/settings`: its name and settings (admins). A secret
/// left blank stays as it was; a refusal shows the form again with what was typed (the password
/// excepted) and why.
pub(super) async fn edit(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, channel_id)): Path<(Uuid, Uuid)>,
    Form(mut form): Form<ChannelForm>,
) -> Response {
    let changed = async {
        check_csrf(&user, &form.csrf_token)?;
        let new = form.to_new()?;
        let change = ChannelChange {
            name: Some(new.name),
            settings: Some(new.settings),
            enabled: None,
        };
        change_channel(&state, &user.caller(), project_id, channel_id, change).await
    }
    .await;
    form.password.clear();
    let shown = match changed {
        Ok(_) => Ok(Redirect::to(&format!(
            "/projects/{project_id}/channels/{channel_id}?saved=1"
        ))
        .into_response()),
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
            channel_page(&state, &user, project_id, channel_id, None, Some((form, e))).await
        }
        Err(e) => Err(e),
    };
    shown.unwrap_or_else(|e| error_page(Some(&user), &e))
}

#[derive(Deserialize)]
pub(super) struct ActionForm {
    csrf_token: String,
    #[serde(default)]
    enabled: Option<bool>,
}

/// `POST /projects/<id>/channels/<channel>/<action>`: `test`, `enabled`, `delete`.
pub(super) async fn act(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, channel_id, action)): Path<(Uuid, Uuid, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let back = format!("/projects/{project_id}/channels/{channel_id}");
    let done = async {
        check_csrf(&user, &form.csrf_token)?;
        let caller = user.caller();
        match action.as_str() {
            "test" => send_test(&state.pool, &caller, project_id, channel_id)
                .await
                .map(|_| Some("?test=queued")),
            "enabled" => {
                let change = ChannelChange {
                    name: None,
                    settings: None,
                    enabled: Some(form.enabled.unwrap_or(true)),
                };
                change_channel(&state, &caller, project_id, channel_id, change)
                    .await
                    .map(|_| None)
            }
            "delete" => delete_channel(&state.pool, &caller, project_id, channel_id)
                .await
                .map(|_| None),
            _ => Err(ApiError::NotFound("page")),
        }
    };
    match done.await {
        Ok(_) if action == "delete" => {
            Redirect::to(&format!("/projects/{project_id}/channels")).into_response()
        }
        // Back to the channel's page (post/redirect/get: a reload sends no second test).
        Ok(query) => Redirect::to(&format!("{back}{}", query.unwrap_or_default())).into_response(),
        Err(e) => error_page(Some(&user), &e),
    }
}

/// `/projects/<id>/channels/<channel>/delete`: asks first.
pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, channel_id)): Path<(Uuid, Uuid)>,
) -> Response {
    let channels = channels_of(
        &state.pool,
        &user.caller(),
        project_id,
        &PageQuery::first(200),
    )
    .await;
    let found = channels.and_then(|c| {
        c.items
            .into_iter()
            .find(|c| c.id == channel_id)
            .ok_or(ApiError::NotFound("channel"))
    });
    match found {
        Ok(channel) => page(
            StatusCode::OK,
            &ConfirmPage {
                user: Some(&user),
                error: None,
                heading: "Delete this channel?",
                question: format!(
                    "“{}” will get no more notifications, and its pending ones are dropped. \
                     This cannot be undone.",
                    channel.name
                ),
                action: format!("/projects/{project_id}/channels/{channel_id}/delete"),
                button: "Delete channel",
                back: format!("/projects/{project_id}/channels/{channel_id}"),
            },
        ),
        Err(e) => error_page(Some(&user), &e),
    }
}

/// The confirmation's form posts here.
pub(super) async fn delete(
    state: State<AppState>,
    user: SignedIn,
    Path((project_id, channel_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let form = Form(ActionForm {
        csrf_token: form.csrf_token,
        enabled: None,
    });
    act(
        state,
        user,
        Path((project_id, channel_id, "delete".to_owned())),
        form,
    )
    .await
}
