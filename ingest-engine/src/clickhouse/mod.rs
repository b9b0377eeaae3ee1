//! Everything that speaks to ClickHouse: Native encoding, compressed framing, the HTTP client,
//! the table definitions and the versioned schema.

pub mod client;
pub mod compression;
pub(crate) mod native;
pub mod native_rows;
pub mod schema;
pub(crate) mod tables;
