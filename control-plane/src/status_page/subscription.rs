//! Subscribing on the page itself: the form's post (email, webhook or Slack, all of the page
//! or some of its systems), and the confirm and unsubscribe links of the messages. A link
//! opens a page with one button that posts (mail scanners that follow links change nothing).
//! An email subscription always answers the same ("check your mail"), so the form tells
//! nobody who is subscribed; each address may subscribe only a few times per window (the
//! login limits' counter), so the form cannot be used to flood inboxes.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use super::StatusPages;
use super::cache::Snapshot;
use super::html::{ButtonForm, message_html};
use crate::api::subscribers::{self, NewSubscriber};
use crate::error::ApiError;
use crate::notification::ChannelKind;

fn message(
    snapshot: &Snapshot,
    status: StatusCode,
    heading: &str,
    lines: &[String],
    secret: Option<&str>,
    form: Option<ButtonForm>,
) -> Response {
    match message_html(&snapshot.model, heading, lines, secret, form) {
        Ok(body) => (
            status,
            [
                (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (axum::http::header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(error) => super::failed(error),
    }
}

/// `POST /status/{slug}/subscribe`.
pub(super) async fn subscribe(
    State(state): State<StatusPages>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(slug): Path<String>,
    parts: Parts,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let snapshot = match super::readable(&state, &slug, &parts, true).await {
        Ok(snapshot) => snapshot,
        Err(refusal) => return refusal,
    };
    if !super::access::same_origin(&parts) {
        return (StatusCode::FORBIDDEN, "cross-site form posts are refused\n").into_response();
    }
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let Some(kind) = ChannelKind::parse(field("kind")) else {
        return message(
            &snapshot,
            StatusCode::BAD_REQUEST,
            "Not subscribed",
            &["Choose email, webhook or Slack.".into()],
            None,
            None,
        );
    };
    // The form names systems by their public ids; the subscription keeps their monitors.
    let monitor_ids: Vec<Uuid> = pairs
        .iter()
        .filter(|(k, _)| k == "resource")
        .filter_map(|(_, v)| v.parse::<Uuid>().ok())
        .filter_map(|id| {
            snapshot
                .model
                .all_resources()
                .find(|r| r.id == id)
                .map(|r| r.monitor_id)
        })
        .collect();
    let page = &snapshot.model.page;
    // Counted and never given back: a bound on subscriptions per address and page.
    if let Err(wait) = state
        .limiter
        .attempt(peer.ip(), &format!("subscribe:{}", page.id))
    {
        let mut response = message(
            &snapshot,
            StatusCode::TOO_MANY_REQUESTS,
            "Not subscribed",
            &["Too many subscriptions from your address: try again later.".into()],
            None,
            None,
        );
        if let Ok(value) = axum::http::HeaderValue::from_str(&wait.to_string()) {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        return response;
    }
    let new = NewSubscriber {
        kind,
        target: field("target").to_owned(),
        monitor_ids,
    };
    match subscribers::subscribe(&state, page.project_id, page.id, new, false).await {
        Ok(created) => match kind {
            ChannelKind::Email => message(
                &snapshot,
                StatusCode::OK,
                "Check your mail",
                &[
                    "If the address can be subscribed, a link to confirm is on its way. \
                   Nothing else is sent until it is followed."
                        .into(),
                ],
                None,
                None,
            ),
            _ => match created {
                Some(created) => message(
                    &snapshot,
                    StatusCode::OK,
                    "Subscribed",
                    &[format!(
                        "{} will be told of incidents and maintenance. Each message carries \
                         its unsubscribe link.",
                        created.subscriber.target
                    )],
                    created.secret.as_deref(),
                    None,
                ),
                None => message(
                    &snapshot,
                    StatusCode::OK,
                    "Subscribed already",
                    &["This URL is subscribed already; nothing changed.".into()],
                    None,
                    None,
                ),
            },
        },
        Err(ApiError::BadRequest(why)) => message(
            &snapshot,
            StatusCode::BAD_REQUEST,
            "Not subscribed",
            &[why],
            None,
            None,
        ),
        Err(error) => super::failed(error),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct Token {
    token: String,
}

/// `GET /status/{slug}/subscription/confirm?token=`: the button that confirms.
pub(super) async fn confirm_form(
    State(state): State<StatusPages>,
    Path(slug): Path<String>,
    Query(query): Query<Token>,
) -> Response {
    let snapshot = match super::snapshot(&state, &slug).await {
        Ok(snapshot) => snapshot,
        Err(refusal) => return refusal,
    };
    let form = ButtonForm {
        action: format!("/status/{slug}/subscription/confirm"),
        fields: vec![("token", query.token)],
        button: "Confirm my subscription",
    };
    message(
        &snapshot,
        StatusCode::OK,
        "Confirm your subscription",
        &[],
        None,
        Some(form),
    )
}

/// `POST /status/{slug}/subscription/confirm`.
pub(super) async fn confirm(
    State(state): State<StatusPages>,
    Path(slug): Path<String>,
    Form(form): Form<Token>,
) -> Response {
    let snapshot = match super::snapshot(&state, &slug).await {
        Ok(snapshot) => snapshot,
        Err(refusal) => return refusal,
    };
    let done = subscribers::confirm(&state.pool, snapshot.model.page.id, &form.token).await;
    outcome(
        &snapshot,
        done,
        (
            "Subscribed",
            "You will be told of incidents and maintenance by email.",
        ),
        "It may have been replaced by a newer one, or the subscription ended.",
    )
}

/// The page after following a link: done, or the link is not (or no longer) valid.
fn outcome(
    snapshot: &Snapshot,
    done: Result<bool, ApiError>,
    (heading, line): (&str, &str),
    invalid: &str,
) -> Response {
    match done {
        Ok(true) => message(
            snapshot,
            StatusCode::OK,
            heading,
            &[line.into()],
            None,
            None,
        ),
        Ok(false) => message(
            snapshot,
            StatusCode::NOT_FOUND,
            "This link is not valid",
            &[invalid.into()],
            None,
            None,
        ),
        Err(error) => super::failed(error),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct Leave {
    id: Uuid,
    key: String,
}

/// `GET /status/{slug}/subscription/unsubscribe?id=&key=`: the button that unsubscribes.
pub(super) async fn unsubscribe_form(
    State(state): State<StatusPages>,
    Path(slug): Path<String>,
    Query(query): Query<Leave>,
) -> Response {
    let snapshot = match super::snapshot(&state, &slug).await {
        Ok(snapshot) => snapshot,
        Err(refusal) => return refusal,
    };
    let form = ButtonForm {
        action: format!("/status/{slug}/subscription/unsubscribe"),
        fields: vec![("id", query.id.to_string()), ("key", query.key)],
        button: "Unsubscribe",
    };
    message(
        &snapshot,
        StatusCode::OK,
        "Unsubscribe",
        &[],
        None,
        Some(form),
    )
}

/// `POST /status/{slug}/subscription/unsubscribe`.
pub(super) async fn unsubscribe(
    State(state): State<StatusPages>,
    Path(slug): Path<String>,
    Form(form): Form<Leave>,
) -> Response {
    let snapshot = match super::snapshot(&state, &slug).await {
        Ok(snapshot) => snapshot,
        Err(refusal) => return refusal,
    };
    let done =
        subscribers::unsubscribe(&state.pool, snapshot.model.page.id, form.id, &form.key).await;
    outcome(
        &snapshot,
        done,
        ("Unsubscribed", "Nothing more will be sent."),
        "The subscription may have ended already.",
    )
}
