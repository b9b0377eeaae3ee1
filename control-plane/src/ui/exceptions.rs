//! The explorer's exceptions page: the groups of like exceptions over a range, most frequent
//! first, with where to see their occurrences (a trace, the matching logs).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{SignedIn, error_page, page};
use super::project_nav::ProjectNav;
use crate::access::SessionUser;
use crate::api::AppState;
use crate::api::exceptions::{ExceptionGroup, exceptions_of};
use crate::api::explorer_read::TimeRange;
use crate::error::ApiError;

#[derive(Deserialize, Default)]
pub(super) struct ExceptionsQuery {
    last: Option<String>,
}

#[derive(Template)]
#[template(path = "exceptions.html")]
struct ExceptionsPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    last: String,
    /// (group, first seen, last seen, the logs search of its sample).
    groups: Vec<(ExceptionGroup, String, String, String)>,
}

fn at(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// `GET /projects/<id>/exceptions`.
pub(super) async fn list(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Query(query): Query<ExceptionsQuery>,
) -> Response {
    let shown = async {
        let nav = ProjectNav::of(&state, &user, project_id, "/exceptions").await?;
        let last = query.last.clone().unwrap_or_else(|| "24h".to_owned());
        let range = TimeRange {
            last: Some(last.clone()),
            ..TimeRange::default()
        };
        let groups = exceptions_of(&state, &user.caller(), project_id, &range)
            .await?
            .into_iter()
            .map(|g| {
                let phrase = g.sample.replace('\\', "\\\\").replace('"', "\\\"");
                let search = serde_urlencoded::to_string([
                    ("q", format!("\"{phrase}\"")),
                    ("last", last.clone()),
                ])
                .unwrap_or_default();
                let (first, seen) = (at(g.first_seen), at(g.last_seen));
                (g, first, seen, search)
            })
            .collect();
        Ok::<_, ApiError>(page(
            StatusCode::OK,
            &ExceptionsPage {
                user: Some(&user),
                error: None,
                nav,
                last,
                groups,
            },
        ))
    };
    shown.await.unwrap_or_else(|e| error_page(Some(&user), &e))
}
