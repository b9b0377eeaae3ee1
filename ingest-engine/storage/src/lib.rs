//! Vigil's ClickHouse storage: the table definitions (the contract between the ingest engine
//! that writes them and the control plane that reads them), the versioned schema, Native
//! encoding, compressed framing and the HTTP client. Both binaries depend on this crate; it
//! depends on neither.

pub mod client;
pub mod compression;
pub mod config;
pub mod native;
pub mod native_rows;
pub mod schema;
pub mod tables;

pub use config::{ClickHouseConfig, Compression, Secret};
