//! The UI's static files, embedded in the binary and served under content-hashed names with
//! immutable caching: a new build with changed CSS gets a new name, so no browser keeps a stale
//! copy, and no page loads anything from another origin.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("../../assets/app.css");

/// `app.<first 12 hex digits of its SHA-256>.css`.
static CSS_NAME: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(CSS.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("app.{hex}.css")
});

/// The stylesheet's URL, for pages.
pub(super) fn css_url() -> String {
    format!("/assets/{}", *CSS_NAME)
}

pub(super) async fn serve(Path(file): Path<String>) -> Response {
    if file != *CSS_NAME {
        return StatusCode::NOT_FOUND.into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        CSS,
    )
        .into_response()
}
