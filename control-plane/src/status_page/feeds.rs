//! RSS 2.0 and Atom feeds of a page's incidents and maintenance, newest change first; each
//! entry says its latest state and update. Templates (`templates/status/feed_*.xml`) escape
//! every value as XML.

use askama::Template;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StatusPages;
use super::model::Model;
use crate::error::ApiError;

/// Most entries in a feed.
const MAX_ENTRIES: usize = 50;

struct Entry {
    id: Uuid,
    title: String,
    link: String,
    summary: String,
    published: DateTime<Utc>,
    updated: DateTime<Utc>,
}

impl Entry {
    fn published_rfc2822(&self) -> String {
        self.published.to_rfc2822()
    }
    fn published_rfc3339(&self) -> String {
        self.published.to_rfc3339()
    }
    fn updated_rfc3339(&self) -> String {
        self.updated.to_rfc3339()
    }
}

fn entries(model: &Model, link: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = model
        .incidents
        .iter()
        .map(|i| {
            let latest = i.updates.first();
            Entry {
                id: i.id,
                title: format!("{} ({})", i.name, i.status.as_str()),
                link: format!("{link}/incidents/{}", i.id),
                summary: latest.map_or_else(String::new, |u| u.body.clone()),
                published: i.started_at,
                updated: i.updated_at,
            }
        })
        .chain(model.maintenance.iter().map(|m| Entry {
            id: m.id,
            title: format!(
                "Maintenance: {} ({})",
                m.title,
                m.state.words().to_lowercase()
            ),
            link: link.to_owned(),
            summary: format!(
                "{} to {}. {}",
                model.local(m.starts_at).format("%Y-%m-%d %H:%M"),
                model.local(m.ends_at).format("%Y-%m-%d %H:%M"),
                m.description
            ),
            published: m.created_at,
            updated: m.created_at.max(m.starts_at.min(Utc::now())),
        }))
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.updated));
    entries.truncate(MAX_ENTRIES);
    entries
}

#[derive(Template)]
#[template(path = "status/feed_rss.xml")]
struct Rss {
    title: String,
    link: String,
    updated_rfc2822: String,
    entries: Vec<Entry>,
}

#[derive(Template)]
#[template(path = "status/feed_atom.xml")]
struct Atom {
    title: String,
    page_id: Uuid,
    link: String,
    updated_rfc3339: String,
    entries: Vec<Entry>,
}

/// The page's absolute URL, from the request's host.
fn link(parts: &axum::http::request::Parts, model: &Model) -> String {
    let host = parts
        .headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = parts
        .headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|s| *s == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}/status/{}", model.page.slug)
}

async fn feed(
    state: StatusPages,
    slug: String,
    request: Request,
    content_type: &'static str,
    render: fn(&Model, String) -> Result<String, askama::Error>,
) -> Response {
    let (parts, _) = request.into_parts();
    let snapshot = match super::readable(&state, &slug, &parts, false).await {
        Ok(snapshot) => snapshot,
        Err(refusal) => return refusal,
    };
    match render(&snapshot.model, link(&parts, &snapshot.model)) {
        Ok(body) => super::rendered(&parts.headers, &snapshot, content_type, body),
        Err(e) => super::failed(ApiError::Internal(format!("feed template: {e}"))),
    }
}

pub(super) async fn rss(
    State(state): State<StatusPages>,
    Path(slug): Path<String>,
    request: Request,
) -> Response {
    feed(
        state,
        slug,
        request,
        "application/rss+xml; charset=utf-8",
        |model, link| {
            Rss {
                title: model.page.name.clone(),
                updated_rfc2822: model.built_at.to_rfc2822(),
                entries: entries(model, &link),
                link,
            }
            .render()
        },
    )
    .await
}

pub(super) async fn atom(
    State(state): State<StatusPages>,
    Path(slug): Path<String>,
    request: Request,
) -> Response {
    feed(
        state,
        slug,
        request,
        "application/atom+xml; charset=utf-8",
        |model, link| {
            Atom {
                title: model.page.name.clone(),
                page_id: model.page.id,
                updated_rfc3339: model.built_at.to_rfc3339(),
                entries: entries(model, &link),
                link,
            }
            .render()
        },
    )
    .await
}
