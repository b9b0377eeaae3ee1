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

/// Bumps `changes` on every NOTIFY `vigil_assignments` (and after a lost connection, whose
/// notifications are gone), until the task is dropped; waiting assignment polls wake on it.
pub(crate) async fn follow_assignments(
    pool: PgPool,
    changes: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
) {
    follow(pool, "vigil_assignments", |_| {
        changes.send_modify(|n| *n = n.wrapping_add(1));
    })
    .await;
}

/// What a project-change listener hears: a project whose monitors or incidents changed, or
/// `None` after a lost connection (anything may have changed meanwhile).
pub(crate) type ProjectChange = Option<uuid::Uuid>;

/// Sends every NOTIFY `vigil_project_changes` to `changes` (pages showing that project update
/// live), until the task is dropped.
pub(crate) async fn follow_project_changes(
    pool: PgPool,
    changes: tokio::sync::broadcast::Sender<ProjectChange>,
) {
    follow(pool, "vigil_project_changes", |payload| {
        let change = match payload {
            Some(text) => match text.parse() {
                Ok(project) => Some(project),
                Err(_) => return,
            },
            None => None,
        };
        // No page listening is not an error.
        let _nobody = changes.send(change);
    })
    .await;
}

/// LISTENs on `channel` and calls `heard` with each payload, or with `None` after the
/// connection was lost and made again (its notifications are gone); retries forever.
pub(crate) async fn follow(pool: PgPool, channel: &str, mut heard: impl FnMut(Option<&str>)) {
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(error) = listener.listen(channel).await {
                    tracing::warn!(%error, channel, "cannot LISTEN; retrying");
                } else {
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(notification)) => heard(Some(notification.payload())),
                            Ok(None) => heard(None),
                            Err(error) => {
                                tracing::warn!(%error, channel, "listener failed; reconnecting");
                                break;
                            }
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, channel, "listener cannot connect; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
