//! A status page's logo: an image stored with the page (PNG, JPEG, GIF or WebP, its type read
//! from its bytes), set and removed by members.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};

/// Largest logo accepted.
const MAX_LOGO_BYTES: usize = 256 * 1024;

/// The image type `bytes` start like, if it is one a page may show.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [0xff, 0xd8, 0xff, ..] => Some("image/jpeg"),
        [b'G', b'I', b'F', b'8', ..] => Some("image/gif"),
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => Some("image/webp"),
        _ => None,
    }
}

/// Sets a page's logo: the image itself as the body (PNG, JPEG, GIF or WebP, at most 256 KiB;
/// SVG is refused, as it can carry script).
#[utoipa::path(put, path = "/api/v1/projects/{project_id}/status-pages/{page_id}/logo",
    tag = "status pages", params(("project_id" = Uuid, Path), ("page_id" = Uuid, Path)),
    request_body(content = Vec<u8>, content_type = "image/png"),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody)))]
pub(crate) async fn put_logo(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, page_id)): Path<(Uuid, Uuid)>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    set_logo(&state.pool, &caller, project_id, page_id, Some(&body)).await
}

/// Removes a page's logo.
#[utoipa::path(delete, path = "/api/v1/projects/{project_id}/status-pages/{page_id}/logo",
    tag = "status pages", params(("project_id" = Uuid, Path), ("page_id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_logo(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, page_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    set_logo(&state.pool, &caller, project_id, page_id, None).await
}

/// Sets (or with `None` removes) a page's logo (members); the image's type is read from its
/// first bytes, never taken from the request.
pub(crate) async fn set_logo(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page_id: Uuid,
    image: Option<&[u8]>,
) -> Result<StatusCode, ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    let kind = match image {
        Some(bytes) if bytes.len() > MAX_LOGO_BYTES => {
            return Err(ApiError::BadRequest(format!(
                "a logo has at most {MAX_LOGO_BYTES} bytes"
            )));
        }
        Some(bytes) => Some(image_type(bytes).ok_or_else(|| {
            ApiError::BadRequest("a logo is a PNG, JPEG, GIF or WebP image".into())
        })?),
        None => None,
    };
    let done = sqlx::query(
        "UPDATE status_pages SET logo = $3, logo_type = $4, updated_at = now() \
         WHERE project_id = $1 AND id = $2",
    )
    .bind(project_id)
    .bind(page_id)
    .bind(image)
    .bind(kind)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("status page"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(put_logo, delete_logo))
}
