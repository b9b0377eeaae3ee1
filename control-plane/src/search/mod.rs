//! The explorer's search language, shared by logs and spans: `parse.rs` reads a query into an
//! expression, `sql.rs` turns one into a ClickHouse condition over a table with every value
//! escaped.

pub(crate) mod parse;
pub(crate) mod sql;
