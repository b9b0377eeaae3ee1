//! Criteria evaluation over a batch, in memory: each result gets the status its monitor's
//! criteria give it, and a monitor whose matching criterion changes yields a [`Change`] — with
//! probe agreement (a change needs `min_probe_agreement` probes whose latest results agree).
//! Results older than the monitor's last evaluated one (a replay, or a late probe) are stored
//! but change nothing, so a redelivered entry cannot move a monitor back in time. Pushes are
//! compared with the last push instead: a heartbeat still in the stream when the worker judged
//! its monitor "missing" is news, not a replay, and brings the monitor back.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::entry::MonitorResult;
use crate::monitor::criteria::{Criterion, first_match};

/// What the worker knows of one monitor while it evaluates a batch.
#[derive(Debug, Clone)]
pub(crate) struct MonitorState {
    pub project_id: Uuid,
    pub name: String,
    pub enabled: bool,
    pub criteria: Arc<Vec<Criterion>>,
    pub default_status_id: Uuid,
    pub current_status_id: Uuid,
    /// The criterion (by name) the monitor is in; `None`: the default status.
    pub current_criterion: Option<String>,
    pub last_result_at: Option<DateTime<Utc>>,
    pub last_push_at: Option<DateTime<Utc>>,
    pub min_probe_agreement: i32,
    /// Latest decision of each assigned probe (criterion name, or `None` for no match), for
    /// agreement; only kept when `min_probe_agreement > 1`.
    pub probes: HashMap<Uuid, Option<String>>,
    /// The probes assigned to the monitor (read when the batch has probe results): a result
    /// from any other probe is not the monitor's and is dropped.
    pub assigned: HashSet<Uuid>,
}

/// A monitor moving to another criterion (or back to its default status).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change {
    pub at: DateTime<Utc>,
    pub from_status: Uuid,
    pub to_status: Uuid,
    pub criterion: Option<String>,
    /// Made by a push (compared with `last_push_at` when applied).
    pub push: bool,
    /// What the result that made the change says (an opened incident carries it).
    pub cause: String,
}

/// How one result was judged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    pub status_id: Uuid,
    /// The index of the criterion met, in the monitor's list.
    pub criterion: Option<usize>,
    /// Whether the result was the monitor's newest so far (older ones change nothing).
    pub current: bool,
}

impl MonitorState {
    fn status_of(&self, criterion: Option<&str>) -> Uuid {
        criterion
            .and_then(|name| self.criteria.iter().find(|c| c.name == name))
            .map_or(self.default_status_id, |c| c.status_id)
    }

    /// Judges `result` and moves the state on; a [`Change`] when the monitor's criterion
    /// changes.
    pub(crate) fn evaluate(&mut self, result: &MonitorResult) -> (Verdict, Option<Change>) {
        let index = first_match(&self.criteria, &result.observation);
        let status_id = index.map_or(self.default_status_id, |i| self.criteria[i].status_id);
        let push = result.source.is_push();
        let last = if push {
            self.last_push_at
        } else {
            self.last_result_at
        };
        let current = last.is_none_or(|last| result.at > last);
        let verdict = Verdict {
            status_id,
            criterion: index,
            current,
        };
        if !current {
            return (verdict, None);
        }
        self.last_result_at = Some(self.last_result_at.map_or(result.at, |l| l.max(result.at)));
        if push {
            self.last_push_at = Some(result.at);
        }
        let name = index.map(|i| self.criteria[i].name.clone());
        let decided = match (self.min_probe_agreement > 1, result.probe_id) {
            (true, Some(probe)) => {
                self.probes.insert(probe, name.clone());
                let agreeing = self.probes.values().filter(|v| **v == name).count();
                (agreeing >= self.min_probe_agreement as usize).then_some(name)
            }
            _ => Some(name),
        };
        let change = match decided {
            Some(name) if name != self.current_criterion => {
                let to_status = self.status_of(name.as_deref());
                let change = Change {
                    at: result.at,
                    from_status: self.current_status_id,
                    to_status,
                    criterion: name.clone(),
                    push,
                    // A telemetry monitor says what it measured (and links the query).
                    cause: result.detail["cause"].as_str().map_or_else(
                        || {
                            result
                                .observation
                                .cause(result.detail["failed_phase"].as_str())
                        },
                        str::to_owned,
                    ),
                };
                self.current_criterion = name;
                self.current_status_id = to_status;
                Some(change)
            }
            _ => None,
        };
        (verdict, change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::criteria::{Check, Filter, Matching, Op};
    use crate::monitor::observation::Observation;
    use crate::worker::entry::Source;

    fn state(agreement: i32) -> MonitorState {
        let offline = Uuid::from_u128(2);
        MonitorState {
            project_id: Uuid::from_u128(9),
            name: "m".into(),
            enabled: true,
            criteria: Arc::new(vec![Criterion {
                name: "Offline".into(),
                matching: Matching::Any,
                filters: vec![Filter {
                    check: Check::IsOnline,
                    op: Op::IsFalse,
                    value: None,
                }],
                status_id: offline,
                incident: None,
            }]),
            default_status_id: Uuid::from_u128(1),
            current_status_id: Uuid::from_u128(1),
            current_criterion: None,
            last_result_at: None,
            last_push_at: None,
            min_probe_agreement: agreement,
            probes: HashMap::new(),
            assigned: HashSet::new(),
        }
    }

    fn result(secs: i64, online: bool, probe: u128) -> MonitorResult {
        MonitorResult {
            event_id: format!("e{secs}"),
            project_id: Uuid::from_u128(9),
            monitor_id: Uuid::from_u128(5),
            probe_id: Some(Uuid::from_u128(probe)),
            at: DateTime::from_timestamp(secs, 0).unwrap(),
            source: Source::Probe,
            observation: Observation {
                is_online: online,
                ..Observation::default()
            },
            detail: serde_json::json!({}),
        }
    }

    #[test]
    fn changes_happen_once_and_stale_results_change_nothing() {
        let mut s = state(1);
        assert_eq!(s.evaluate(&result(10, true, 1)).1, None);
        let (v, change) = s.evaluate(&result(20, false, 1));
        assert_eq!(v.criterion, Some(0));
        let change = change.unwrap();
        assert_eq!(
            (change.from_status, change.to_status),
            (Uuid::from_u128(1), Uuid::from_u128(2))
        );
        assert_eq!(change.criterion.as_deref(), Some("Offline"));
        // Still down: no new change.
        assert_eq!(s.evaluate(&result(30, false, 1)).1, None);
        // A replay of an older "up" result: judged, not applied.
        let (v, change) = s.evaluate(&result(10, true, 1));
        assert!(!v.current && change.is_none());
        assert_eq!(s.current_status_id, Uuid::from_u128(2));
        let change = s.evaluate(&result(40, true, 1)).1.unwrap();
        assert_eq!(change.criterion, None);
        assert_eq!(change.to_status, Uuid::from_u128(1));
    }

    #[test]
    fn agreement_needs_enough_probes() {
        let mut s = state(2);
        assert_eq!(s.evaluate(&result(10, false, 1)).1, None);
        // Probe 2 says up: no agreement on down.
        assert_eq!(s.evaluate(&result(11, true, 2)).1, None);
        let change = s.evaluate(&result(12, false, 2)).1.unwrap();
        assert_eq!(change.to_status, Uuid::from_u128(2));
    }
}
