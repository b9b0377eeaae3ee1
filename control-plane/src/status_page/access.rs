//! Who may read a private status page. A page private by password sets, once the password is
//! given, a cookie signed with HMAC-SHA256 keyed by the page's password hash: any `vigil
//! serve` can check it without shared state, and changing the password ends every such
//! cookie. A members-only page asks for a signed-in member of its project. Either way every
//! part of the page (HTML, feeds, badges, JSON, logo) is refused without it.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::StatusPages;
use super::cache::Snapshot;
use crate::access::{cookie, session_user};
use crate::api::status_pages::Visibility;

/// How long a page password is remembered.
const REMEMBER_SECS: i64 = 30 * 86_400;

fn cookie_name(snapshot: &Snapshot) -> String {
    format!("vigil_page_{}", snapshot.model.page.id.simple())
}

fn signature(key: &str, message: &str) -> Option<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).ok()?;
    mac.update(message.as_bytes());
    Some(mac.finalize().into_bytes().to_vec())
}

/// `<expiry>.<hex signature of "<page id>.<expiry>">`.
fn pass_for(snapshot: &Snapshot, hash: &str, expires: i64) -> Option<String> {
    let sig = signature(hash, &format!("{}.{expires}", snapshot.model.page.id))?;
    let hex: String = sig.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("{expires}.{hex}"))
}

fn pass_holds(snapshot: &Snapshot, value: &str) -> bool {
    let Some(hash) = snapshot.model.page.password_hash.as_deref() else {
        return false;
    };
    let Some((expires, _)) = value.split_once('.') else {
        return false;
    };
    let Ok(expires) = expires.parse::<i64>() else {
        return false;
    };
    if expires < Utc::now().timestamp() {
        return false;
    }
    pass_for(snapshot, hash, expires)
        .is_some_and(|expected| crate::access::csrf_matches(value.as_bytes(), &expected))
}

/// Lets the request through, or answers the refusal: the password form (HTML) or 401.
pub(super) async fn admit(
    state: &StatusPages,
    snapshot: &Snapshot,
    parts: &Parts,
    html: bool,
) -> Result<(), Response> {
    let page = &snapshot.model.page;
    match page.visibility {
        Visibility::Public => Ok(()),
        Visibility::Password => {
            if cookie(parts, &cookie_name(snapshot)).is_some_and(|v| pass_holds(snapshot, v)) {
                return Ok(());
            }
            if html {
                Err(password_form(snapshot, None, StatusCode::UNAUTHORIZED))
            } else {
                Err(refused("this status page needs its password"))
            }
        }
        Visibility::Members => {
            let member = match session_user(&state.pool, parts).await {
                Ok(Some(user)) => user
                    .caller()
                    .role_in(&state.pool, page.project_id)
                    .await
                    .is_ok(),
                _ => false,
            };
            if member {
                Ok(())
            } else if html {
                Err((
                    StatusCode::UNAUTHORIZED,
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    "<!doctype html><title>Private status page</title>\
                     <h1>This status page is for the project's members</h1>\
                     <p><a href=\"/login\">Sign in</a></p>\n",
                )
                    .into_response())
            } else {
                Err(refused("this status page is for the project's members"))
            }
        }
    }
}

fn refused(why: &'static str) -> Response {
    (StatusCode::UNAUTHORIZED, format!("{why}\n")).into_response()
}

fn password_form(snapshot: &Snapshot, error: Option<&str>, status: StatusCode) -> Response {
    match super::html::password_html(&snapshot.model, error) {
        Ok(body) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(error) => super::failed(error),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct PasswordForm {
    password: String,
}

/// `POST /status/{slug}/login`: checks the password (counted by the login limits, per
/// address and page) and sets the page's cookie. A post from another site's form is refused
/// (`Origin` must be this host).
pub(super) async fn login(
    State(state): State<StatusPages>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(slug): Path<String>,
    parts: Parts,
    Form(form): Form<PasswordForm>,
) -> Response {
    let snapshot = match super::snapshot(&state, &slug).await {
        Ok(snapshot) => snapshot,
        Err(refusal) => return refusal,
    };
    if !same_origin(&parts) {
        return (StatusCode::FORBIDDEN, "cross-site form posts are refused\n").into_response();
    }
    let Some(hash) = snapshot.model.page.password_hash.clone() else {
        return super::back_to(&slug);
    };
    let attempt = match state.limiter.attempt(
        peer.ip(),
        &format!("status-page:{}", snapshot.model.page.id),
    ) {
        Ok(attempt) => attempt,
        Err(wait) => {
            let mut response = password_form(
                &snapshot,
                Some("Too many wrong passwords: try again later."),
                StatusCode::TOO_MANY_REQUESTS,
            );
            if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
    };
    let password = form
        .password
        .chars()
        .take(crate::password::MAX_LEN)
        .collect();
    match crate::password::verify(password, hash.clone()).await {
        Ok(true) => {
            state.limiter.succeeded(attempt);
            let expires = Utc::now().timestamp() + REMEMBER_SECS;
            let Some(pass) = pass_for(&snapshot, &hash, expires) else {
                return super::failed(crate::error::ApiError::Internal("page cookie".into()));
            };
            let secure = if state.config.secure_cookies {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{}={pass}; Path=/; Max-Age={REMEMBER_SECS}; HttpOnly; SameSite=Lax{secure}",
                cookie_name(&snapshot)
            );
            let mut response = super::back_to(&slug);
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Ok(false) => password_form(
            &snapshot,
            Some("That is not the password."),
            StatusCode::UNAUTHORIZED,
        ),
        Err(error) => super::failed(error),
    }
}

/// A form post whose `Origin` (when the browser sends one) is this host.
pub(super) fn same_origin(parts: &Parts) -> bool {
    let Some(origin) = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}
