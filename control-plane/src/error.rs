//! The one error type of the API and the one table mapping it to HTTP: every refusal is a JSON
//! body `{"error": {"code", "message"}}` with the status the table gives.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Why a request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("wrong email or password")]
    BadCredentials,
    #[error("the CSRF token is missing or wrong: send the `x-csrf-token` header given at login")]
    Csrf,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many failed logins: try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("the database is unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal(String),
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable `code` for programs and a `message` for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// The table: status and code of each error.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            ApiError::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<storage::client::ClickHouseError> for ApiError {
    fn from(e: storage::client::ClickHouseError) -> Self {
        if e.is_retryable() {
            tracing::warn!(error = %e, "ClickHouse did not answer a read");
            ApiError::Unavailable
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                ApiError::Unavailable
            }
            sqlx::Error::RowNotFound => ApiError::NotFound("object"),
            // NUL characters (text and jsonb refuse them) and other bytes PostgreSQL cannot store.
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("22P05" | "22021")) =>
            {
                ApiError::BadRequest("text must not contain NUL characters".into())
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                ApiError::Conflict("an object with this name or key exists".into())
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                ApiError::Conflict("the object is in use or refers to one that is gone".into())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    /// The status and the message a person is shown (a page's error line); internal details
    /// are logged, not shown.
    pub(crate) fn for_people(&self) -> (StatusCode, String) {
        if let ApiError::Internal(detail) = self {
            tracing::error!(error = %detail, "request failed");
        }
        (self.status_and_code().0, self.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            ApiError::Internal(detail) => {
                // The detail is for the log, not for the client.
                tracing::error!(error = %detail, "request failed");
                self.to_string()
            }
            _ => self.to_string(),
        };
        let mut response = (
            status,
            axum::Json(ErrorBody {
                error: ErrorDetail { code, message },
            }),
        )
            .into_response();
        match self {
            ApiError::TooManyAttempts { retry_after_secs } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            ApiError::Unavailable => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}

/// The longest framework error text carried into a message.
const MAX_REJECTION_TEXT: usize = 4 << 10;

/// Puts every error the framework answers by itself — a path or query parameter that does not
/// parse (400 text), a method not routed (405, empty), a timeout (503, empty) — into the API's
/// shape, so that no error escapes the table above. Handlers' own errors are JSON already
/// and pass unchanged.
pub(crate) async fn conform(State(max_body): State<usize>, response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let text = axum::body::to_bytes(response.into_body(), MAX_REJECTION_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(max_body),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(text),
        StatusCode::NOT_FOUND => ApiError::NotFound("route"),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT => ApiError::Unavailable,
        s if s.is_client_error() => ApiError::BadRequest(if text.is_empty() {
            "the request is malformed".into()
        } else {
            text
        }),
        _ => ApiError::Internal(format!("{status}: {text}")),
    };
    let mut response = error.into_response();
    if let Some(allow) = allow {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}
