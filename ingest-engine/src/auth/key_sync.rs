//! The key store's link to the control plane: loads ingestion keys and monitor push keys from
//! PostgreSQL and reloads them whenever the control plane says they changed (NOTIFY
//! `vigil_keys`, sent by triggers), after the listening connection was lost (notifications
//! sent meanwhile are gone), and every `keys.refresh_secs` as a last resort. A revoked key is
//! thus refused within one reload of its revocation. While the database cannot be reached the
//! last keys stay in force; before the first load, requests are answered 503, not 401.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgPool, Row};
use tokio_util::sync::CancellationToken;

use super::{KeyDigest, KeyStore, Keys, MonitorRef, ProbeRef};
use crate::config::KeysConfig;

/// The channel the control plane's triggers notify.
const CHANNEL: &str = "vigil_keys";

/// Why a load did not happen (logged; the last keys stay in force).
#[derive(Debug, thiserror::Error)]
pub enum KeySyncError {
    /// The database refused or did not answer.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A step took longer than `keys.timeout_ms`.
    #[error("database did not answer within {0:?}")]
    Timeout(Duration),
}

/// Keeps `store` current from the database at `config.database_url` until `shutdown`, with
/// the static development keys `extra` merged into every generation.
pub async fn run(store: KeyStore, config: KeysConfig, extra: Keys, shutdown: CancellationToken) {
    let timeout = Duration::from_millis(config.timeout_ms.max(1));
    let mut backoff = Duration::from_millis(500);
    loop {
        let result = tokio::select! {
            _ = shutdown.cancelled() => return,
            result = follow(&store, &config, &extra, timeout) => result,
        };
        match result {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, retry_in = ?backoff, loaded = store.is_loaded(),
                    "key store: cannot read keys from the database; the last keys stay in force");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Connects, listens, loads, and reloads on every notification, lost connection and refresh
/// tick; returns only on an error.
async fn follow(
    store: &KeyStore,
    config: &KeysConfig,
    extra: &Keys,
    timeout: Duration,
) -> Result<(), KeySyncError> {
    let options =
        PgConnectOptions::from_str(config.database_url.0.trim())?.application_name("vigil-ingest");
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(timeout)
        .connect_lazy_with(options);
    let mut listener = bounded(timeout, PgListener::connect_with(&pool)).await?;
    bounded(timeout, listener.listen(CHANNEL)).await?;
    // Listening first, then loading: a change made in between is both loaded and notified.
    reload(store, &pool, extra, timeout).await?;
    let refresh = Duration::from_secs(config.refresh_secs.max(1));
    loop {
        match tokio::time::timeout(refresh, listener.try_recv()).await {
            // A change, or the periodic reload.
            Ok(Ok(Some(_))) | Err(_) => {}
            // The connection was lost; the next call reconnects. Whatever was notified
            // meanwhile is lost, so reload.
            Ok(Ok(None)) => tracing::info!("key store: listening connection lost; reconnecting"),
            Ok(Err(error)) => return Err(error.into()),
        }
        reload(store, &pool, extra, timeout).await?;
    }
}

async fn bounded<T>(
    timeout: Duration,
    work: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, KeySyncError> {
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| KeySyncError::Timeout(timeout))?
        .map_err(KeySyncError::from)
}

/// Reads every live key and swaps the new generation in.
async fn reload(
    store: &KeyStore,
    pool: &PgPool,
    extra: &Keys,
    timeout: Duration,
) -> Result<(), KeySyncError> {
    let mut keys = bounded(timeout, load(pool)).await?;
    keys.merge(extra);
    let (tokens, agents, heartbeats, probes) = keys.counts();
    tracing::debug!(tokens, agents, heartbeats, probes, "key store reloaded");
    store.replace(keys);
    Ok(())
}

/// Live ingestion keys, the push keys of heartbeat and server monitors, and probe keys.
async fn load(pool: &PgPool) -> Result<Keys, sqlx::Error> {
    let mut keys = Keys::default();
    let tokens = sqlx::query(
        "SELECT digest, project_id::text AS project FROM ingestion_keys WHERE revoked_at IS NULL",
    )
    .fetch_all(pool)
    .await?;
    for row in tokens {
        if let Some(digest) = parse_digest(row.try_get("digest")?) {
            keys.insert_token(digest, Arc::from(row.try_get::<&str, _>("project")?));
        }
    }
    let monitors = sqlx::query(
        "SELECT key_digest, kind, project_id::text AS project, id::text AS monitor \
         FROM monitors WHERE key_digest IS NOT NULL AND enabled",
    )
    .fetch_all(pool)
    .await?;
    for row in monitors {
        let Some(digest) = parse_digest(row.try_get("key_digest")?) else {
            continue;
        };
        let monitor = MonitorRef {
            project: Arc::from(row.try_get::<&str, _>("project")?),
            monitor: Arc::from(row.try_get::<&str, _>("monitor")?),
        };
        match row.try_get::<&str, _>("kind")? {
            "server" => keys.insert_agent(digest, monitor),
            "heartbeat" => keys.insert_heartbeat(digest, monitor),
            _ => {}
        }
    }
    let probes =
        sqlx::query("SELECT digest, project_id::text AS project, id::text AS probe FROM probes")
            .fetch_all(pool)
            .await?;
    for row in probes {
        if let Some(digest) = parse_digest(row.try_get("digest")?) {
            let probe = ProbeRef {
                project: Arc::from(row.try_get::<&str, _>("project")?),
                probe: Arc::from(row.try_get::<&str, _>("probe")?),
            };
            keys.insert_probe(digest, probe);
        }
    }
    Ok(keys)
}

/// A stored digest (64 lowercase hex digits); anything else is skipped (no key matches it).
fn parse_digest(hex: &str) -> Option<KeyDigest> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let nibble = |c: u8| (c as char).to_digit(16);
        out[i] = (nibble(pair[0])? * 16 + nibble(pair[1])?) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_digests_parse_to_the_key_digest() {
        // The control plane stores SHA-256 as lowercase hex.
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(parse_digest(hex), Some(super::super::digest("abc")));
        assert_eq!(parse_digest(&hex[..62]), None);
        assert_eq!(parse_digest(&hex.replace('b', "g")), None);
    }
}
