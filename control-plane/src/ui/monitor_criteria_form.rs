//! The criteria editor of the monitor form: ordered criteria, All/Any, filters, the status and
//! incident of each — as typed (kept to show the form again), read from posted fields and
//! turned into the API's `Criterion`s. Without JavaScript a form cannot grow rows, so it always
//! shows the criteria there are plus one blank, and each criterion its filters plus two blank
//! rows; blank rows are ignored.

use uuid::Uuid;

use crate::error::ApiError;
use crate::monitor::criteria::{
    Check, Criterion, Filter, FilterValue, IncidentTemplate, Matching, Op, from_wire_name,
    wire_name,
};

/// Criteria a form carries at most (the API's own bound).
const MAX_CRITERIA: usize = crate::monitor::criteria::MAX_CRITERIA;
/// Filters per criterion a form carries at most.
const MAX_FILTERS: usize = crate::monitor::criteria::MAX_FILTERS;

/// One filter row as typed.
#[derive(Debug, Clone, Default)]
pub(super) struct FilterDraft {
    pub(super) check: String,
    pub(super) op: String,
    pub(super) value: String,
}

/// One criterion as typed.
#[derive(Debug, Clone, Default)]
pub(super) struct CriterionDraft {
    pub(super) name: String,
    pub(super) any: bool,
    pub(super) status: String,
    pub(super) incident: bool,
    pub(super) incident_title: String,
    pub(super) severity: String,
    pub(super) auto_resolve: bool,
    pub(super) filters: Vec<FilterDraft>,
}

impl CriterionDraft {
    /// The form of a stored criterion.
    pub(super) fn of(c: &Criterion) -> Self {
        Self {
            name: c.name.clone(),
            any: c.matching == Matching::Any,
            status: c.status_id.to_string(),
            incident: c.incident.is_some(),
            incident_title: c
                .incident
                .as_ref()
                .map(|i| i.title.clone())
                .unwrap_or_default(),
            severity: c
                .incident
                .as_ref()
                .map(|i| i.severity_id.to_string())
                .unwrap_or_default(),
            auto_resolve: c.incident.as_ref().is_none_or(|i| i.auto_resolve),
            filters: c
                .filters
                .iter()
                .map(|f| FilterDraft {
                    check: wire_name(f.check),
                    op: wire_name(f.op),
                    value: match &f.value {
                        Some(FilterValue::Number(n)) => n.to_string(),
                        Some(FilterValue::Text(t)) => t.clone(),
                        None => String::new(),
                    },
                })
                .collect(),
        }
    }

    fn is_blank(&self) -> bool {
        self.name.trim().is_empty() && self.filters.iter().all(|f| f.check.is_empty())
    }
}

/// One posted criteria field (`c<i>.<field>`, `c<i>.f<j>.<field>`) into `criteria`.
pub(super) fn criterion_field(criteria: &mut Vec<CriterionDraft>, key: &str, value: String) {
    let Some(rest) = key.strip_prefix('c') else {
        return;
    };
    let Some((index, field)) = rest.split_once('.') else {
        return;
    };
    let Ok(i) = index.parse::<usize>() else {
        return;
    };
    // Bounded: a forged form cannot make the server build thousands of rows.
    if i > MAX_CRITERIA {
        return;
    }
    if criteria.len() <= i {
        criteria.resize_with(i + 1, CriterionDraft::default);
    }
    let c = &mut criteria[i];
    match field {
        "name" => c.name = value,
        "match" => c.any = value == "any",
        "status" => c.status = value,
        "incident" => c.incident = true,
        "incident_title" => c.incident_title = value,
        "severity" => c.severity = value,
        "auto_resolve" => c.auto_resolve = true,
        other => {
            let Some((j, part)) = other.strip_prefix('f').and_then(|r| r.split_once('.')) else {
                return;
            };
            let Ok(j) = j.parse::<usize>() else {
                return;
            };
            if j > MAX_FILTERS + 2 {
                return;
            }
            if c.filters.len() <= j {
                c.filters.resize_with(j + 1, FilterDraft::default);
            }
            let f = &mut c.filters[j];
            match part {
                "check" => f.check = value,
                "op" => f.op = value,
                "value" => f.value = value,
                _ => {}
            }
        }
    }
}

pub(super) fn with_blank_rows(mut criteria: Vec<CriterionDraft>) -> Vec<CriterionDraft> {
    criteria.retain(|c| !c.is_blank());
    if criteria.len() < MAX_CRITERIA {
        criteria.push(CriterionDraft {
            auto_resolve: true,
            ..CriterionDraft::default()
        });
    }
    for c in &mut criteria {
        c.filters.retain(|f| !f.check.is_empty());
        let room = MAX_FILTERS.saturating_sub(c.filters.len()).min(2);
        c.filters
            .extend(std::iter::repeat_with(FilterDraft::default).take(room));
    }
    criteria
}

/// The criteria the form describes, in the order shown; blank rows are left out.
pub(super) fn criteria_of(drafts: &[CriterionDraft]) -> Result<Vec<Criterion>, ApiError> {
    let mut criteria = Vec::new();
    for (i, c) in drafts.iter().enumerate() {
        if c.is_blank() {
            continue;
        }
        let bad = |why: &str| ApiError::BadRequest(format!("criterion {i}: {why}"));
        let status_id = c
            .status
            .parse::<Uuid>()
            .map_err(|_| bad("choose the status it sets"))?;
        let mut filters = Vec::new();
        for f in c.filters.iter().filter(|f| !f.check.is_empty()) {
            let check: Check =
                from_wire_name(&f.check).ok_or_else(|| bad("a filter's check is unknown"))?;
            let op: Op = from_wire_name(&f.op).ok_or_else(|| bad("a filter's op is unknown"))?;
            let value = match op {
                Op::IsTrue | Op::IsFalse => None,
                _ if check.is_numeric() => Some(FilterValue::Number(
                    f.value
                        .trim()
                        .parse()
                        .map_err(|_| bad("this filter compares with a number"))?,
                )),
                _ => Some(FilterValue::Text(f.value.clone())),
            };
            filters.push(Filter { check, op, value });
        }
        let incident = if c.incident {
            Some(IncidentTemplate {
                title: c.incident_title.clone(),
                description: String::new(),
                severity_id: c
                    .severity
                    .parse()
                    .map_err(|_| bad("choose the incident's severity"))?,
                auto_resolve: c.auto_resolve,
            })
        } else {
            None
        };
        criteria.push(Criterion {
            name: c.name.clone(),
            matching: if c.any { Matching::Any } else { Matching::All },
            filters,
            status_id,
            incident,
        });
    }
    Ok(criteria)
}

/// The checks and operators the editor offers: `(wire name, label)`.
pub(super) fn checks() -> Vec<(String, String)> {
    Check::ALL
        .iter()
        .map(|c| {
            let name = wire_name(c);
            (name.clone(), name.replace('_', " "))
        })
        .collect()
}

pub(super) fn ops() -> Vec<(String, &'static str)> {
    Op::ALL
        .iter()
        .map(|o| {
            let label = match o {
                Op::Eq => "=",
                Op::Ne => "≠",
                Op::Gt => ">",
                Op::Gte => "≥",
                Op::Lt => "<",
                Op::Lte => "≤",
                Op::Contains => "contains",
                Op::NotContains => "does not contain",
                Op::StartsWith => "starts with",
                Op::EndsWith => "ends with",
                Op::IsTrue => "is true",
                Op::IsFalse => "is false",
            };
            (wire_name(o), label)
        })
        .collect()
}
