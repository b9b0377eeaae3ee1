//! "Getting data in": copy-ready snippets for every way into Vigil — the OpenTelemetry
//! Collector, the OTel SDKs' environment variables, Fluent Bit, Fluentd, the server agent and
//! heartbeats — with the addresses this deployment gives clients, and when each signal last
//! arrived. Ingestion keys are stored hashed, so a snippet carries a key's secret only on the
//! answer that creates it (admins: "create a key for these snippets"); otherwise it names the
//! key by its hint for the person to paste.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::monitor_detail::when;
use super::pages::{SignedIn, check_csrf, error_page, page};
use super::project_nav::ProjectNav;
use crate::access::SessionUser;
use crate::api::keys::{ingestion_keys, new_ingestion_key};
use crate::api::telemetry::last_received_of;
use crate::api::{AppState, PageQuery};
use crate::error::ApiError;

#[derive(Template)]
#[template(path = "getting_data_in.html")]
struct DataInPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    nav: ProjectNav,
    csrf: String,
    /// The key the snippets carry: a fresh secret, or a placeholder naming a key's hint.
    key: String,
    fresh: bool,
    grpc: String,
    http: String,
    forward_host: String,
    forward_port: String,
    /// `(signal, when or "nothing in the last hour")`.
    last: Vec<(&'static str, String)>,
}

async fn data_in_page(
    state: &AppState,
    user: &SessionUser,
    project_id: Uuid,
    status: StatusCode,
    fresh_key: Option<String>,
) -> Result<Response, ApiError> {
    let caller = user.caller();
    let nav = ProjectNav::of(state, user, project_id, "/getting-data-in").await?;
    let key = match &fresh_key {
        Some(secret) => secret.clone(),
        None => {
            // Viewers may not see the keys: their snippets name none.
            let listed =
                ingestion_keys(&state.pool, &caller, project_id, &PageQuery::default()).await;
            let keys = match listed {
                Ok(keys) => keys.items,
                Err(ApiError::Forbidden(_)) => Vec::new(),
                Err(e) => return Err(e),
            };
            keys.iter().find(|k| k.revoked_at.is_none()).map_or_else(
                || "<an ingestion key>".to_owned(),
                |k| format!("<the key {}…>", k.hint),
            )
        }
    };
    let last = last_received_of(state, &caller, project_id)
        .await?
        .into_iter()
        .map(|l| {
            (
                l.signal,
                l.at.map_or_else(|| "nothing in the last hour".to_owned(), when),
            )
        })
        .collect();
    let config = &state.config;
    let (forward_host, forward_port) = config
        .public_ingest_forward_addr
        .rsplit_once(':')
        .map_or_else(
            || {
                (
                    config.public_ingest_forward_addr.clone(),
                    "24224".to_owned(),
                )
            },
            |(h, p)| (h.to_owned(), p.to_owned()),
        );
    Ok(page(
        status,
        &DataInPage {
            user: Some(user),
            error: None,
            csrf: user.csrf_token.clone(),
            fresh: fresh_key.is_some(),
            key,
            grpc: config.public_ingest_grpc_url.clone(),
            http: config.public_ingest_http_url.clone(),
            forward_host,
            forward_port,
            last,
            nav,
        },
    ))
}

pub(super) async fn show(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
) -> Response {
    data_in_page(&state, &user, project_id, StatusCode::OK, None)
        .await
        .unwrap_or_else(|e| error_page(Some(&user), &e))
}

#[derive(Deserialize)]
pub(super) struct KeyForm {
    csrf_token: String,
}

/// Creates a key named for the snippets and shows them carrying it.
pub(super) async fn create_key(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Path(project_id): Path<Uuid>,
    Form(form): Form<KeyForm>,
) -> Response {
    let shown = async {
        check_csrf(&user, &form.csrf_token)?;
        let name = format!("snippets {}", chrono::Utc::now().format("%Y-%m-%d %H:%M"));
        let created = new_ingestion_key(&state.pool, &user.caller(), project_id, &name).await?;
        data_in_page(
            &state,
            &user,
            project_id,
            StatusCode::CREATED,
            Some(created.secret),
        )
        .await
    };
    shown
        .await
        .unwrap_or_else(|e: ApiError| error_page(Some(&user), &e))
}
