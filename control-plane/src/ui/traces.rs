//! The explorer's traces list: a search over spans, each trace with its root, duration, span
//! count and errors, and the services' figures. The trace view is `trace_view.rs`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{SignedIn, error_page, page, refusal};
use super::project_nav::ProjectNav;
use crate::access::SessionUser;
use crate::api::AppState;
use crate::api::explorer_read::TimeRange;
use crate::api::traces::{ServiceStats, TraceSearch, TraceSummary, services_of, traces_of};
use crate::error::ApiError;

#[derive(Deserialize, Default)]
pub(super) struct TracesQuery {
    #[serde(default)]
    q: String,
    last: Option<String>,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    before: Option<u64>,
}

/// Milliseconds for people.
pub(super) fn ms(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

pub(super) fn at(ns: u64) -> String {
    chrono::DateTime::from_timestamp_nanos(i64::try_from(ns).unwrap_or(i64::MAX))
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

struct TraceRow {
    trace_id: String,
    root: String,
    start: String,
    duration: String,
    spans: u64,
    errors: u64,
}

fn trace_row(t: TraceSummary) -> TraceRow {
    TraceRow {
        root: format!("{}: {}", t.root_service, t.root_name),
        start: at(t.start_unix_nano),
        duration: ms(t.duration_ns),
        spans: t.spans,
        errors: t.errors,
        trace_id: t.trace_id,
    }
}

struct ServiceRow {
    service: String,
    /// The query of this service's traces.
    href: String,
    rate: String,
    errors: String,
    p50: String,
    p95: String,
    p99: String,
}

fn service_row(s: ServiceStats, last: &str) -> ServiceRow {
    let q = format!(
        "service:\"{}\"",
        s.service.replace('\\', "\\\\").replace('"', "\\\"")
    );
    ServiceRow {
        href: serde_urlencoded::to_string([("q", q.as_str()), ("last", last)]).unwrap_or_default(),
        rate: format!("{:.2}/s", s.rate),
        errors: format!("{:.1} %", s.error_rate * 100.0),
        p50: ms(s.p50_ns as u64),
        p95: ms(s.p95_ns as u64),
        p99: ms(s.p99_ns as u64),
        service: s.service,
    }
}

#[derive(Template)]
#[template(path = "traces.html")]
struct TracesPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    q: String,
    last: String,
    /// The fixed range shown instead of `last` (a link from an incident).
    fixed: Option<String>,
    traces: Vec<TraceRow>,
    services: Vec<ServiceRow>,
    older: Option<String>,
}

/// `GET /projects/<id>/traces`.
pub(super) async fn list(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Query(query): Query<TracesQuery>,
) -> Response {
    let shown = async {
        let nav = ProjectNav::of(&state, &user, project_id, "/traces").await?;
        let caller = user.caller();
        let last = query.last.clone().unwrap_or_else(|| "1h".to_owned());
        let (range, fixed) = TimeRange::of_page(query.last.clone(), query.from, query.to, "1h");
        let search = TraceSearch {
            q: query.q.clone(),
            limit: Some(50),
            before: query.before,
        };
        let found = async {
            let traces = traces_of(&state, &caller, project_id, &range, &search).await?;
            let services = services_of(&state, &caller, project_id, &range).await?;
            Ok::<_, ApiError>((traces, services))
        };
        let (refused, traces, services) = match found.await {
            Ok((traces, services)) => (None, Some(traces), services),
            Err(e @ ApiError::BadRequest(_)) => (Some(e), None, Vec::new()),
            Err(e) => return Err(e),
        };
        let older = traces.as_ref().and_then(|t| t.next_before).map(|before| {
            let mut params = vec![("q", query.q.clone()), ("before", before.to_string())];
            match (query.from, query.to) {
                (None, None) => params.push(("last", last.clone())),
                (from, to) => params.extend(
                    [("from", from), ("to", to)]
                        .into_iter()
                        .filter_map(|(k, t)| Some((k, t?.to_rfc3339()))),
                ),
            }
            serde_urlencoded::to_string(params).unwrap_or_default()
        });
        let range_name = last.clone();
        let (status, error) = refusal(refused);
        Ok(page(
            status,
            &TracesPage {
                user: Some(&user),
                error,
                nav,
                q: query.q.clone(),
                last,
                fixed,
                traces: traces
                    .map(|t| t.items.into_iter().map(trace_row).collect())
                    .unwrap_or_default(),
                services: services
                    .into_iter()
                    .map(|s| service_row(s, &range_name))
                    .collect(),
                older,
            },
        ))
    };
    shown.await.unwrap_or_else(|e| error_page(Some(&user), &e))
}
