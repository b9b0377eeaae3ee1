//! Vigil's control plane (not built yet).
//!
//! This crate will hold the `vigil` binary (`serve`, `worker`, `migrate`): the axum REST API and
//! operator UI over PostgreSQL, and the worker that drains the ingest engine's Redis Streams,
//! evaluates monitor criteria and opens incidents (DESIGN.md §3, issue 5). Until then it ships
//! no binary and no endpoint, so nothing can mistake it for a working service.
