//! Which path reaches which input: the HTTP router (OTLP/HTTP, OneUptime's HTTP inputs and the
//! operational endpoints) and the gRPC router (OTLP `Export` methods and probe results). The
//! handlers live with their inputs.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use super::ops;
use crate::engine::Engine;
use crate::otlp::Signal;
use crate::otlp::handlers::{grpc_export, http_export};
use crate::wire::grpc;
use crate::{agent_report, fluentd, incoming_request, probe_results};

/// The OTLP/HTTP listener's router (also the other HTTP inputs, unless they have their own
/// listener, and the operational endpoints).
pub(crate) fn http(engine: Arc<Engine>) -> Router {
    let mut router = Router::new()
        .route("/metrics", get(ops::metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ops::readyz));
    for prefix in ["", "/otlp"] {
        router = router
            .route(
                &format!("{prefix}/v1/logs"),
                post(|s, h, b| http_export(Signal::Logs, s, h, b)),
            )
            .route(
                &format!("{prefix}/v1/traces"),
                post(|s, h, b| http_export(Signal::Traces, s, h, b)),
            )
            .route(
                &format!("{prefix}/v1/metrics"),
                post(|s, h, b| http_export(Signal::Metrics, s, h, b)),
            );
    }
    for path in [
        "/fluentd/v1/logs",
        "/fluentd/logs",
        "/telemetry/fluentd/v1/logs",
    ] {
        router = router.route(path, post(fluentd::handle));
    }
    for prefix in ["", "/server-monitor-ingest"] {
        router = router
            .route(
                &format!("{prefix}/server-monitor/response/ingest/{{key}}"),
                post(agent_report::report),
            )
            .route(
                &format!("{prefix}/server-monitor/secret-key/verify/{{key}}"),
                get(agent_report::verify),
            );
    }
    for prefix in [
        "/heartbeat",
        "/incoming-request",
        "/incoming-request-ingest/incoming-request",
    ] {
        // `get` also answers HEAD, which OneUptime records as GET.
        router = router.route(
            &format!("{prefix}/{{key}}"),
            get(incoming_request::handle).post(incoming_request::handle),
        );
    }
    router.with_state(engine)
}

/// The OTLP/gRPC listener's router.
pub(crate) fn grpc(engine: Arc<Engine>) -> Router {
    use proto::otlp_paths::{LOGS_EXPORT, METRICS_EXPORT, TRACES_EXPORT};
    Router::new()
        .route(
            LOGS_EXPORT,
            post(|s, h, b| grpc_export(Signal::Logs, s, h, b)),
        )
        .route(
            TRACES_EXPORT,
            post(|s, h, b| grpc_export(Signal::Traces, s, h, b)),
        )
        .route(
            METRICS_EXPORT,
            post(|s, h, b| grpc_export(Signal::Metrics, s, h, b)),
        )
        .route(proto::probe::REPORT, post(probe_results::report))
        .fallback(grpc::unimplemented)
        .with_state(engine)
}
