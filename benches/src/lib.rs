//! Vigil's benchmarks: deterministic OTLP payload generators (shared by `vigil-load` and the
//! criterion benches) and the load generator itself.

pub mod forward;
pub mod load;
pub mod payload;
