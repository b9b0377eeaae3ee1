//! Vigil's probe (not built yet).
//!
//! This crate will hold the `vigil-probe` binary: it authenticates with its probe key, fetches
//! its monitor assignments from the control plane, runs HTTP(S), TCP, ICMP, DNS and TLS checks
//! on a jittered schedule and ships results to the ingest engine in batches (DESIGN.md §4,
//! issue 6). Until then it ships no binary, so nothing can mistake it for a working probe.
