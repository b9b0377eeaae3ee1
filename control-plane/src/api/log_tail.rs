//! Live tail of a project's logs: a Server-Sent Events stream of the records matching a
//! search as they arrive (polled every [`POLL`], at most [`PER_POLL`] records each time, so a
//! flood is sent at a bounded rate rather than buffered without end). Each event's id is the
//! record's, so a client that reconnects with `Last-Event-ID` resumes after the last record it
//! got. The tail follows records' own times: one stored with a time already behind the tail's
//! position (more than a few seconds late) is not sent. Streams count against
//! `max_live_pages` and end when the server shuts down.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::logs::{LogRecord, Search, logs_after, read_cursor};
use crate::access::Caller;
use crate::error::{ApiError, ErrorBody};

/// How often the tail looks for new records.
pub(crate) const POLL: Duration = Duration::from_millis(500);
/// Most records sent per poll.
const PER_POLL: u32 = 200;

/// Where a tail starts: after the record a reconnecting client last got, or a second ago.
pub(crate) fn start_of(headers: &HeaderMap) -> (u64, u64) {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|id| read_cursor(id).ok())
        .unwrap_or_else(|| {
            let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
            (u64::try_from(now - 1_000_000_000).unwrap_or(0), 0)
        })
}

/// The records of a tail, as they come: each item one record (or, once, the error that ended
/// it). Bounded by `max_live_pages`: `None` when that many streams are open.
pub(crate) fn follow(
    state: &AppState,
    project_id: Uuid,
    q: String,
    start: (u64, u64),
) -> Option<impl futures_util::Stream<Item = Result<LogRecord, ApiError>> + Send + 'static> {
    let permit = state.live_pages.clone().try_acquire_owned().ok()?;
    let state = state.clone();
    let stop = state.shutdown.clone();
    let pending: VecDeque<LogRecord> = VecDeque::new();
    Some(futures_util::stream::unfold(
        (state, permit, stop, start, pending, false),
        move |(state, permit, stop, mut cursor, mut pending, failed)| {
            let q = q.clone();
            async move {
                if failed {
                    return None;
                }
                loop {
                    if let Some(record) = pending.pop_front() {
                        return Some((Ok(record), (state, permit, stop, cursor, pending, false)));
                    }
                    tokio::select! {
                        () = stop.cancelled() => return None,
                        () = tokio::time::sleep(POLL) => {}
                    }
                    match logs_after(&state, project_id, &q, cursor, PER_POLL).await {
                        Ok(records) => {
                            if let Some(last) = records.last()
                                && let Ok(next) = read_cursor(&last.id)
                            {
                                cursor = next;
                            }
                            pending.extend(records);
                        }
                        Err(error) => {
                            return Some((
                                Err(error),
                                (state, permit, stop, cursor, pending, true),
                            ));
                        }
                    }
                }
            }
        },
    ))
}

/// 503 with Retry-After: too many live streams are open.
pub(crate) fn busy() -> Response {
    let mut busy = (
        StatusCode::SERVICE_UNAVAILABLE,
        "too many live streams are open; retry shortly",
    )
        .into_response();
    busy.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
    busy
}

/// Follows the project's matching logs as Server-Sent Events: `event: log`, `data:` the record
/// as JSON, `id:` its id (send it back as `Last-Event-ID` to resume); `event: error` ends it.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/logs/tail", tag = "explorer",
    params(("project_id" = Uuid, Path), Search),
    responses((status = 200, content_type = "text/event-stream", description = "records as they arrive"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn tail(
    State(state): State<AppState>,
    caller: Caller,
    Path(project_id): Path<Uuid>,
    Query(search): Query<Search>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.role_in(&state.pool, project_id).await?;
    // The search is checked before the stream starts, so a mistake is a 400.
    crate::search::parse::parse(&search.q).map_err(|e| ApiError::BadRequest(format!("q: {e}")))?;
    let Some(records) = follow(&state, project_id, search.q, start_of(&headers)) else {
        return Ok(busy());
    };
    let events = futures_util::StreamExt::map(records, |item| {
        Ok::<_, Infallible>(match item {
            Ok(record) => Event::default()
                .event("log")
                .id(record.id.clone())
                .json_data(&record)
                .unwrap_or_else(|_| Event::default().event("error").data("unserialisable")),
            Err(error) => Event::default().event("error").data(error.for_people().1),
        })
    });
    Ok(event_stream(events))
}

/// `events` as a Server-Sent Events response, with keep-alive comments, marked for a proxy in
/// front (nginx) to pass each event on at once rather than buffer it.
pub(crate) fn event_stream<S>(events: S) -> Response
where
    S: futures_util::Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response();
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(tail))
}
