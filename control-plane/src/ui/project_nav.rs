//! The header every page of a project shares: the project's name, its sections (the current
//! one marked for screen readers too), and a switcher to the person's other projects, a plain
//! GET form so it works without JavaScript.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{SignedIn, error_page};
use crate::access::{Role, SessionUser};
use crate::api::projects::{project_of, projects_of};
use crate::api::{AppState, PageQuery};
use crate::error::ApiError;

/// A project's sections: `(path after /projects/<id>, label)`.
const SECTIONS: [(&str, &str); 15] = [
    ("", "Monitors"),
    ("/incidents", "Incidents"),
    ("/logs", "Logs"),
    ("/traces", "Traces"),
    ("/metrics", "Metrics"),
    ("/exceptions", "Exceptions"),
    ("/maintenance", "Maintenance"),
    ("/status-pages", "Status pages"),
    ("/probes", "Probes"),
    ("/channels", "Notifications"),
    ("/getting-data-in", "Getting data in"),
    ("/members", "Members"),
    ("/keys", "Ingestion keys"),
    ("/api-keys", "API keys"),
    ("/settings", "Statuses"),
];

/// Sections the API shows to members and admins only, and to admins only.
const MEMBERS_ONLY: [&str; 2] = ["/keys", "/channels"];
const ADMINS_ONLY: [&str; 1] = ["/api-keys"];

/// What the header shows.
pub(super) struct ProjectNav {
    pub(super) id: Uuid,
    pub(super) name: String,
    /// The viewer's role: pages show write controls by it (the server checks anyway).
    pub(super) role: Role,
    /// `(href, label, current)`.
    pub(super) sections: Vec<(String, &'static str, bool)>,
    /// The viewer's projects: `(id, name, current)`.
    pub(super) projects: Vec<(Uuid, String, bool)>,
}

impl ProjectNav {
    /// The header of `project_id`'s `section` (one of the paths above) for `user`; refuses
    /// anyone not in the project, as the API does.
    pub(super) async fn of(
        state: &AppState,
        user: &SessionUser,
        project_id: Uuid,
        section: &str,
    ) -> Result<Self, ApiError> {
        let project = project_of(&state.pool, &user.caller(), project_id).await?;
        let mine = projects_of(&state.pool, user.id, &PageQuery::first(200)).await?;
        Ok(Self {
            id: project_id,
            name: project.name,
            role: project.role,
            sections: SECTIONS
                .iter()
                .filter(|(path, _)| !MEMBERS_ONLY.contains(path) || project.role >= Role::Member)
                .filter(|(path, _)| !ADMINS_ONLY.contains(path) || project.role >= Role::Admin)
                .map(|(path, label)| {
                    (
                        format!("/projects/{project_id}{path}"),
                        *label,
                        *path == section,
                    )
                })
                .collect(),
            projects: mine
                .items
                .into_iter()
                .map(|p| (p.id, p.name, p.id == project_id))
                .collect(),
        })
    }

    /// Members and admins write; viewers only read.
    pub(super) fn can_write(&self) -> bool {
        self.role >= Role::Member
    }

    pub(super) fn is_admin(&self) -> bool {
        self.role >= Role::Admin
    }
}

#[derive(Deserialize)]
pub(super) struct Switch {
    project: Uuid,
}

/// `/projects/switch?project=<id>`: the switcher's target.
pub(super) async fn switch(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Query(to): Query<Switch>,
) -> Response {
    match project_of(&state.pool, &user.caller(), to.project).await {
        Ok(_) => Redirect::to(&format!("/projects/{}", to.project)).into_response(),
        Err(e) => error_page(Some(&user), &e),
    }
}
