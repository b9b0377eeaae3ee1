//! Accounts: the first sign-up (the instance admin), accounts made by admins, sign-in with
//! failed-login limits, server-side sessions and sign-out.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{AppState, Body, check_name};
use crate::access::{CSRF_COOKIE, Caller, SESSION_COOKIE};
use crate::error::{ApiError, ErrorBody};
use crate::{password, secret};

/// An account.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub(crate) struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    /// Instance admins create accounts; projects they see by membership, like anyone.
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    pub email: String,
    pub name: String,
    /// 10 to 256 characters.
    pub password: String,
    /// Whether the account is an instance admin (only with `POST /api/v1/users`).
    #[serde(default)]
    pub is_admin: bool,
}

/// Email and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Credentials {
    pub email: String,
    pub password: String,
}

/// A new session: the cookie is set; writes made with it send `csrf_token` as `x-csrf-token`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SignedIn {
    pub user: User,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

const USER_COLUMNS: &str = "id, email, name, is_admin, created_at";

/// An email address as stored: trimmed, lowercased, one `@` between non-empty parts.
pub(crate) fn normal_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if !valid {
        return Err(ApiError::BadRequest("not a valid email address".into()));
    }
    Ok(email)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Inserts an account after checking its fields.
async fn insert_user(
    executor: impl sqlx::PgExecutor<'_>,
    new: NewUser,
    password_hash: String,
) -> Result<User, ApiError> {
    let email = normal_email(&new.email)?;
    let name = check_name(&new.name)?;
    sqlx::query_as(&format!(
        "INSERT INTO users (id, email, name, password_hash, is_admin) VALUES ($1, $2, $3, $4, $5) \
         RETURNING {USER_COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(new.is_admin)
    .fetch_one(executor)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            ApiError::Conflict("an account with this email exists".into())
        } else {
            e.into()
        }
    })
}

/// Whether any account exists (before the first sign-up, none does).
pub(crate) async fn any_account(pool: &sqlx::PgPool) -> Result<bool, ApiError> {
    let (any,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM users)")
        .fetch_one(pool)
        .await?;
    Ok(any)
}

/// Creates the first account, which becomes the instance admin, and signs it in (session
/// and CSRF cookies, as a login sets them). Later accounts are made by an admin
/// (`POST /api/v1/users`).
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "accounts", request_body = NewUser,
    security(()),
    responses((status = 201, body = User), (status = 400, body = ErrorBody),
        (status = 403, description = "sign-up is closed", body = ErrorBody)))]
pub(crate) async fn signup(
    State(state): State<AppState>,
    Body(new): Body<NewUser>,
) -> Result<impl IntoResponse, ApiError> {
    let (user, session) = sign_up(&state, new).await?;
    Ok((StatusCode::CREATED, session.cookies(&state), Json(user)))
}

/// The first account, made the instance admin and signed in (shared by the API and the UI).
pub(crate) async fn sign_up(
    state: &AppState,
    mut new: NewUser,
) -> Result<(User, Session), ApiError> {
    normal_email(&new.email)?;
    check_name(&new.name)?;
    password::check(&new.password, &[&new.email, &new.name])?;
    let hash = password::hash(std::mem::take(&mut new.password)).await?;
    let mut tx = state.pool.begin().await?;
    // One sign-up at a time, so that exactly one first account exists.
    sqlx::query("SELECT pg_advisory_xact_lock(7461001)")
        .execute(&mut *tx)
        .await?;
    let (users,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
        .fetch_one(&mut *tx)
        .await?;
    if users > 0 {
        return Err(ApiError::Forbidden(
            "sign-up is closed: an instance admin creates accounts",
        ));
    }
    new.is_admin = true;
    let user = insert_user(&mut *tx, new, hash).await?;
    // The new admin is signed in at once (the CSRF token is in its cookie).
    let session = Session::open(state, &mut tx, user.id).await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, "first account created (instance admin)");
    Ok((user, session))
}

/// Creates an account (instance admins only).
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts", request_body = NewUser,
    responses((status = 201, body = User), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Body(new): Body<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = add_account(&state.pool, &caller, new).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Creates an account (instance admins only; shared by the API and the UI).
pub(crate) async fn add_account(
    pool: &sqlx::PgPool,
    caller: &Caller,
    mut new: NewUser,
) -> Result<User, ApiError> {
    if !matches!(caller, Caller::User { is_admin: true, .. }) {
        return Err(ApiError::Forbidden("only instance admins create accounts"));
    }
    normal_email(&new.email)?;
    check_name(&new.name)?;
    password::check(&new.password, &[&new.email, &new.name])?;
    let hash = password::hash(std::mem::take(&mut new.password)).await?;
    insert_user(pool, new, hash).await
}

fn cookie(name: &str, value: &str, max_age: u64, http_only: bool, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={max_age}; SameSite=Lax{}{}",
        if http_only { "; HttpOnly" } else { "" },
        if secure { "; Secure" } else { "" },
    )
}

/// Signs in: sets the session cookie (HttpOnly, SameSite=Lax, Secure when configured) and
/// returns the CSRF token. Failures count against the client address and the account.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = Credentials,
    security(()),
    responses((status = 200, body = SignedIn), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 429, description = "too many failed logins", body = ErrorBody)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Body(credentials): Body<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let (user, session) = sign_in(&state, peer, credentials).await?;
    Ok((
        session.cookies(&state),
        Json(SignedIn {
            user,
            csrf_token: session.csrf_token,
            expires_at: session.expires_at,
        }),
    ))
}

/// Checks `credentials` from `peer` within the login limits and opens a session (shared by
/// the API and the UI).
pub(crate) async fn sign_in(
    state: &AppState,
    peer: SocketAddr,
    credentials: Credentials,
) -> Result<(User, Session), ApiError> {
    let email = credentials.email.trim().to_lowercase();
    // Counted before the password is checked: concurrent guesses all count.
    let attempt = state
        .limiter
        .attempt(peer.ip(), &email)
        .map_err(|retry_after_secs| ApiError::TooManyAttempts { retry_after_secs })?;
    if credentials.password.chars().count() > password::MAX_LEN {
        return Err(ApiError::BadCredentials);
    }
    let row: Option<(Uuid, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&state.pool)
            .await?;
    // Unknown accounts are checked against a decoy so they take as long as wrong passwords.
    let (id, stored) = row.map_or((None, password::DECOY.to_owned()), |(id, h)| (Some(id), h));
    let matches = password::verify(credentials.password, stored).await?;
    let Some(id) = id.filter(|_| matches) else {
        tracing::info!(addr = %peer.ip(), "failed login");
        return Err(ApiError::BadCredentials);
    };
    state.limiter.succeeded(attempt);
    let mut tx = state.pool.begin().await?;
    let session = Session::open(state, &mut tx, id).await?;
    let user: User = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((user, session))
}

/// A session just opened: its secret goes only into the cookie.
pub(crate) struct Session {
    token: String,
    pub(crate) csrf_token: String,
    pub(crate) expires_at: DateTime<Utc>,
    max_age: u64,
}

impl Session {
    /// Stores a new session of `user` (and drops expired ones) in `tx`.
    async fn open(
        state: &AppState,
        tx: &mut sqlx::PgConnection,
        user: Uuid,
    ) -> Result<Self, ApiError> {
        let token = secret::generate(secret::SESSION)?;
        let csrf_token = secret::generate(secret::CSRF)?;
        let ttl = state.config.session_ttl();
        let expires_at = Utc::now()
            + chrono::Duration::from_std(ttl).map_err(|e| ApiError::Internal(e.to_string()))?;
        sqlx::query("DELETE FROM sessions WHERE expires_at < now()")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_digest, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(secret::digest(&token))
        .bind(user)
        .bind(&csrf_token)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        Ok(Self {
            token,
            csrf_token,
            expires_at,
            max_age: ttl.as_secs(),
        })
    }

    /// The session cookie (HttpOnly) and the CSRF cookie.
    pub(crate) fn cookies(
        &self,
        state: &AppState,
    ) -> AppendHeaders<[(header::HeaderName, String); 2]> {
        let secure = state.config.secure_cookies;
        AppendHeaders([
            (
                header::SET_COOKIE,
                cookie(SESSION_COOKIE, &self.token, self.max_age, true, secure),
            ),
            (
                header::SET_COOKIE,
                cookie(CSRF_COOKIE, &self.csrf_token, self.max_age, false, secure),
            ),
        ])
    }
}

/// Signs out: the session ends and its cookies are cleared.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts",
    responses((status = 204, description = "signed out"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let Caller::User { session_digest, .. } = &caller else {
        return Err(ApiError::Forbidden("API keys have no session to end"));
    };
    let cleared = sign_out(&state, session_digest).await?;
    Ok((StatusCode::NO_CONTENT, cleared))
}

/// Ends the session with `session_digest`; the headers that clear its cookies (shared by the
/// API and the UI).
pub(crate) async fn sign_out(
    state: &AppState,
    session_digest: &str,
) -> Result<AppendHeaders<[(header::HeaderName, String); 2]>, ApiError> {
    sqlx::query("DELETE FROM sessions WHERE token_digest = $1")
        .bind(session_digest)
        .execute(&state.pool)
        .await?;
    let secure = state.config.secure_cookies;
    Ok(AppendHeaders([
        (
            header::SET_COOKIE,
            cookie(SESSION_COOKIE, "", 0, true, secure),
        ),
        (
            header::SET_COOKIE,
            cookie(CSRF_COOKIE, "", 0, false, secure),
        ),
    ]))
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    responses((status = 200, body = User), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn me(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<User>, ApiError> {
    let id = caller.user()?;
    let user = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_one(&state.pool)
        .await?;
    Ok(Json(user))
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(create_user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normal_email(" Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        for bad in ["", "ann", "@x", "ann@", "a b@x", "a@b@c"] {
            assert!(normal_email(bad).is_err(), "{bad}");
        }
    }
}
