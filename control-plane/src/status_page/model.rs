//! What a status page says, as plain data: the condition of each resource and group (and how
//! a group's follows its members'), the page's overall indicator, incidents with their public
//! state, maintenance and its state, and the 90 day cells with their uptime. Built by
//! `build.rs`, rendered by the HTML, JSON, feed and badge modules; nothing here touches a
//! database.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::api::incident_updates::PublicStatus;
use crate::api::status_page_layout::GroupRule;
use crate::api::status_pages::{FooterLink, Visibility};

/// The condition of a resource or group, in Statuspage's words, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Condition {
    Operational,
    UnderMaintenance,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
}

impl Condition {
    /// Statuspage's component `status`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Condition::Operational => "operational",
            Condition::UnderMaintenance => "under_maintenance",
            Condition::DegradedPerformance => "degraded_performance",
            Condition::PartialOutage => "partial_outage",
            Condition::MajorOutage => "major_outage",
        }
    }

    /// For people.
    pub(crate) fn words(self) -> &'static str {
        match self {
            Condition::Operational => "Operational",
            Condition::UnderMaintenance => "Under maintenance",
            Condition::DegradedPerformance => "Degraded performance",
            Condition::PartialOutage => "Partial outage",
            Condition::MajorOutage => "Major outage",
        }
    }

    /// The CSS class (and badge colour) of the condition.
    pub(crate) fn class(self) -> &'static str {
        match self {
            Condition::Operational => "ok",
            Condition::UnderMaintenance => "maint",
            Condition::DegradedPerformance => "degraded",
            Condition::PartialOutage => "partial",
            Condition::MajorOutage => "down",
        }
    }

    /// A monitor's condition from its status's kind.
    pub(crate) fn of_status(is_operational: bool, is_offline: bool) -> Condition {
        if is_offline {
            Condition::MajorOutage
        } else if is_operational {
            Condition::Operational
        } else {
            Condition::DegradedPerformance
        }
    }
}

/// How bad things are overall, in Statuspage's words (`status.indicator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Indicator {
    None,
    Minor,
    Major,
    Critical,
}

impl Indicator {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Indicator::None => "none",
            Indicator::Minor => "minor",
            Indicator::Major => "major",
            Indicator::Critical => "critical",
        }
    }

    /// `status.description`.
    pub(crate) fn description(self) -> &'static str {
        match self {
            Indicator::None => "All Systems Operational",
            Indicator::Minor => "Minor Service Outage",
            Indicator::Major => "Partial System Outage",
            Indicator::Critical => "Major System Outage",
        }
    }

    pub(crate) fn class(self) -> &'static str {
        match self {
            Indicator::None => "ok",
            Indicator::Minor => "degraded",
            Indicator::Major => "partial",
            Indicator::Critical => "down",
        }
    }
}

/// A group's condition from its members' by its rule. `Proportional` says offline only when
/// every member is, partly down when some are, degraded when any is less than operational;
/// `Worst` takes the worst member's.
pub(crate) fn group_condition(rule: GroupRule, members: &[Condition]) -> Condition {
    let Some(worst) = members.iter().copied().max() else {
        return Condition::Operational;
    };
    match rule {
        GroupRule::Worst => worst,
        GroupRule::Proportional => {
            let down = members
                .iter()
                .filter(|c| **c >= Condition::PartialOutage)
                .count();
            if members.iter().all(|c| *c == Condition::MajorOutage) {
                Condition::MajorOutage
            } else if down > 0 {
                Condition::PartialOutage
            } else if members.iter().all(|c| *c == Condition::UnderMaintenance) {
                Condition::UnderMaintenance
            } else if worst == Condition::DegradedPerformance {
                Condition::DegradedPerformance
            } else {
                Condition::Operational
            }
        }
    }
}

/// The page's indicator: from its resources (all down: critical; some down: major; any
/// degraded: minor) and the impact of its open incidents, whichever is worse.
pub(crate) fn indicator(resources: &[Condition], open_impacts: &[Impact]) -> Indicator {
    let from_resources =
        if !resources.is_empty() && resources.iter().all(|c| *c == Condition::MajorOutage) {
            Indicator::Critical
        } else if resources.iter().any(|c| *c >= Condition::PartialOutage) {
            Indicator::Major
        } else if resources.contains(&Condition::DegradedPerformance) {
            Indicator::Minor
        } else {
            Indicator::None
        };
    let from_incidents = open_impacts
        .iter()
        .map(|i| match i {
            Impact::Critical => Indicator::Critical,
            Impact::Major => Indicator::Major,
            Impact::Minor => Indicator::Minor,
        })
        .max()
        .unwrap_or(Indicator::None);
    from_resources.max(from_incidents)
}

/// An incident's impact (Statuspage's words), from its severity's rank in the project: the
/// first severity is critical, the second major, any other minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Impact {
    Minor,
    Major,
    Critical,
}

impl Impact {
    pub(crate) fn of_rank(rank: i64) -> Impact {
        match rank {
            0 => Impact::Critical,
            1 => Impact::Major,
            _ => Impact::Minor,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
        }
    }
}

/// One UTC day of a resource or group.
#[derive(Debug, Clone)]
pub(crate) struct Day {
    pub date: NaiveDate,
    pub observed_secs: i64,
    pub degraded_secs: i64,
    pub down_secs: i64,
    /// Incidents that were open during the day (number, title).
    pub incidents: Vec<(i64, String)>,
}

impl Day {
    pub(crate) fn empty(date: NaiveDate) -> Day {
        Day {
            date,
            observed_secs: 0,
            degraded_secs: 0,
            down_secs: 0,
            incidents: Vec::new(),
        }
    }

    /// The day's worst condition; `None` when nothing was observed.
    pub(crate) fn condition(&self) -> Option<Condition> {
        if self.observed_secs <= 0 {
            None
        } else if self.down_secs >= self.observed_secs {
            Some(Condition::MajorOutage)
        } else if self.down_secs > 0 {
            Some(Condition::PartialOutage)
        } else if self.degraded_secs > 0 {
            Some(Condition::DegradedPerformance)
        } else {
            Some(Condition::Operational)
        }
    }

    /// Share of the observed time not down.
    pub(crate) fn uptime(&self) -> Option<f64> {
        uptime(self.observed_secs, self.down_secs)
    }

    pub(crate) fn add(&mut self, other: &Day) {
        self.observed_secs += other.observed_secs;
        self.degraded_secs += other.degraded_secs;
        self.down_secs += other.down_secs;
    }
}

/// Share (0 to 1) of `observed` seconds that were not `down`; `None` when nothing was observed
/// (unknown, not 100 %).
pub(crate) fn uptime(observed: i64, down: i64) -> Option<f64> {
    (observed > 0).then(|| (observed - down.min(observed)) as f64 / observed as f64)
}

/// Uptime over the last 24 hours, 7, 30 and 90 days.
pub(crate) type Uptimes = [Option<f64>; 4];

/// Uptime of 7, 30 and 90 days from day cells (oldest first), with the 24 h figure given.
pub(crate) fn uptimes(days: &[Day], day_24h: Option<f64>) -> Uptimes {
    let last = |n: usize| {
        let tail = &days[days.len().saturating_sub(n)..];
        let observed = tail.iter().map(|d| d.observed_secs).sum();
        let down = tail.iter().map(|d| d.down_secs).sum();
        uptime(observed, down)
    };
    [day_24h, last(7), last(30), last(90)]
}

/// A monitor shown on the page.
#[derive(Debug, Clone)]
pub(crate) struct ResourceView {
    /// Stable across layout edits (derived from the page and the monitor), and telling
    /// nothing of the monitor.
    pub id: Uuid,
    pub monitor_id: Uuid,
    pub group_id: Option<Uuid>,
    pub name: String,
    pub description: String,
    pub condition: Condition,
    pub since: DateTime<Utc>,
    pub position: i32,
    pub days: Vec<Day>,
    pub uptime: Uptimes,
    /// Hourly mean response times of the last 24 hours, where the chart is shown.
    pub chart: Option<Vec<Option<f64>>>,
}

/// A group of resources.
#[derive(Debug, Clone)]
pub(crate) struct GroupView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub condition: Condition,
    pub days: Vec<Day>,
    pub uptime: Uptimes,
    pub resources: Vec<ResourceView>,
}

/// An update the public reads.
#[derive(Debug, Clone)]
pub(crate) struct UpdateView {
    pub id: Uuid,
    pub status: PublicStatus,
    pub body: String,
    pub at: DateTime<Utc>,
}

/// An incident that touches the page's resources.
#[derive(Debug, Clone)]
pub(crate) struct IncidentView {
    pub id: Uuid,
    pub number: i64,
    pub name: String,
    pub status: PublicStatus,
    pub impact: Impact,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub monitoring_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Newest first.
    pub updates: Vec<UpdateView>,
    /// The page's resources it affects.
    pub resource_ids: Vec<Uuid>,
}

impl IncidentView {
    pub(crate) fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }
}

/// A maintenance's state, in Statuspage's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MaintenanceState {
    Scheduled,
    InProgress,
    Completed,
}

impl MaintenanceState {
    pub(crate) fn at(now: DateTime<Utc>, starts: DateTime<Utc>, ends: DateTime<Utc>) -> Self {
        if now < starts {
            MaintenanceState::Scheduled
        } else if now < ends {
            MaintenanceState::InProgress
        } else {
            MaintenanceState::Completed
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MaintenanceState::Scheduled => "scheduled",
            MaintenanceState::InProgress => "in_progress",
            MaintenanceState::Completed => "completed",
        }
    }

    pub(crate) fn words(self) -> &'static str {
        match self {
            MaintenanceState::Scheduled => "Scheduled",
            MaintenanceState::InProgress => "In progress",
            MaintenanceState::Completed => "Completed",
        }
    }
}

/// Maintenance of the page's resources.
#[derive(Debug, Clone)]
pub(crate) struct MaintenanceView {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub state: MaintenanceState,
    pub resource_ids: Vec<Uuid>,
}

/// An announcement showing now.
#[derive(Debug, Clone)]
pub(crate) struct AnnouncementView {
    pub title: String,
    pub body: String,
    pub starts_at: DateTime<Utc>,
}

/// A page's settings, as the public side needs them.
#[derive(Debug, Clone)]
pub(crate) struct PageInfo {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub brand_color: String,
    pub footer_links: Vec<FooterLink>,
    pub time_zone: String,
    /// The time zone's offset when the snapshot was built (times are shown with it).
    pub offset: FixedOffset,
    pub noindex: bool,
    pub visibility: Visibility,
    pub password_hash: Option<String>,
    pub has_logo: bool,
    /// Whether people can subscribe by email (the page has a channel to send with).
    pub takes_email: bool,
    pub updated_at: DateTime<Utc>,
}

/// Everything a page shows, at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub page: PageInfo,
    pub built_at: DateTime<Utc>,
    pub indicator: Indicator,
    /// Outside any group, in order.
    pub resources: Vec<ResourceView>,
    pub groups: Vec<GroupView>,
    /// Newest first: open ones and those of the last 90 days.
    pub incidents: Vec<IncidentView>,
    /// Upcoming and in progress first (soonest first), then completed (latest first).
    pub maintenance: Vec<MaintenanceView>,
    pub announcements: Vec<AnnouncementView>,
}

impl Model {
    /// Every resource, grouped or not, in page order.
    pub(crate) fn all_resources(&self) -> impl Iterator<Item = &ResourceView> {
        self.resources
            .iter()
            .chain(self.groups.iter().flat_map(|g| g.resources.iter()))
    }

    pub(crate) fn open_incidents(&self) -> impl Iterator<Item = &IncidentView> {
        self.incidents.iter().filter(|i| i.is_open())
    }

    /// The time shown to readers, in the page's zone.
    pub(crate) fn local(&self, at: DateTime<Utc>) -> DateTime<FixedOffset> {
        at.with_timezone(&self.page.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Condition::*;

    #[test]
    fn a_group_is_offline_only_when_every_member_is() {
        let rule = GroupRule::Proportional;
        assert_eq!(
            group_condition(rule, &[Operational, MajorOutage]),
            PartialOutage
        );
        assert_eq!(
            group_condition(rule, &[MajorOutage, MajorOutage]),
            MajorOutage
        );
        assert_eq!(
            group_condition(rule, &[Operational, DegradedPerformance]),
            DegradedPerformance
        );
        assert_eq!(
            group_condition(rule, &[Operational, UnderMaintenance]),
            Operational
        );
        assert_eq!(group_condition(rule, &[]), Operational);
        assert_eq!(
            group_condition(GroupRule::Worst, &[Operational, MajorOutage]),
            MajorOutage
        );
    }

    #[test]
    fn the_indicator_takes_the_worse_of_resources_and_open_incidents() {
        assert_eq!(indicator(&[Operational, Operational], &[]), Indicator::None);
        assert_eq!(
            indicator(&[Operational, DegradedPerformance], &[]),
            Indicator::Minor
        );
        assert_eq!(
            indicator(&[Operational, MajorOutage], &[]),
            Indicator::Major
        );
        assert_eq!(
            indicator(&[MajorOutage, MajorOutage], &[]),
            Indicator::Critical
        );
        assert_eq!(
            indicator(&[Operational], &[Impact::Major]),
            Indicator::Major
        );
    }

    #[test]
    fn days_say_their_worst_and_unknown_is_not_perfect() {
        let mut day = Day::empty(NaiveDate::default());
        assert_eq!(day.condition(), None);
        assert_eq!(day.uptime(), None);
        day.observed_secs = 86_400;
        day.down_secs = 864;
        assert_eq!(day.condition(), Some(PartialOutage));
        assert_eq!(day.uptime(), Some(0.99));
        let mut days = vec![Day::empty(NaiveDate::default()); 89];
        days.push(day);
        let u = uptimes(&days, Some(1.0));
        assert_eq!(u[0], Some(1.0));
        assert_eq!(u[1], Some(0.99));
        assert_eq!(u[3], Some(0.99));
    }
}
