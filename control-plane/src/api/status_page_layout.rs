//! What a status page shows: its groups and resources (monitors under public names), in
//! order, read and replaced whole. Members change it; viewers read it.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::owned::{check_owned, require_row};
use super::status_page_checks::check_text;
use super::{AppState, Body, check_name};
use crate::access::{Caller, Role};
use crate::error::{ApiError, ErrorBody};

/// Most groups on a page.
pub(crate) const MAX_GROUPS: usize = 50;
/// Most resources on a page.
pub(crate) const MAX_RESOURCES: usize = 500;

/// How a group's status follows its members'.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum GroupRule {
    /// Offline only when every member is; partly down when some are.
    #[default]
    Proportional,
    /// The worst member's status.
    Worst,
}

impl GroupRule {
    fn as_str(self) -> &'static str {
        match self {
            GroupRule::Proportional => "proportional",
            GroupRule::Worst => "worst",
        }
    }

    pub(crate) fn parse(s: &str) -> GroupRule {
        if s == "worst" {
            GroupRule::Worst
        } else {
            GroupRule::Proportional
        }
    }
}

/// A monitor shown on a page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Resource {
    pub monitor_id: Uuid,
    /// What the public reads; the monitor's name when absent.
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Shows its response-time chart.
    #[serde(default)]
    pub show_chart: bool,
}

/// A group of resources.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Group {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub rule: GroupRule,
    pub resources: Vec<Resource>,
}

/// What a page shows, in order: resources outside any group first, then each group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Layout {
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub groups: Vec<Group>,
}

/// A page's layout.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/status-pages/{page_id}/layout",
    tag = "status pages", params(("project_id" = Uuid, Path), ("page_id" = Uuid, Path)),
    responses((status = 200, body = Layout), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_layout(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, page_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<Layout>, ApiError> {
    Ok(Json(
        layout_of(&state.pool, &caller, project_id, page_id).await?,
    ))
}

/// A page's layout (members and viewers).
pub(crate) async fn layout_of(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page_id: Uuid,
) -> Result<Layout, ApiError> {
    caller.role_in(pool, project_id).await?;
    require_row(
        pool,
        "status_pages",
        project_id,
        page_id,
        "status page",
        false,
    )
    .await?;
    let groups: Vec<(Uuid, String, String, String)> = sqlx::query_as(
        "SELECT id, name, description, rule FROM status_page_groups \
         WHERE page_id = $1 ORDER BY position",
    )
    .bind(page_id)
    .fetch_all(pool)
    .await?;
    let resources: Vec<(Option<Uuid>, Uuid, String, String, bool)> = sqlx::query_as(
        "SELECT group_id, monitor_id, display_name, description, show_chart \
         FROM status_page_resources WHERE page_id = $1 ORDER BY position",
    )
    .bind(page_id)
    .fetch_all(pool)
    .await?;
    let of = |group: Option<Uuid>| {
        resources
            .iter()
            .filter(|r| r.0 == group)
            .map(|r| Resource {
                monitor_id: r.1,
                display_name: Some(r.2.clone()),
                description: r.3.clone(),
                show_chart: r.4,
            })
            .collect::<Vec<_>>()
    };
    Ok(Layout {
        resources: of(None),
        groups: groups
            .iter()
            .map(|(id, name, description, rule)| Group {
                name: name.clone(),
                description: description.clone(),
                rule: GroupRule::parse(rule),
                resources: of(Some(*id)),
            })
            .collect(),
    })
}

/// Replaces a page's layout.
#[utoipa::path(put, path = "/api/v1/projects/{project_id}/status-pages/{page_id}/layout",
    tag = "status pages", params(("project_id" = Uuid, Path), ("page_id" = Uuid, Path)),
    request_body = Layout,
    responses((status = 200, body = Layout), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn put_layout(
    State(state): State<AppState>,
    caller: Caller,
    Path((project_id, page_id)): Path<(Uuid, Uuid)>,
    Body(layout): Body<Layout>,
) -> Result<Json<Layout>, ApiError> {
    set_layout(&state.pool, &caller, project_id, page_id, layout).await?;
    Ok(Json(
        layout_of(&state.pool, &caller, project_id, page_id).await?,
    ))
}

/// Replaces a page's layout (members), all of it or nothing: groups and resources are
/// checked (names, lengths, the monitors are the project's, each shown once) first.
pub(crate) async fn set_layout(
    pool: &sqlx::PgPool,
    caller: &Caller,
    project_id: Uuid,
    page_id: Uuid,
    layout: Layout,
) -> Result<(), ApiError> {
    caller.require_in(pool, project_id, Role::Member).await?;
    if layout.groups.len() > MAX_GROUPS {
        return Err(ApiError::BadRequest(format!(
            "a page has at most {MAX_GROUPS} groups"
        )));
    }
    let all: Vec<&Resource> = layout
        .resources
        .iter()
        .chain(layout.groups.iter().flat_map(|g| &g.resources))
        .collect();
    if all.len() > MAX_RESOURCES {
        return Err(ApiError::BadRequest(format!(
            "a page shows at most {MAX_RESOURCES} resources"
        )));
    }
    let mut ids: Vec<Uuid> = all.iter().map(|r| r.monitor_id).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(ApiError::BadRequest(
            "a monitor is shown at most once on a page".into(),
        ));
    }
    for group in &layout.groups {
        check_name(&group.name)?;
        check_text("a group description", &group.description, 1000)?;
    }
    for resource in &all {
        if let Some(name) = &resource.display_name {
            check_name(name)?;
        }
        check_text("a resource description", &resource.description, 1000)?;
    }
    let mut tx = pool.begin().await?;
    require_row(
        &mut *tx,
        "status_pages",
        project_id,
        page_id,
        "status page",
        true,
    )
    .await?;
    check_owned(&mut tx, "monitors", project_id, &ids).await?;
    sqlx::query("DELETE FROM status_page_groups WHERE page_id = $1")
        .bind(page_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM status_page_resources WHERE page_id = $1")
        .bind(page_id)
        .execute(&mut *tx)
        .await?;
    let mut position = 0;
    for resource in &layout.resources {
        position += 1;
        place(&mut tx, page_id, project_id, None, resource, position).await?;
    }
    for (index, group) in layout.groups.iter().enumerate() {
        let group_id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO status_page_groups (id, page_id, project_id, name, description, rule, \
             position) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(group_id)
        .bind(page_id)
        .bind(project_id)
        .bind(group.name.trim())
        .bind(group.description.trim())
        .bind(group.rule.as_str())
        .bind(index as i32)
        .execute(&mut *tx)
        .await?;
        for resource in &group.resources {
            position += 1;
            place(
                &mut tx,
                page_id,
                project_id,
                Some(group_id),
                resource,
                position,
            )
            .await?;
        }
    }
    sqlx::query("UPDATE status_pages SET updated_at = now() WHERE id = $1")
        .bind(page_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Puts a resource on a page at `position`, named after its monitor unless it has a name.
async fn place(
    tx: &mut PgConnection,
    page_id: Uuid,
    project_id: Uuid,
    group: Option<Uuid>,
    resource: &Resource,
    position: i32,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO status_page_resources (id, page_id, project_id, group_id, monitor_id, \
         display_name, description, show_chart, position) \
         SELECT $1, $2, $3, $4, m.id, COALESCE($6, m.name), $7, $8, $9 \
         FROM monitors m WHERE m.id = $5",
    )
    .bind(Uuid::new_v4())
    .bind(page_id)
    .bind(project_id)
    .bind(group)
    .bind(resource.monitor_id)
    .bind(resource.display_name.as_deref().map(str::trim))
    .bind(resource.description.trim())
    .bind(resource.show_chart)
    .bind(position)
    .execute(tx)
    .await?;
    Ok(())
}

/// This resource's routes, each with its OpenAPI operation (from `#[utoipa::path]`).
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_layout, put_layout))
}
