//! The trace view: a waterfall in tree order (each span under its parent, offset and width to
//! scale, errors marked, events as dots), a page of spans at a time for big traces, subtrees
//! folded — by default those of more than [`FOLD_OVER`] spans on the page, then as the reader
//! chooses (`fold=` lists the folded spans, carried by every link) — and a span's attributes,
//! resource, events and links. Bars are SVG drawn here; nothing needs script.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{SignedIn, error_page, page};
use super::project_nav::ProjectNav;
use super::traces::{at, ms};
use crate::access::SessionUser;
use crate::api::AppState;
use crate::api::explorer_read::TimeRange;
use crate::api::traces::{Span, SpanPage, trace_of};
use crate::error::ApiError;

/// Spans of a trace shown per page.
const SPANS_PER_PAGE: u32 = 500;
/// Deepest indentation drawn (deeper spans are drawn at this depth).
const MAX_DEPTH: usize = 15;
/// Subtrees of more spans than this (on the page) start folded.
const FOLD_OVER: usize = 50;
/// Most spans a `fold=` list names.
const MAX_FOLDED: usize = 200;

/// A span in the waterfall.
struct Bar {
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
    /// Spans under this one on the page (0: a leaf here).
    below: usize,
    /// Whether the spans under it are hidden.
    folded: bool,
    /// The query string that folds or unfolds it, and the one that selects it.
    toggle: String,
    select: String,
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
    /// Spans of this page hidden under folded ones.
    folded: usize,
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
    /// The folded spans, comma-separated; absent: the big subtrees.
    fold: Option<String>,
}

/// How many spans lie under each position of `order` (spans in tree order with depths).
fn below(order: &[(usize, usize)]) -> Vec<usize> {
    let mut counts = vec![0; order.len()];
    // Each span adds one to every open ancestor: a stack of positions by depth.
    let mut open: Vec<usize> = Vec::new();
    for (k, &(_, depth)) in order.iter().enumerate() {
        open.truncate(depth);
        for &ancestor in &open {
            counts[ancestor] += 1;
        }
        open.push(k);
    }
    counts
}

/// The query string of this view with `fold` as the folded set (sorted, so links are stable).
fn view_query(last: &str, offset: u64, span: Option<&str>, fold: &HashSet<String>) -> String {
    let mut fold: Vec<&str> = fold.iter().map(String::as_str).collect();
    fold.sort_unstable();
    let mut params = vec![("last", last.to_owned()), ("fold", fold.join(","))];
    if offset > 0 {
        params.push(("offset", offset.to_string()));
    }
    if let Some(span) = span {
        params.push(("span", span.to_owned()));
    }
    serde_urlencoded::to_string(params).unwrap_or_default()
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
        let order = tree_order(&trace.spans);
        let under = below(&order);
        // The reader's folds, or by default every big subtree not holding the chosen span.
        let fold: HashSet<String> = match &query.fold {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty() && id.len() <= 64)
                .take(MAX_FOLDED)
                .map(str::to_owned)
                .collect(),
            None => {
                let chosen = order.iter().position(|(i, _)| {
                    Some(trace.spans[*i].span_id.as_str()) == query.span.as_deref()
                });
                order
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| under[*k] > FOLD_OVER)
                    .filter(|(k, _)| chosen.is_none_or(|c| c <= *k || c > k + under[*k]))
                    .map(|(_, (i, _))| trace.spans[*i].span_id.clone())
                    .collect()
            }
        };
        let offset = trace.offset;
        let mut hidden_below: Option<usize> = None;
        let bars: Vec<Bar> = order
            .iter()
            .enumerate()
            .filter_map(|(k, &(i, depth))| {
                match hidden_below {
                    Some(d) if depth > d => return None,
                    _ => hidden_below = None,
                }
                let s = &trace.spans[i];
                let folded = under[k] > 0 && fold.contains(&s.span_id);
                if folded {
                    hidden_below = Some(depth);
                }
                let mut toggled = fold.clone();
                if !toggled.remove(&s.span_id) {
                    toggled.insert(s.span_id.clone());
                }
                Some(Bar {
                    below: under[k],
                    folded,
                    toggle: view_query(&last, offset, query.span.as_deref(), &toggled),
                    select: view_query(&last, offset, Some(&s.span_id), &fold),
                    name: s.name.clone(),
                    service: s.service.clone(),
                    depth: depth.min(MAX_DEPTH),
                    duration: ms(s.duration_ns),
                    error: s.status_code == 2,
                    x: scale(s.start_unix_nano),
                    width: (s.duration_ns as f64 / span_ns * 1000.0).max(1.0),
                    events: s.events.iter().map(|e| scale(e.time_unix_nano)).collect(),
                    selected: query.span.as_deref() == Some(s.span_id.as_str()),
                })
            })
            .collect();
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
                folded: order.len() - bars.len(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_below_count_every_descendant_on_the_page() {
        // a ─ b ─ c
        //   └ d
        // e
        let order = [(0, 0), (1, 1), (2, 2), (3, 1), (4, 0)];
        assert_eq!(below(&order), [3, 1, 0, 0, 0]);
    }

    #[test]
    fn a_views_links_keep_its_range_page_and_folds() {
        let fold: HashSet<String> = ["b2".to_owned(), "a1".to_owned()].into();
        assert_eq!(
            view_query("24h", 500, Some("c3"), &fold),
            "last=24h&fold=a1%2Cb2&offset=500&span=c3"
        );
        assert_eq!(view_query("1h", 0, None, &HashSet::new()), "last=1h&fold=");
    }
}
