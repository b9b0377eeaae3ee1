//! The HTML of a status page, its incident pages, its history and its password form, from a
//! [`Model`]: the templates (`templates/status/`, askama, every value escaped) and the view
//! rows they read (times in the page's zone, uptime as text, day cells with their detail).

use askama::Template;
use chrono::{DateTime, Datelike, Utc};
use uuid::Uuid;

use super::model::{
    Condition, Day, GroupView, IncidentView, MaintenanceState, Model, ResourceView,
};
use crate::api::status_pages::FooterLink;
use crate::error::ApiError;
use crate::ui::monitors::{percent, sparkline};

/// What every status template shares: the page's name, look and where its links go.
pub(crate) struct Frame<'a> {
    pub name: &'a str,
    /// `/status/{slug}`: every link starts with it (and a custom domain serves it too).
    pub base: String,
    pub noindex: bool,
    pub has_logo: bool,
    /// Changes when the brand colour does, so `theme.css` can be cached.
    pub theme_version: String,
    pub footer_links: &'a [FooterLink],
    pub time_zone: &'a str,
}

impl<'a> Frame<'a> {
    pub(crate) fn of(model: &'a Model) -> Frame<'a> {
        let page = &model.page;
        Frame {
            name: &page.name,
            base: format!("/status/{}", page.slug),
            noindex: page.noindex,
            has_logo: page.has_logo,
            theme_version: page.brand_color.trim_start_matches('#').to_owned(),
            footer_links: &page.footer_links,
            time_zone: &page.time_zone,
        }
    }
}

/// A resource or group, ready to show.
pub(crate) struct Row {
    name: String,
    description: String,
    words: &'static str,
    class: &'static str,
    days: Vec<Cell>,
    uptime: [String; 4],
    chart: Option<String>,
    peak: Option<String>,
    members: Vec<Row>,
}

struct Cell {
    class: &'static str,
    detail: String,
}

/// Minutes or hours, for people.
fn duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn cell(day: &Day) -> Cell {
    let date = day.date.format("%-d %b %Y");
    let Some(condition) = day.condition() else {
        return Cell {
            class: "none",
            detail: format!("{date}: no data"),
        };
    };
    let mut detail = format!("{date}: {} up", percent(day.uptime()));
    if day.down_secs > 0 {
        detail.push_str(&format!(", {} down", duration(day.down_secs)));
    }
    if day.degraded_secs > 0 {
        detail.push_str(&format!(", {} degraded", duration(day.degraded_secs)));
    }
    for (number, title) in &day.incidents {
        detail.push_str(&format!("; incident #{number}: {title}"));
    }
    Cell {
        class: condition.class(),
        detail,
    }
}

fn resource_row(resource: &ResourceView) -> Row {
    let peak = resource.chart.as_ref().and_then(|points| {
        points
            .iter()
            .flatten()
            .copied()
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
            .map(|ms| format!("{ms:.0} ms"))
    });
    Row {
        name: resource.name.clone(),
        description: resource.description.clone(),
        words: resource.condition.words(),
        class: resource.condition.class(),
        days: resource.days.iter().map(cell).collect(),
        uptime: resource.uptime.map(percent),
        chart: resource.chart.as_deref().map(sparkline),
        peak,
        members: Vec::new(),
    }
}

fn group_row(group: &GroupView) -> Row {
    Row {
        name: group.name.clone(),
        description: group.description.clone(),
        words: group.condition.words(),
        class: group.condition.class(),
        days: group.days.iter().map(cell).collect(),
        uptime: group.uptime.map(percent),
        chart: None,
        peak: None,
        members: group.resources.iter().map(resource_row).collect(),
    }
}

/// An incident, ready to show.
pub(crate) struct IncidentCard {
    id: Uuid,
    name: String,
    status: &'static str,
    impact: &'static str,
    started: String,
    resolved: Option<String>,
    affected: String,
    /// (status, body, when), newest first.
    updates: Vec<(&'static str, String, String)>,
}

fn when(model: &Model, at: DateTime<Utc>) -> String {
    model.local(at).format("%Y-%m-%d %H:%M").to_string()
}

/// The names of the resources among `ids`, in page order.
fn names(model: &Model, ids: &[Uuid]) -> String {
    model
        .all_resources()
        .filter(|r| ids.contains(&r.id))
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn incident_card(model: &Model, incident: &IncidentView) -> IncidentCard {
    IncidentCard {
        id: incident.id,
        name: incident.name.clone(),
        status: incident.status.as_str(),
        impact: incident.impact.as_str(),
        started: when(model, incident.started_at),
        resolved: incident.resolved_at.map(|at| when(model, at)),
        affected: names(model, &incident.resource_ids),
        updates: incident
            .updates
            .iter()
            .map(|u| (u.status.as_str(), u.body.clone(), when(model, u.at)))
            .collect(),
    }
}

struct MaintenanceRow {
    title: String,
    description: String,
    state: &'static str,
    from: String,
    to: String,
    affected: String,
}

#[derive(Template)]
#[template(path = "status/page.html")]
struct PageTemplate<'a> {
    frame: Frame<'a>,
    description: &'a str,
    stale: bool,
    updated: String,
    banner: &'static str,
    banner_class: &'static str,
    /// (title, body, since).
    announcements: Vec<(&'a str, &'a str, String)>,
    incidents: Vec<IncidentCard>,
    maintenance: Vec<MaintenanceRow>,
    rows: Vec<Row>,
    takes_email: bool,
    /// (public id, name) of each resource, to subscribe to some only.
    choices: Vec<(Uuid, &'a str)>,
}

/// The page itself.
pub(crate) fn page_html(model: &Model, stale: bool) -> Result<String, ApiError> {
    let under_maintenance = model
        .all_resources()
        .any(|r| r.condition == Condition::UnderMaintenance);
    let (banner, banner_class) = match model.indicator {
        super::model::Indicator::None if under_maintenance => ("Maintenance in progress", "ok"),
        indicator => (indicator.description(), indicator.class()),
    };
    let template = PageTemplate {
        frame: Frame::of(model),
        description: &model.page.description,
        stale,
        updated: format!("{} ({})", when(model, model.built_at), model.page.time_zone),
        banner,
        banner_class,
        announcements: model
            .announcements
            .iter()
            .map(|a| (a.title.as_str(), a.body.as_str(), when(model, a.starts_at)))
            .collect(),
        incidents: model
            .open_incidents()
            .map(|i| incident_card(model, i))
            .collect(),
        maintenance: model
            .maintenance
            .iter()
            .filter(|m| m.state != MaintenanceState::Completed)
            .map(|m| MaintenanceRow {
                title: m.title.clone(),
                description: m.description.clone(),
                state: m.state.words(),
                from: when(model, m.starts_at),
                to: when(model, m.ends_at),
                affected: names(model, &m.resource_ids),
            })
            .collect(),
        rows: model
            .resources
            .iter()
            .map(resource_row)
            .chain(model.groups.iter().map(group_row))
            .collect(),
        takes_email: model.page.takes_email,
        choices: model
            .all_resources()
            .map(|r| (r.id, r.name.as_str()))
            .collect(),
    };
    template
        .render()
        .map_err(|e| ApiError::Internal(format!("status page template: {e}")))
}

#[derive(Template)]
#[template(path = "status/incident.html")]
struct IncidentTemplate<'a> {
    frame: Frame<'a>,
    incident: IncidentCard,
}

/// One incident's page; `None` when the page does not show it.
pub(crate) fn incident_html(model: &Model, id: Uuid) -> Option<Result<String, ApiError>> {
    let incident = model.incidents.iter().find(|i| i.id == id)?;
    Some(
        IncidentTemplate {
            frame: Frame::of(model),
            incident: incident_card(model, incident),
        }
        .render()
        .map_err(|e| ApiError::Internal(format!("incident template: {e}"))),
    )
}

#[derive(Template)]
#[template(path = "status/history.html")]
struct HistoryTemplate<'a> {
    frame: Frame<'a>,
    /// ("November 2026", incidents newest first), newest month first.
    months: Vec<(String, Vec<IncidentCard>)>,
}

/// The incident history, by month.
pub(crate) fn history_html(model: &Model) -> Result<String, ApiError> {
    let mut months: Vec<(String, Vec<IncidentCard>)> = Vec::new();
    for incident in &model.incidents {
        let local = model.local(incident.started_at);
        let month = format!("{} {}", local.format("%B"), local.year());
        match months.last_mut() {
            Some((name, cards)) if *name == month => cards.push(incident_card(model, incident)),
            _ => months.push((month, vec![incident_card(model, incident)])),
        }
    }
    HistoryTemplate {
        frame: Frame::of(model),
        months,
    }
    .render()
    .map_err(|e| ApiError::Internal(format!("history template: {e}")))
}

#[derive(Template)]
#[template(path = "status/password.html")]
struct PasswordTemplate<'a> {
    frame: Frame<'a>,
    error: Option<&'a str>,
}

/// The form a private page asks its password with.
pub(crate) fn password_html(model: &Model, error: Option<&str>) -> Result<String, ApiError> {
    PasswordTemplate {
        frame: Frame::of(model),
        error,
    }
    .render()
    .map_err(|e| ApiError::Internal(format!("password template: {e}")))
}

/// A form of one button, posting hidden fields.
pub(crate) struct ButtonForm {
    pub action: String,
    pub fields: Vec<(&'static str, String)>,
    pub button: &'static str,
}

#[derive(Template)]
#[template(path = "status/message.html")]
struct MessageTemplate<'a> {
    frame: Frame<'a>,
    heading: &'a str,
    lines: &'a [String],
    secret: Option<&'a str>,
    form: Option<ButtonForm>,
}

/// A page that tells a visitor something (a subscription made, confirmed, ended, refused).
pub(crate) fn message_html(
    model: &Model,
    heading: &str,
    lines: &[String],
    secret: Option<&str>,
    form: Option<ButtonForm>,
) -> Result<String, ApiError> {
    MessageTemplate {
        frame: Frame::of(model),
        heading,
        lines,
        secret,
        form,
    }
    .render()
    .map_err(|e| ApiError::Internal(format!("message template: {e}")))
}
