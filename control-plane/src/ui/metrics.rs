//! The explorer's metrics page: the metric names each service reports (links), and a chart of
//! one — an aggregation per step, one line per value of a grouping attribute — drawn here as
//! SVG (no script needed), with a table of each line's latest, least and greatest value.

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
use crate::api::metrics::{MetricChart, MetricName, SeriesQuery, names_of, series_of};
use crate::error::ApiError;

#[derive(Deserialize, Default)]
pub(super) struct MetricsQuery {
    #[serde(default)]
    name: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    agg: String,
    #[serde(default)]
    group_by: String,
    last: Option<String>,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
}

/// A line of the chart: its class (colour), group, SVG points and figures.
struct Line {
    class: String,
    group: String,
    points: String,
    last: String,
    min: String,
    max: String,
}

#[derive(Template)]
#[template(path = "metrics.html")]
struct MetricsPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    names: Vec<(MetricName, String)>,
    name: String,
    service: String,
    agg: String,
    group_by: String,
    last: String,
    /// The fixed range shown instead of `last` (a link from an incident).
    fixed: Option<String>,
    lines: Vec<Line>,
    step: i64,
    /// The chart's data as JSON, for uPlot to draw over the SVG when JavaScript runs.
    chart_json: String,
}

fn figure(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// The chart's lines in a 1000×200 box.
fn lines(chart: &MetricChart) -> Vec<Line> {
    let all = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.v));
    let (low, high) = all.fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
    let low = low.min(0.0);
    let span = (high - low).max(f64::EPSILON);
    let width = (chart.to - chart.from).max(1) as f64;
    chart
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let points = s
                .points
                .iter()
                .map(|p| {
                    let x = (p.t - chart.from) as f64 / width * 1000.0;
                    let y = 198.0 - (p.v - low) / span * 196.0;
                    format!("{x:.1},{y:.1}")
                })
                .collect::<Vec<_>>()
                .join(" ");
            let values = s.points.iter().map(|p| p.v);
            Line {
                class: format!("c{}", i % 10),
                group: if s.group.is_empty() {
                    "all".to_owned()
                } else {
                    s.group.clone()
                },
                points,
                last: s.points.last().map(|p| figure(p.v)).unwrap_or_default(),
                min: figure(values.clone().fold(f64::MAX, f64::min)),
                max: figure(values.fold(f64::MIN, f64::max)),
            }
        })
        .collect()
}

/// `GET /projects/<id>/metrics`.
pub(super) async fn show(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Query(query): Query<MetricsQuery>,
) -> Response {
    let shown = async {
        let nav = ProjectNav::of(&state, &user, project_id, "/metrics").await?;
        let caller = user.caller();
        let last = query.last.clone().unwrap_or_else(|| "1h".to_owned());
        let (range, fixed) = TimeRange::of_page(query.last.clone(), query.from, query.to, "1h");
        let names = names_of(&state, &caller, project_id, &range).await?;
        let histogram = names
            .iter()
            .any(|n| n.name == query.name && n.metric_type == "histogram");
        let agg = match query.agg.as_str() {
            "" if histogram => "p95".to_owned(),
            "" => "avg".to_owned(),
            other => other.to_owned(),
        };
        let mut refused = None;
        let mut chart_lines = Vec::new();
        let mut step = 0;
        let mut chart_json = String::new();
        if !query.name.is_empty() {
            let series = SeriesQuery {
                name: query.name.clone(),
                service: Some(query.service.clone()).filter(|s| !s.is_empty()),
                agg: Some(agg.clone()),
                group_by: Some(query.group_by.clone()).filter(|g| !g.is_empty()),
                step: None,
            };
            match series_of(&state, &caller, project_id, &range, &series).await {
                Ok(chart) => {
                    step = chart.step_secs;
                    chart_lines = lines(&chart);
                    chart_json = serde_json::to_string(&chart)
                        .map_err(|e| ApiError::Internal(e.to_string()))?;
                }
                Err(e @ ApiError::BadRequest(_)) => refused = Some(e),
                Err(e) => return Err(e),
            }
        }
        let links = names
            .into_iter()
            .map(|n| {
                let href = serde_urlencoded::to_string([
                    ("name", n.name.as_str()),
                    ("service", n.service.as_str()),
                    ("last", last.as_str()),
                ])
                .unwrap_or_default();
                (n, href)
            })
            .collect();
        let (status, error) = refusal(refused);
        Ok(page(
            status,
            &MetricsPage {
                user: Some(&user),
                error,
                nav,
                names: links,
                name: query.name.clone(),
                service: query.service.clone(),
                agg,
                group_by: query.group_by.clone(),
                last,
                fixed,
                lines: chart_lines,
                step,
                chart_json,
            },
        ))
    };
    shown.await.unwrap_or_else(|e| error_page(Some(&user), &e))
}
