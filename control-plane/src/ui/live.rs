//! Live pages: a Server-Sent Events stream per open page of a project that says "change"
//! whenever the project's monitors or incidents changed (PostgreSQL NOTIFY, so a change made
//! through any `vigil serve` or by the worker is heard). The page (htmx's SSE extension) then
//! fetches its own URL again and swaps in the part that shows them. A burst of changes makes
//! one event; the streams open at once are bounded, and end when the server shuts down.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};

use crate::api::log_tail::event_stream;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use uuid::Uuid;

use super::pages::{SignedIn, error_page};
use crate::api::AppState;
use crate::api::projects::project_of;

/// Changes heard within this long of the first make one event.
const COALESCE: Duration = Duration::from_millis(250);

pub(super) async fn stream(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
) -> Response {
    if let Err(e) = project_of(&state.pool, &user.caller(), project_id).await {
        return error_page(Some(&user), &e);
    }
    let Ok(permit) = state.live_pages.clone().try_acquire_owned() else {
        let mut busy = (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many live pages are open; this one retries shortly",
        )
            .into_response();
        busy.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
        return busy;
    };
    let changes = state.project_changes.subscribe();
    let stop = state.shutdown.clone();
    let events = futures_util::stream::unfold(
        (changes, permit, stop),
        move |(mut changes, permit, stop)| async move {
            loop {
                let heard = tokio::select! {
                    () = stop.cancelled() => return None,
                    heard = changes.recv() => heard,
                };
                match heard {
                    Ok(Some(project)) if project != project_id => continue,
                    // This project, a lost listener connection, or so many changes that some
                    // were missed: anything may have changed.
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return None,
                }
                tokio::time::sleep(COALESCE).await;
                while matches!(changes.try_recv(), Ok(_) | Err(TryRecvError::Lagged(_))) {}
                let event = Event::default()
                    .event("change")
                    .data(project_id.to_string());
                return Some((Ok::<_, Infallible>(event), (changes, permit, stop)));
            }
        },
    );
    event_stream(events)
}
