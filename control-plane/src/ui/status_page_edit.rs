//! One status page in the operator UI: its settings (look, time zone, who may read it, host
//! names, footer links, the email channel subscriber mail goes through), its layout (which
//! monitors it shows, under which names and groups, in which order — a table that works
//! without script), its announcements and its subscribers. Every form posts to the same
//! domain functions the API calls and comes back here with the refusal shown, if any.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDateTime, Utc};
use uuid::Uuid;

use super::monitor_detail::when;
use super::pages::{SignedIn, check_csrf, error_page, page, refusal};
use super::project_nav::ProjectNav;
use crate::access::SessionUser;
use crate::api::announcements::{
    Announcement, NewAnnouncement, announce, announcements_of, withdraw_announcement,
};
use crate::api::channels::channels_of;
use crate::api::monitors::{MonitorFilter, monitors_of};
use crate::api::status_page_layout::{Group, GroupRule, Layout, Resource, layout_of, set_layout};
use crate::api::status_pages::{
    FooterLink, StatusPage, StatusPageChange, Visibility, change_page, page_of,
};
use crate::api::subscribers::{Subscriber, remove_subscriber, subscribers_of};
use crate::api::{AppState, PageQuery};
use crate::error::ApiError;
use crate::notification::ChannelKind;

/// Most monitors the layout table lists.
const TABLE_MONITORS: i64 = 200;

/// One monitor in the layout table.
struct Placement {
    monitor_id: Uuid,
    monitor: String,
    shown: bool,
    name: String,
    group: String,
    chart: bool,
    position: usize,
}

#[derive(Template)]
#[template(path = "status_page_edit.html")]
struct EditPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    csrf: String,
    page: StatusPage,
    domains: String,
    links: String,
    mail_channels: Vec<(Uuid, String)>,
    placements: Vec<Placement>,
    announcements: Vec<(Announcement, String)>,
    subscribers: Vec<Subscriber>,
}

async fn edit_page(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    page_id: Uuid,
    refused: Option<ApiError>,
) -> Result<Response, ApiError> {
    let caller = user.caller();
    let nav = ProjectNav::of(state, user, project_id, "/status-pages").await?;
    let found = page_of(&state.pool, &caller, project_id, page_id).await?;
    let layout = layout_of(&state.pool, &caller, project_id, page_id).await?;
    let monitors = monitors_of(
        &state.pool,
        &caller,
        project_id,
        &MonitorFilter::default(),
        &PageQuery::first(TABLE_MONITORS),
    )
    .await?
    .items;
    // Shown monitors in page order first, then the others.
    let mut shown: HashMap<Uuid, (usize, &Resource, String)> = HashMap::new();
    let placed = layout.resources.iter().map(|r| (r, String::new())).chain(
        layout
            .groups
            .iter()
            .flat_map(|g| g.resources.iter().map(|r| (r, g.name.clone()))),
    );
    for (position, (resource, group)) in placed.enumerate() {
        shown.insert(resource.monitor_id, (position + 1, resource, group));
    }
    let mut placements: Vec<Placement> = monitors
        .into_iter()
        .map(|m| match shown.get(&m.id) {
            Some((position, resource, group)) => Placement {
                monitor_id: m.id,
                shown: true,
                name: resource
                    .display_name
                    .clone()
                    .unwrap_or_else(|| m.name.clone()),
                group: group.clone(),
                chart: resource.show_chart,
                position: *position,
                monitor: m.name,
            },
            None => Placement {
                monitor_id: m.id,
                shown: false,
                name: m.name.clone(),
                group: String::new(),
                chart: false,
                position: 0,
                monitor: m.name,
            },
        })
        .collect();
    placements.sort_by_key(|p| (!p.shown, p.position));
    let next = placements.iter().filter(|p| p.shown).count();
    for (i, p) in placements.iter_mut().filter(|p| !p.shown).enumerate() {
        p.position = next + i + 1;
    }
    let can_write = nav.can_write();
    let mail_channels = if can_write {
        channels_of(&state.pool, &caller, project_id, &PageQuery::first(200))
            .await?
            .items
            .into_iter()
            .filter(|c| c.kind == ChannelKind::Email)
            .map(|c| (c.id, c.name))
            .collect()
    } else {
        Vec::new()
    };
    let announcements = announcements_of(
        &state.pool,
        &caller,
        project_id,
        page_id,
        &PageQuery::first(50),
    )
    .await?
    .items
    .into_iter()
    .map(|a| {
        let until = a.ends_at.map_or_else(|| "until removed".to_owned(), when);
        (a, until)
    })
    .collect();
    let subscribers = if can_write {
        subscribers_of(
            &state.pool,
            &caller,
            project_id,
            page_id,
            &PageQuery::first(200),
        )
        .await?
        .items
    } else {
        Vec::new()
    };
    let (status, error) = refusal(refused);
    Ok(page(
        status,
        &EditPage {
            user: Some(user),
            error,
            nav,
            csrf: user.csrf_token.clone(),
            domains: found.domains.join("\n"),
            links: found
                .footer_links
                .iter()
                .map(|l| format!("{} | {}", l.label, l.url))
                .collect::<Vec<_>>()
                .join("\n"),
            page: found,
            mail_channels,
            placements,
            announcements,
            subscribers,
        },
    ))
}

/// `GET /projects/<id>/status-pages/<page>`.
pub(super) async fn show(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, page_id)): Path<(Uuid, Uuid)>,
) -> Response {
    edit_page(&state, &user, project_id, page_id, None)
        .await
        .unwrap_or_else(|e| error_page(Some(&user), &e))
}

/// The form's fields, by name (repeated names: the first).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    fn on(&self, name: &str) -> bool {
        self.get(name) == "on"
    }
}

/// Footer links, one `label | url` a line.
fn footer_links(text: &str) -> Result<Vec<FooterLink>, ApiError> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (label, url) = line.split_once('|').ok_or_else(|| {
                ApiError::BadRequest(format!("footer link {line:?}: write it as label | URL"))
            })?;
            Ok(FooterLink {
                label: label.trim().to_owned(),
                url: url.trim().to_owned(),
            })
        })
        .collect()
}

fn settings_change(fields: &Fields) -> Result<StatusPageChange, ApiError> {
    let visibility = match fields.get("visibility") {
        "password" => Visibility::Password,
        "members" => Visibility::Members,
        _ => Visibility::Public,
    };
    let channel = match fields.get("subscriber_channel_id") {
        "" => None,
        id => Some(
            id.parse::<Uuid>()
                .map_err(|_| ApiError::BadRequest("choose an email channel".into()))?,
        ),
    };
    Ok(StatusPageChange {
        name: Some(fields.get("name").to_owned()),
        slug: Some(fields.get("slug").to_owned()),
        description: Some(fields.get("description").to_owned()),
        brand_color: Some(fields.get("brand_color").to_ascii_lowercase()),
        footer_links: Some(footer_links(fields.get("footer_links"))?),
        time_zone: Some(fields.get("time_zone").trim().to_owned()),
        noindex: Some(fields.on("noindex")),
        visibility: Some(visibility),
        password: Some(fields.get("password").to_owned()).filter(|p| !p.is_empty()),
        domains: Some(
            fields
                .get("domains")
                .lines()
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        subscriber_channel_id: Some(channel),
    })
}

/// The layout the table describes: shown rows by position; rows naming the same group go
/// under it (groups in the order of their first row); a group keeps the rule it had.
fn table_layout(fields: &Fields, rules: &HashMap<String, GroupRule>) -> Result<Layout, ApiError> {
    let mut rows: Vec<(i64, Uuid, String, String, bool)> = Vec::new();
    for i in 0..TABLE_MONITORS as usize {
        let monitor = fields.get(&format!("monitor_{i}"));
        if monitor.is_empty() {
            break;
        }
        if !fields.on(&format!("show_{i}")) {
            continue;
        }
        let monitor_id = monitor
            .parse::<Uuid>()
            .map_err(|_| ApiError::BadRequest("a row names no monitor".into()))?;
        let position = fields
            .get(&format!("position_{i}"))
            .trim()
            .parse::<i64>()
            .unwrap_or(i as i64 + 1);
        rows.push((
            position,
            monitor_id,
            fields.get(&format!("name_{i}")).trim().to_owned(),
            fields.get(&format!("group_{i}")).trim().to_owned(),
            fields.on(&format!("chart_{i}")),
        ));
    }
    rows.sort_by_key(|r| r.0);
    let mut layout = Layout::default();
    for (_, monitor_id, name, group, show_chart) in rows {
        let resource = Resource {
            monitor_id,
            display_name: Some(name).filter(|n| !n.is_empty()),
            description: String::new(),
            show_chart,
        };
        if group.is_empty() {
            layout.resources.push(resource);
        } else if let Some(existing) = layout.groups.iter_mut().find(|g| g.name == group) {
            existing.resources.push(resource);
        } else {
            layout.groups.push(Group {
                rule: rules.get(&group).copied().unwrap_or_default(),
                name: group,
                description: String::new(),
                resources: vec![resource],
            });
        }
    }
    Ok(layout)
}

/// A `datetime-local` value, read as UTC; empty: none.
fn utc(field: &str, value: &str) -> Result<Option<chrono::DateTime<Utc>>, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .map(|t| Some(t.and_utc()))
        .map_err(|_| ApiError::BadRequest(format!("{field}: a date and time, in UTC")))
}

/// `POST /projects/<id>/status-pages/<page>/<form>`: `settings`, `layout`, `announcements`,
/// `announcements/<id>/remove` is `act_on`.
pub(super) async fn save(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, page_id, form)): Path<(Uuid, Uuid, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(pairs);
    let caller = user.caller();
    let saved = async {
        check_csrf(&user, fields.get("csrf_token"))?;
        match form.as_str() {
            "settings" => {
                let change = settings_change(&fields)?;
                change_page(&state.pool, &caller, project_id, page_id, change).await?;
            }
            "layout" => {
                let current = layout_of(&state.pool, &caller, project_id, page_id).await?;
                let rules = current
                    .groups
                    .iter()
                    .map(|g| (g.name.clone(), g.rule))
                    .collect();
                let layout = table_layout(&fields, &rules)?;
                set_layout(&state.pool, &caller, project_id, page_id, layout).await?;
            }
            "announcements" => {
                let new = NewAnnouncement {
                    title: fields.get("title").to_owned(),
                    body: fields.get("body").to_owned(),
                    starts_at: None,
                    ends_at: utc("ends", fields.get("ends"))?,
                };
                announce(&state.pool, &caller, project_id, page_id, new).await?;
            }
            _ => return Err(ApiError::NotFound("form")),
        }
        Ok(())
    };
    after(&state, &user, project_id, page_id, saved.await).await
}

/// `POST /projects/<id>/status-pages/<page>/announcements/<announcement>/remove`.
pub(super) async fn remove_announcement(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, page_id, announcement_id)): Path<(Uuid, Uuid, Uuid)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(pairs);
    let removed = async {
        check_csrf(&user, fields.get("csrf_token"))?;
        withdraw_announcement(
            &state.pool,
            &user.caller(),
            project_id,
            page_id,
            announcement_id,
        )
        .await
        .map(|_| ())
    };
    after(&state, &user, project_id, page_id, removed.await).await
}

/// `POST /projects/<id>/status-pages/<page>/subscribers/<subscriber>/remove`.
pub(super) async fn remove_subscriber_form(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path((project_id, page_id, subscriber_id)): Path<(Uuid, Uuid, Uuid)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(pairs);
    let removed = async {
        check_csrf(&user, fields.get("csrf_token"))?;
        remove_subscriber(
            &state.pool,
            &user.caller(),
            project_id,
            page_id,
            subscriber_id,
        )
        .await
        .map(|_| ())
    };
    after(&state, &user, project_id, page_id, removed.await).await
}

/// Back to the page after a form: its refusal shown there when it is one of the person's.
async fn after(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    page_id: Uuid,
    done: Result<(), ApiError>,
) -> Response {
    match done {
        Ok(()) => {
            Redirect::to(&format!("/projects/{project_id}/status-pages/{page_id}")).into_response()
        }
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
            edit_page(state, user, project_id, page_id, Some(e))
                .await
                .unwrap_or_else(|e| error_page(Some(user), &e))
        }
        Err(e) => error_page(Some(user), &e),
    }
}
