//! The explorer's traces pages: the trace list (a search over spans, each trace with its root,
//! duration, span count and errors), the services' figures, and the trace view — a waterfall
//! in tree order (each span under its parent, offset and width to scale, errors marked,
//! events as dots), a page of spans at a time for big traces, and a span's attributes,
//! resource, events and links. Bars are SVG drawn here; nothing needs script.

use std::collections::HashMap;

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
use crate::api::traces::{
    ServiceStats, Span, SpanPage, TraceSearch, TraceSummary, services_of, trace_of, traces_of,
};
use crate::error::ApiError;

/// Spans of a trace shown per page.
const SPANS_PER_PAGE: u32 = 500;
/// Deepest indentation drawn (deeper spans are drawn at this depth).
const MAX_DEPTH: usize = 15;

#[derive(Deserialize, Default)]
pub(super) struct TracesQuery {
    #[serde(default)]
    q: String,
    last: Option<String>,
    before: Option<u64>,
}

/// Milliseconds for people.
fn ms(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

fn at(ns: u64) -> String {
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
        let range = TimeRange {
            last: Some(last.clone()),
            ..TimeRange::default()
        };
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
            serde_urlencoded::to_string([
                ("q", query.q.clone()),
                ("last", last.clone()),
                ("before", before.to_string()),
            ])
            .unwrap_or_default()
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

/// A span in the waterfall.
struct Bar {
    span_id: String,
    name: String,
    service: String,
    depth: usize,
    duration: String,
    error: bool,
    /// x and width in a 1000-wide box.
    x: f64,
    width: f64,
    /// Event markers' x.
    events: Vec<f64>,
    selected: bool,
}

/// The spans in tree order (each after its parent; spans whose parent is not on this page
/// start a tree of their own), with their depth.
fn tree_order(spans: &[Span]) -> Vec<(usize, usize)> {
    let index: HashMap<&str, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id.as_str(), i))
        .collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        match index.get(s.parent_span_id.as_str()) {
            Some(&parent) if parent != i => children.entry(parent).or_default().push(i),
            _ => roots.push(i),
        }
    }
    let mut order = Vec::with_capacity(spans.len());
    // Depth-first without recursion (a deep trace must not exhaust the stack).
    let mut stack: Vec<(usize, usize)> = roots.into_iter().rev().map(|r| (r, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        if order.len() >= spans.len() {
            break;
        }
        order.push((i, depth));
        if let Some(kids) = children.get(&i) {
            stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
        }
    }
    order
}

#[derive(Template)]
#[template(path = "trace.html")]
struct TracePage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    trace_id: String,
    last: String,
    total: u64,
    duration: String,
    start: String,
    bars: Vec<Bar>,
    previous: Option<u64>,
    next: Option<u64>,
    selected: Option<Span>,
    /// The selected span's kind, in words.
    selected_kind: &'static str,
}

fn kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    }
}

#[derive(Deserialize, Default)]
pub(super) struct TraceQuery {
    last: Option<String>,
    offset: Option<u64>,
    span: Option<String>,
}

/// `GET /projects/<id>/traces/<trace>`.
pub(super) async fn show(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, trace_id)): Path<(Uuid, String)>,
    Query(query): Query<TraceQuery>,
) -> Response {
    let shown = async {
        let nav = ProjectNav::of(&state, &user, project_id, "/traces").await?;
        let last = query.last.clone().unwrap_or_else(|| "24h".to_owned());
        let range = TimeRange {
            last: Some(last.clone()),
            ..TimeRange::default()
        };
        let spans_page = SpanPage {
            offset: query.offset,
            limit: Some(SPANS_PER_PAGE),
        };
        let trace = trace_of(
            &state,
            &user.caller(),
            project_id,
            &trace_id,
            &range,
            &spans_page,
        )
        .await?;
        let start = trace
            .spans
            .iter()
            .map(|s| s.start_unix_nano)
            .min()
            .unwrap_or(0);
        let end = trace
            .spans
            .iter()
            .map(|s| s.start_unix_nano + s.duration_ns)
            .max()
            .unwrap_or(start);
        let span_ns = (end - start).max(1) as f64;
        let scale = |t: u64| (t.saturating_sub(start)) as f64 / span_ns * 1000.0;
        let bars = tree_order(&trace.spans)
            .into_iter()
            .map(|(i, depth)| {
                let s = &trace.spans[i];
                Bar {
                    span_id: s.span_id.clone(),
                    name: s.name.clone(),
                    service: s.service.clone(),
                    depth: depth.min(MAX_DEPTH),
                    duration: ms(s.duration_ns),
                    error: s.status_code == 2,
                    x: scale(s.start_unix_nano),
                    width: (s.duration_ns as f64 / span_ns * 1000.0).max(1.0),
                    events: s.events.iter().map(|e| scale(e.time_unix_nano)).collect(),
                    selected: query.span.as_deref() == Some(s.span_id.as_str()),
                }
            })
            .collect();
        let offset = trace.offset;
        let shown_to = offset + trace.spans.len() as u64;
        let selected = query
            .span
            .as_deref()
            .and_then(|id| trace.spans.into_iter().find(|s| s.span_id == id));
        Ok::<_, ApiError>(page(
            StatusCode::OK,
            &TracePage {
                user: Some(&user),
                error: None,
                nav,
                trace_id: trace.trace_id,
                last,
                total: trace.total,
                duration: ms(end - start),
                start: at(start),
                bars,
                previous: (offset > 0).then(|| offset.saturating_sub(u64::from(SPANS_PER_PAGE))),
                next: (shown_to < trace.total).then_some(shown_to),
                selected_kind: selected.as_ref().map_or("", |s| kind_name(s.kind)),
                selected,
            },
        ))
    };
    shown.await.unwrap_or_else(|e| error_page(Some(&user), &e))
}
