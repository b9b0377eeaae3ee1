//! Who is calling and what they may do: a session cookie (with its CSRF token on writes) or an
//! API key, and the caller's role in a project. Every project-scoped query goes through
//! [`Caller::role_in`]; a project the caller is not a member of (instance admins included) is
//! answered 404, like one that does not exist.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, header};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::secret;

/// The session cookie (HttpOnly) and the CSRF cookie (readable by the page's scripts).
pub(crate) const SESSION_COOKIE: &str = "vigil_session";
pub(crate) const CSRF_COOKIE: &str = "vigil_csrf";
/// The header a cookie-authenticated write must carry, equal to the session's CSRF token.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// A member's role in a project, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// Reads everything in the project.
    Viewer,
    /// Also works with monitors and incidents.
    Member,
    /// Also manages members (not owners), API keys and ingestion keys.
    Admin,
    /// Everything, including owners and deleting the project.
    Owner,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Role, ApiError> {
        Ok(match s {
            "viewer" => Role::Viewer,
            "member" => Role::Member,
            "admin" => Role::Admin,
            "owner" => Role::Owner,
            other => return Err(ApiError::Internal(format!("unknown role {other:?}"))),
        })
    }

    /// Refuses unless this role is at least `needed`.
    pub(crate) fn require(self, needed: Role) -> Result<(), ApiError> {
        if self >= needed {
            Ok(())
        } else {
            Err(ApiError::Forbidden(match needed {
                Role::Viewer => "this needs the viewer role",
                Role::Member => "this needs the member role",
                Role::Admin => "this needs the admin role",
                Role::Owner => "this needs the owner role",
            }))
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// A person, by session cookie.
    User {
        id: Uuid,
        is_admin: bool,
        session_digest: String,
    },
    /// An API key: one project, one role, perhaps an expiry.
    ApiKey {
        project: Uuid,
        role: Role,
        expires_at: Option<DateTime<Utc>>,
    },
}

impl Caller {
    /// The caller's role in `project`; 404 when the caller cannot see it.
    pub(crate) async fn role_in(&self, pool: &PgPool, project: Uuid) -> Result<Role, ApiError> {
        match self {
            Caller::ApiKey {
                project: own, role, ..
            } if *own == project => Ok(*role),
            Caller::ApiKey { .. } => Err(ApiError::NotFound("project")),
            Caller::User { id, .. } => {
                let row: Option<(Option<String>,)> = sqlx::query_as(
                    "SELECT m.role FROM projects p \
                     LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = $2 \
                     WHERE p.id = $1",
                )
                .bind(project)
                .bind(id)
                .fetch_optional(pool)
                .await?;
                // Membership is the only way in: instance admins manage accounts, not
                // every project.
                match row {
                    Some((Some(role),)) => Role::parse(&role),
                    _ => Err(ApiError::NotFound("project")),
                }
            }
        }
    }

    /// The caller's role in `project`, refused (403) when weaker than `needed`.
    pub(crate) async fn require_in(
        &self,
        pool: &PgPool,
        project: Uuid,
        needed: Role,
    ) -> Result<Role, ApiError> {
        let role = self.role_in(pool, project).await?;
        role.require(needed)?;
        Ok(role)
    }

    /// The user behind the request; API keys are refused (account-level calls).
    pub(crate) fn user(&self) -> Result<Uuid, ApiError> {
        match self {
            Caller::User { id, .. } => Ok(*id),
            Caller::ApiKey { .. } => Err(ApiError::Forbidden(
                "API keys cannot do this: it needs a signed-in user",
            )),
        }
    }
}

/// The value of cookie `name` in the request.
pub(crate) fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Compares secrets without an early exit.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Any router state that holds the pool can name its caller (the API's and, later, the UI's).
impl<S> FromRequestParts<S> for Caller
where
    PgPool: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let pool = PgPool::from_ref(state);
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if let Some(key) = bearer {
            let row: Option<(Uuid, String, Option<DateTime<Utc>>)> = sqlx::query_as(
                "SELECT project_id, role, expires_at FROM api_keys WHERE digest = $1 \
                 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
            )
            .bind(secret::digest(key.trim()))
            .fetch_optional(&pool)
            .await?;
            let (project, role, expires_at) = row.ok_or(ApiError::Unauthenticated)?;
            return Ok(Caller::ApiKey {
                project,
                role: Role::parse(&role)?,
                expires_at,
            });
        }
        let user = session_user(&pool, parts)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            if !csrf_matches(sent, &user.csrf_token) {
                return Err(ApiError::Csrf);
            }
        }
        Ok(Caller::User {
            id: user.id,
            is_admin: user.is_admin,
            session_digest: user.session_digest,
        })
    }
}

/// A signed-in person, found by the session cookie.
#[derive(Debug, Clone)]
pub(crate) struct SessionUser {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) is_admin: bool,
    pub(crate) session_digest: String,
    /// What writes made with this session must carry (a header for the API, a form field for
    /// pages).
    pub(crate) csrf_token: String,
}

/// The session the request's cookie names, if it is open. No CSRF check: the caller checks
/// the token it was sent.
pub(crate) async fn session_user(
    pool: &PgPool,
    parts: &Parts,
) -> Result<Option<SessionUser>, ApiError> {
    let Some(token) = cookie(parts, SESSION_COOKIE) else {
        return Ok(None);
    };
    let session_digest = secret::digest(token);
    let row: Option<(Uuid, String, bool, String)> = sqlx::query_as(
        "SELECT u.id, u.name, u.is_admin, s.csrf_token FROM sessions s \
         JOIN users u ON u.id = s.user_id WHERE s.token_digest = $1 AND s.expires_at > now()",
    )
    .bind(&session_digest)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(id, name, is_admin, csrf_token)| SessionUser {
        id,
        name,
        is_admin,
        session_digest,
        csrf_token,
    }))
}

impl SessionUser {
    /// The caller the API would see for this session.
    pub(crate) fn caller(&self) -> Caller {
        Caller::User {
            id: self.id,
            is_admin: self.is_admin,
            session_digest: self.session_digest.clone(),
        }
    }
}

/// Whether `sent` is the session's CSRF `token`, compared without an early exit.
pub(crate) fn csrf_matches(sent: &[u8], token: &str) -> bool {
    same_secret(sent, token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Member);
        assert!(Role::Member > Role::Viewer);
        assert!(Role::Admin.require(Role::Member).is_ok());
        assert!(Role::Viewer.require(Role::Member).is_err());
        for role in [Role::Viewer, Role::Member, Role::Admin, Role::Owner] {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"ab"));
    }
}
