//! The PostgreSQL pool and the embedded migrations (`control-plane/migrations/`).

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::config::Config;

/// The migrations, compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A pool of at most `database_max_connections`; a query waits at most
/// `database_acquire_timeout_ms` for a connection, and each statement at most 30 s.
pub async fn connect(config: &Config) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(config.database_max_connections)
        .acquire_timeout(Duration::from_millis(config.database_acquire_timeout_ms))
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET statement_timeout = '30s'")
                    .execute(conn)
                    .await
                    .map(|_| ())
            })
        })
        .connect(&config.database_url)
        .await
}

/// Applies the migrations not applied yet.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}
