//! The explorer's logs page: a search (the explorer's language) over a time range, the counts
//! over time by severity as stacked bars (an SVG drawn here: no script needed), facets whose
//! values add themselves to the search, the records newest first with an "older" link (the
//! API's cursor), and a record's page with every attribute and its type. Handlers call the
//! same functions as `/api/v1/projects/{id}/logs`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{SignedIn, error_page, page, refusal};
use super::project_nav::ProjectNav;
use crate::access::SessionUser;
use crate::api::AppState;
use crate::api::explorer_read::TimeRange;
use crate::api::logs::{
    Facet, Histogram, LogRecord, Search, facets_of, histogram_of, log_of, logs_of,
};
use crate::error::ApiError;

/// The ranges the picker offers (`last=`).
const RANGES: [(&str, &str); 6] = [
    ("15m", "15 minutes"),
    ("1h", "1 hour"),
    ("6h", "6 hours"),
    ("24h", "24 hours"),
    ("7d", "7 days"),
    ("31d", "31 days"),
];

#[derive(Deserialize, Default)]
pub(super) struct LogsQuery {
    #[serde(default)]
    q: String,
    last: Option<String>,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    cursor: Option<String>,
}

/// A stacked bar: its x, and (class, y, height) per level.
struct BarView {
    x: f64,
    width: f64,
    title: String,
    parts: Vec<(&'static str, f64, f64)>,
}

pub(super) struct Row {
    id: String,
    time: String,
    service: String,
    severity: String,
    level: &'static str,
    body: String,
}

#[derive(Template)]
#[template(path = "logs.html")]
struct LogsPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    q: String,
    last: String,
    ranges: [(&'static str, &'static str); 6],
    bars: Vec<BarView>,
    total: u64,
    facets: Vec<FacetView>,
    rows: Vec<Row>,
    older: Option<String>,
    /// The live tail's query.
    live: String,
}

fn level(severity: i32, text: &str) -> &'static str {
    let n = if severity > 0 {
        severity
    } else {
        match text.to_ascii_lowercase().as_str() {
            "trace" => 1,
            "debug" => 5,
            "info" => 9,
            "warn" | "warning" => 13,
            "error" | "err" => 17,
            "fatal" | "critical" => 21,
            _ => 0,
        }
    };
    match n {
        0 => "unknown",
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        _ => "fatal",
    }
}

/// Nanoseconds as UTC time with milliseconds.
fn at(ns: u64) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(i64::try_from(ns).unwrap_or(i64::MAX));
    t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// The histogram as bars in a 600×80 box.
fn bars(h: &Histogram) -> (Vec<BarView>, u64) {
    let span = (h.to - h.from).max(1) as f64;
    let width = 600.0 * h.step_secs as f64 / span;
    let totals: Vec<u64> = h
        .bars
        .iter()
        .map(|b| b.trace + b.debug + b.info + b.warn + b.error + b.fatal + b.unknown)
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
    let views = h
        .bars
        .iter()
        .zip(&totals)
        .map(|(b, total)| {
            let mut y = 80.0;
            let parts = [
                ("fatal", b.fatal),
                ("error", b.error),
                ("warn", b.warn),
                ("info", b.info),
                ("debug", b.debug),
                ("trace", b.trace),
                ("unknown", b.unknown),
            ]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(class, n)| {
                let height = n as f64 / max * 78.0;
                y -= height;
                (class, y, height)
            })
            .collect();
            let when = chrono::DateTime::from_timestamp(b.t, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            BarView {
                x: (b.t - h.from) as f64 / span * 600.0,
                width: (width - 0.5).max(0.5),
                title: format!(
                    "{when}: {total} (error {}, warn {}, info {})",
                    b.error + b.fatal,
                    b.warn,
                    b.info
                ),
                parts,
            }
        })
        .collect();
    (views, totals.iter().sum())
}

/// A facet: its field, and each value with its count and the link that adds it to the
/// search.
type FacetView = (String, Vec<(String, u64, String)>);

/// Each facet value with the search that adds `field:"value"` to `q`.
fn facet_links(facets: Vec<Facet>, q: &str, last: &str) -> Vec<FacetView> {
    facets
        .into_iter()
        .map(|f| {
            let values = f
                .values
                .into_iter()
                .map(|v| {
                    let escaped = v.value.replace('\\', "\\\\").replace('"', "\\\"");
                    let term = format!("{}:\"{escaped}\"", f.field);
                    let q = if q.trim().is_empty() {
                        term
                    } else {
                        format!("{} {term}", q.trim())
                    };
                    let href = serde_urlencoded::to_string([("q", q.as_str()), ("last", last)])
                        .unwrap_or_default();
                    (v.value, v.count, href)
                })
                .collect();
            (f.field, values)
        })
        .collect()
}

fn row(r: LogRecord) -> Row {
    Row {
        level: level(r.severity_number, &r.severity_text),
        time: at(r.time_unix_nano),
        severity: if r.severity_text.is_empty() {
            level(r.severity_number, "").to_owned()
        } else {
            r.severity_text
        },
        id: r.id,
        service: r.service,
        body: r.body,
    }
}

async fn logs_page(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    query: LogsQuery,
) -> Result<Response, ApiError> {
    let nav = ProjectNav::of(state, user, project_id, "/logs").await?;
    let caller = user.caller();
    let (range, _) = TimeRange::of_page(query.last.clone(), query.from, query.to, "1h");
    let search = Search {
        q: query.q.clone(),
        limit: Some(100),
        cursor: query.cursor.clone(),
    };
    let found = async {
        let page = logs_of(state, &caller, project_id, &range, &search).await?;
        let histogram = histogram_of(state, &caller, project_id, &range, &query.q).await?;
        let fields = ["service".to_owned(), "severity".to_owned()];
        let facets = facets_of(state, &caller, project_id, &range, &query.q, &fields).await?;
        Ok::<_, ApiError>((page, histogram, facets))
    };
    let (refused, records, histogram, facets) = match found.await {
        Ok((records, histogram, facets)) => (None, Some(records), Some(histogram), facets),
        Err(e @ ApiError::BadRequest(_)) => (Some(e), None, None, Vec::new()),
        Err(e) => return Err(e),
    };
    let (bar_views, total) = histogram.as_ref().map(bars).unwrap_or_default();
    let older = records
        .as_ref()
        .and_then(|p| p.next_cursor.clone())
        .map(|cursor| {
            serde_urlencoded::to_string([
                ("q", query.q.as_str()),
                ("last", range.last.as_deref().unwrap_or("")),
                ("cursor", cursor.as_str()),
            ])
            .unwrap_or_default()
        });
    let last = range.last.clone().unwrap_or_default();
    let facets = facet_links(facets, &query.q, &last);
    let live = serde_urlencoded::to_string([("q", query.q.as_str())]).unwrap_or_default();
    let (status, error) = refusal(refused);
    Ok(page(
        status,
        &LogsPage {
            user: Some(user),
            error,
            nav,
            last,
            q: query.q,
            ranges: RANGES,
            bars: bar_views,
            total,
            facets,
            rows: records
                .map(|p| p.items.into_iter().map(row).collect())
                .unwrap_or_default(),
            older,
            live,
        },
    ))
}

/// `GET /projects/<id>/logs`.
pub(super) async fn list(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Query(query): Query<LogsQuery>,
) -> Response {
    logs_page(&state, &user, project_id, query)
        .await
        .unwrap_or_else(|e| error_page(Some(&user), &e))
}

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    time: String,
    record: LogRecord,
}

/// `GET /projects/<id>/logs/<log>`: one record whole.
pub(super) async fn show(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, log_id)): Path<(Uuid, String)>,
) -> Response {
    let shown = async {
        let nav = ProjectNav::of(&state, &user, project_id, "/logs").await?;
        let record = log_of(&state, &user.caller(), project_id, &log_id).await?;
        Ok::<_, ApiError>(page(
            StatusCode::OK,
            &LogPage {
                user: Some(&user),
                error: None,
                nav,
                time: at(record.time_unix_nano),
                record,
            },
        ))
    };
    shown.await.unwrap_or_else(|e| error_page(Some(&user), &e))
}

#[derive(Template)]
#[template(path = "log_row.html")]
struct RowFragment<'a> {
    project: Uuid,
    r: &'a Row,
}

#[derive(Template)]
#[template(path = "logs_live.html")]
struct LivePage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    q: String,
    back: String,
    stream: String,
}

#[derive(Deserialize, Default)]
pub(super) struct LiveQuery {
    #[serde(default)]
    q: String,
}

/// `GET /projects/<id>/logs/live`: the live tail's page.
pub(super) async fn live(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Query(query): Query<LiveQuery>,
) -> Response {
    let shown = async {
        let nav = ProjectNav::of(&state, &user, project_id, "/logs").await?;
        crate::search::parse::parse(&query.q)
            .map_err(|e| ApiError::BadRequest(format!("q: {e}")))?;
        let stream = serde_urlencoded::to_string([("q", query.q.as_str())]).unwrap_or_default();
        Ok::<_, ApiError>(page(
            StatusCode::OK,
            &LivePage {
                user: Some(&user),
                error: None,
                nav,
                back: stream.clone(),
                stream,
                q: query.q.clone(),
            },
        ))
    };
    shown.await.unwrap_or_else(|e| error_page(Some(&user), &e))
}

/// `GET /projects/<id>/logs/live/stream`: the tail as rows of HTML, for htmx's SSE extension.
pub(super) async fn live_stream(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Query(query): Query<LiveQuery>,
    headers: axum::http::HeaderMap,
) -> Response {
    use crate::api::log_tail::{busy, event_stream, follow, start_of};
    use axum::response::sse::Event;
    if let Err(e) = crate::api::projects::project_of(&state.pool, &user.caller(), project_id).await
    {
        return error_page(Some(&user), &e);
    }
    if let Err(e) = crate::search::parse::parse(&query.q) {
        return error_page(Some(&user), &ApiError::BadRequest(format!("q: {e}")));
    }
    let Some(records) = follow(&state, project_id, query.q, start_of(&headers)) else {
        return busy();
    };
    let events = futures_util::StreamExt::map(records, move |item| {
        Ok::<_, std::convert::Infallible>(match item {
            Ok(record) => {
                let id = record.id.clone();
                let r = row(record);
                let html = RowFragment {
                    project: project_id,
                    r: &r,
                }
                .render()
                .unwrap_or_default();
                Event::default().event("log").id(id).data(html)
            }
            Err(error) => Event::default().event("error").data(error.for_people().1),
        })
    });
    event_stream(events)
}
