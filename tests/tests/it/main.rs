//! Vigil's integration tests: one test binary, one module per area. Run through
//! `deploy/test.sh`, which starts the real servers and installs the real clients.

// Test code: helpers fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

mod account_security;
mod api_fuzz;
mod bad_input;
mod browser;
mod cluster;
mod connections;
mod control_plane;
mod durability;
mod edge;
mod explorer_browser;
mod explorer_exceptions;
mod explorer_forward;
mod explorer_logs;
mod explorer_metrics;
mod explorer_traces;
mod fluentd_http;
mod forward;
mod full_disk;
mod layering;
mod monitor_inputs;
mod monitors;
mod monitors_telemetry;
mod notification_targets;
mod operations;
mod otlp_json;
mod packages;
mod probe_checks;
mod probe_e2e;
mod python_sdk;
mod rows;
mod rust_sdk;
mod schema_migrations;
mod schema_modern;
mod status_browser;
mod status_page_forms;
mod status_page_settings;
mod status_pages;
mod status_subscribers;
mod ui;
mod ui_admin;
mod ui_roles;
mod utf8;
mod worker;
mod worker_streams;
