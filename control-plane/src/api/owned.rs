//! A project's rows by id, for every resource of the API: whether one exists (404 when the
//! project has none — another project's row included), whether ids a request names are the
//! project's (400, so nothing is learnt of other projects), and deleting one. Tables are named
//! by the handlers, never by the request.

use axum::http::StatusCode;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::error::ApiError;

/// Refuses unless `table` holds row `id` of `project_id`; `lock` takes the row for the rest of
/// the transaction (concurrent changes then apply one after the other).
pub(crate) async fn require_row(
    db: impl PgExecutor<'_>,
    table: &'static str,
    project_id: Uuid,
    id: Uuid,
    what: &'static str,
    lock: bool,
) -> Result<(), ApiError> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query(&format!(
        "SELECT 1 FROM {table} WHERE project_id = $1 AND id = $2{lock}"
    ))
    .bind(project_id)
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(ApiError::NotFound(what))?;
    Ok(())
}

/// Deletes row `id` of `project_id` from `table`: 204, or 404 when there is none.
pub(crate) async fn delete_row(
    db: impl PgExecutor<'_>,
    table: &'static str,
    project_id: Uuid,
    id: Uuid,
    what: &'static str,
) -> Result<StatusCode, ApiError> {
    let done = sqlx::query(&format!(
        "DELETE FROM {table} WHERE project_id = $1 AND id = $2"
    ))
    .bind(project_id)
    .bind(id)
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound(what));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Refuses ids that are not `table` rows of the project (another project's too: 400, so
/// nothing is learnt of them).
pub(crate) async fn check_owned(
    db: &mut PgConnection,
    table: &'static str,
    project_id: Uuid,
    ids: &[Uuid],
) -> Result<(), ApiError> {
    let mut unique = ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let (found,): (i64,) = sqlx::query_as(&format!(
        "SELECT count(*) FROM {table} WHERE project_id = $1 AND id = ANY($2)"
    ))
    .bind(project_id)
    .bind(&unique)
    .fetch_one(db)
    .await?;
    if found as usize != unique.len() {
        return Err(ApiError::BadRequest(format!(
            "an id given is not one of this project's {}",
            table.replace('_', " ")
        )));
    }
    Ok(())
}
