//! SVG badges (the page's overall status; a resource's or group's status or uptime) and the
//! embeddable widget: a tiny HTML page with the overall status, made to be framed anywhere
//! (`<iframe src="…/status/{slug}/widget" title="Status" width="320" height="48">`).

use askama::Template;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use uuid::Uuid;

use super::StatusPages;
use super::html::Frame;
use super::model::{Condition, Indicator, Model, Uptimes};
use crate::error::ApiError;
use crate::ui::monitors::percent;

#[derive(Template)]
#[template(path = "status/badge.svg")]
struct Badge<'a> {
    label: &'a str,
    value: &'a str,
    color: &'static str,
    label_width: u32,
    value_width: u32,
    width: u32,
}

/// Text width in Verdana 11 px, near enough for a badge.
fn text_width(text: &str) -> u32 {
    text.chars().count() as u32 * 7 + 12
}

fn badge(label: &str, value: &str, color: &'static str) -> Result<String, askama::Error> {
    let (label_width, value_width) = (text_width(label), text_width(value));
    Badge {
        label,
        value,
        color,
        label_width,
        value_width,
        width: label_width + value_width,
    }
    .render()
}

fn condition_color(condition: Condition) -> &'static str {
    match condition {
        Condition::Operational => "#1f883d",
        Condition::UnderMaintenance => "#0969da",
        Condition::DegradedPerformance => "#9a6700",
        Condition::PartialOutage => "#bc4c00",
        Condition::MajorOutage => "#cf222e",
    }
}

fn indicator_color(indicator: Indicator) -> &'static str {
    match indicator {
        Indicator::None => "#1f883d",
        Indicator::Minor => "#9a6700",
        Indicator::Major => "#bc4c00",
        Indicator::Critical => "#cf222e",
    }
}

fn uptime_color(share: Option<f64>) -> &'static str {
    match share {
        None => "#6e7781",
        Some(s) if s >= 0.999 => "#1f883d",
        Some(s) if s >= 0.99 => "#9a6700",
        Some(_) => "#cf222e",
    }
}

const SVG: &str = "image/svg+xml";

fn svg(
    parts: &axum::http::request::Parts,
    snapshot: &super::cache::Snapshot,
    body: Result<String, askama::Error>,
) -> Response {
    match body {
        Ok(body) => super::rendered(&parts.headers, snapshot, SVG, body),
        Err(e) => super::failed(ApiError::Internal(format!("badge template: {e}"))),
    }
}

/// `GET /status/{slug}/badge.svg`: the page's overall status.
pub(super) async fn overall(
    State(state): State<StatusPages>,
    Path(slug): Path<String>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let snapshot = match super::readable(&state, &slug, &parts, false).await {
        Ok(snapshot) => snapshot,
        Err(refusal) => return refusal,
    };
    let indicator = snapshot.model.indicator;
    let body = badge(
        "status",
        &indicator.description().to_lowercase(),
        indicator_color(indicator),
    );
    svg(&parts, &snapshot, body)
}

/// A resource's or group's condition and uptime, by its public id.
fn find(model: &Model, id: Uuid) -> Option<(&str, Condition, Uptimes)> {
    model
        .all_resources()
        .find(|r| r.id == id)
        .map(|r| (r.name.as_str(), r.condition, r.uptime))
        .or_else(|| {
            model
                .groups
                .iter()
                .find(|g| g.id == id)
                .map(|g| (g.name.as_str(), g.condition, g.uptime))
        })
}

/// `GET /status/{slug}/badges/{id}/status.svg` or `…/uptime-{24h,7d,30d,90d}.svg`.
pub(super) async fn resource(
    State(state): State<StatusPages>,
    Path((slug, id, kind)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let snapshot = match super::readable(&state, &slug, &parts, false).await {
        Ok(snapshot) => snapshot,
        Err(refusal) => return refusal,
    };
    let Some((name, condition, uptime)) = id
        .parse::<Uuid>()
        .ok()
        .and_then(|id| find(&snapshot.model, id))
    else {
        return super::not_found();
    };
    let body = match kind.as_str() {
        "status.svg" => badge(
            name,
            &condition.words().to_lowercase(),
            condition_color(condition),
        ),
        other => {
            let index = match other {
                "uptime-24h.svg" => 0,
                "uptime-7d.svg" => 1,
                "uptime-30d.svg" => 2,
                "uptime-90d.svg" => 3,
                _ => return super::not_found(),
            };
            let period = ["24 h", "7 d", "30 d", "90 d"][index];
            badge(
                &format!("{name} {period}"),
                &percent(uptime[index]),
                uptime_color(uptime[index]),
            )
        }
    };
    svg(&parts, &snapshot, body)
}

#[derive(Template)]
#[template(path = "status/widget.html")]
struct Widget<'a> {
    frame: Frame<'a>,
    class: &'static str,
    description: &'static str,
}

/// `GET /status/{slug}/widget`: the overall status, to be framed by other sites.
pub(super) async fn widget(
    State(state): State<StatusPages>,
    Path(slug): Path<String>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let snapshot = match super::readable(&state, &slug, &parts, true).await {
        Ok(snapshot) => snapshot,
        Err(refusal) => return refusal,
    };
    let model = &snapshot.model;
    let body = Widget {
        frame: Frame::of(model),
        class: model.indicator.class(),
        description: model.indicator.description(),
    }
    .render();
    let mut response = match body {
        Ok(body) => super::rendered(&parts.headers, &snapshot, "text/html; charset=utf-8", body),
        Err(e) => return super::failed(ApiError::Internal(format!("widget template: {e}"))),
    };
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(super::WIDGET_CSP),
    );
    response
}
