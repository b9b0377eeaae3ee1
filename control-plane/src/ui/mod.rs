//! The operator UI: server-rendered pages on the API's origin, with its sessions. Templates
//! (`templates/`, askama) are checked at compile time and escape every value; forms post and
//! redirect, so every page works without JavaScript; handlers call the same domain functions
//! as the API's. Every page carries a strict Content-Security-Policy (no script, no inline
//! style, nothing from another origin) and may not be framed.

mod accounts;
mod api_keys;
pub(crate) mod assets;
mod channels;
mod exceptions;
mod getting_data_in;
mod incidents;
mod keys;
mod live;
mod logs;
mod maintenance;
mod members;
mod metrics;
mod monitor_criteria_form;
mod monitor_detail;
mod monitor_edit;
mod monitor_form;
pub(crate) mod monitors;
mod pages;
mod probes;
mod project_nav;
mod settings;
mod status_page_edit;
mod status_pages;
mod trace_view;
mod traces;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;

use crate::api::AppState;

/// Scripts, styles, images and connections (charts, live updates) from this origin only and
/// never inline, forms posting back here only, never in a frame.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                   base-uri 'none'";

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// The UI's routes, to be merged with the API's router.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    let timeout = std::time::Duration::from_millis(state.config.request_timeout_ms);
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/signup", get(pages::signup_form).post(pages::signup))
        .route("/logout", axum::routing::post(pages::logout))
        .route("/accounts", get(accounts::show).post(accounts::create))
        .route(
            "/projects",
            get(pages::projects).post(pages::create_project),
        )
        .route(
            "/invitations/{invitation_id}/{answer}",
            axum::routing::post(pages::answer_invitation),
        )
        .route("/projects/switch", get(project_nav::switch))
        .route("/projects/{project_id}", get(monitors::list))
        .route("/projects/{project_id}/live", get(live::stream))
        .route(
            "/projects/{project_id}/monitors",
            axum::routing::post(monitor_edit::create),
        )
        .route(
            "/projects/{project_id}/monitors/new",
            get(monitor_edit::new_form),
        )
        .route(
            "/projects/{project_id}/monitors/{monitor_id}",
            get(monitor_detail::show),
        )
        .route(
            "/projects/{project_id}/monitors/{monitor_id}/edit",
            get(monitor_edit::edit_form).post(monitor_edit::update),
        )
        .route(
            "/projects/{project_id}/monitors/{monitor_id}/enabled",
            axum::routing::post(monitor_edit::set_enabled),
        )
        .route(
            "/projects/{project_id}/monitors/{monitor_id}/delete",
            get(monitor_edit::confirm_delete).post(monitor_edit::delete),
        )
        .route(
            "/projects/{project_id}/incidents",
            get(incidents::list).post(incidents::create),
        )
        .route(
            "/projects/{project_id}/incidents/{incident_id}",
            get(incidents::show),
        )
        .route(
            "/projects/{project_id}/incidents/{incident_id}/{action}",
            axum::routing::post(incidents::act),
        )
        .route(
            "/projects/{project_id}/probes",
            get(probes::list).post(probes::register),
        )
        .route(
            "/projects/{project_id}/channels",
            get(channels::list).post(channels::create),
        )
        .route(
            "/projects/{project_id}/channels/{channel_id}",
            get(channels::show),
        )
        .route(
            "/projects/{project_id}/channels/{channel_id}/delete",
            get(channels::confirm_delete).post(channels::delete),
        )
        .route(
            "/projects/{project_id}/channels/{channel_id}/settings",
            axum::routing::post(channels::edit),
        )
        .route(
            "/projects/{project_id}/channels/{channel_id}/{action}",
            axum::routing::post(channels::act),
        )
        .route(
            "/projects/{project_id}/maintenance",
            get(maintenance::list).post(maintenance::create),
        )
        .route(
            "/projects/{project_id}/maintenance/{window_id}/cancel",
            axum::routing::post(maintenance::cancel),
        )
        .route(
            "/projects/{project_id}/status-pages",
            get(status_pages::list).post(status_pages::create),
        )
        .route(
            "/projects/{project_id}/status-pages/{page_id}",
            get(status_page_edit::show),
        )
        .route(
            "/projects/{project_id}/status-pages/{page_id}/delete",
            get(status_pages::confirm_delete).post(status_pages::delete),
        )
        .route(
            "/projects/{project_id}/status-pages/{page_id}/announcements/{announcement_id}/remove",
            axum::routing::post(status_page_edit::remove_announcement),
        )
        .route(
            "/projects/{project_id}/status-pages/{page_id}/subscribers/{subscriber_id}/remove",
            axum::routing::post(status_page_edit::remove_subscriber_form),
        )
        .route(
            "/projects/{project_id}/status-pages/{page_id}/{form}",
            axum::routing::post(status_page_edit::save),
        )
        .route("/projects/{project_id}/logs", get(logs::list))
        .route("/projects/{project_id}/logs/live", get(logs::live))
        .route(
            "/projects/{project_id}/logs/live/stream",
            get(logs::live_stream),
        )
        .route("/projects/{project_id}/logs/{log_id}", get(logs::show))
        .route("/projects/{project_id}/traces", get(traces::list))
        .route("/projects/{project_id}/metrics", get(metrics::show))
        .route("/projects/{project_id}/exceptions", get(exceptions::list))
        .route(
            "/projects/{project_id}/traces/{trace_id}",
            get(trace_view::show),
        )
        .route("/projects/{project_id}/settings", get(settings::show))
        .route(
            "/projects/{project_id}/settings/{list}",
            axum::routing::post(settings::add),
        )
        .route(
            "/projects/{project_id}/settings/statuses/{status_id}",
            axum::routing::post(settings::change),
        )
        .route(
            "/projects/{project_id}/getting-data-in",
            get(getting_data_in::show),
        )
        .route(
            "/projects/{project_id}/getting-data-in/key",
            axum::routing::post(getting_data_in::create_key),
        )
        .route(
            "/projects/{project_id}/members",
            get(members::list).post(members::invite),
        )
        .route(
            "/projects/{project_id}/members/{user_id}/role",
            axum::routing::post(members::change_role),
        )
        .route(
            "/projects/{project_id}/members/{user_id}/remove",
            get(members::confirm_remove).post(members::remove),
        )
        .route(
            "/projects/{project_id}/invitations/{invitation_id}/withdraw",
            axum::routing::post(members::withdraw),
        )
        .route(
            "/projects/{project_id}/keys",
            get(keys::list).post(keys::create),
        )
        .route(
            "/projects/{project_id}/keys/{key_id}/revoke",
            get(keys::confirm_revoke).post(keys::revoke),
        )
        .route(
            "/projects/{project_id}/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route(
            "/projects/{project_id}/api-keys/{key_id}/revoke",
            get(api_keys::confirm_revoke).post(api_keys::revoke),
        )
        .route("/assets/{file}", get(assets::serve))
        .fallback(pages::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}
