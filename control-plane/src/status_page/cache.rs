//! Status pages served from memory. Each page's [`Snapshot`] (its model, and its HTML plain
//! and gzipped with their ETag) is built once and served to every reader until something it
//! shows changes: every `vigil serve` hears each change of a project (NOTIFY
//! `vigil_project_changes`, from triggers on monitors, incidents, public updates, maintenance,
//! announcements and the pages themselves) and bumps that project's generation, so the next
//! request rebuilds — one rebuild at a time per page, the others wait for it (single flight).
//! Snapshots also age out after `status_snapshot_max_age_secs` (uptime moves with time). When a rebuild fails
//! (PostgreSQL down), the last snapshot goes on being served, marked stale, and the next try
//! waits [`RETRY_AFTER`].
//!
//! The directory (slug → page, host → slug) is cached the same way: reloaded after a page or
//! a domain changed (NOTIFY `vigil_status_pages`), after a lost notification connection, or
//! when a slug is not found (at most once per [`MISS_RELOAD`]; a host not found does not
//! reload, as every request to the operator UI is one).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use uuid::Uuid;

use super::model::Model;
use crate::api::AppState;
use crate::db::ProjectChange;
use crate::error::ApiError;

/// After a failed rebuild, the stale snapshot is served this long before the next try.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// A slug or host not found reloads the directory at most this often.
const MISS_RELOAD: Duration = Duration::from_secs(1);
/// Most pages held (a bound on memory; the least recently built are dropped first).
const MAX_PAGES: usize = 10_000;

/// A page as built at one moment, ready to send.
pub(crate) struct Snapshot {
    pub model: Model,
    /// Built from data that may be old: the last rebuild failed.
    pub stale: bool,
    pub html: Bytes,
    pub html_gzip: Bytes,
    /// Of the plain HTML; the gzipped body's is this with `-gz`.
    pub etag: String,
    generation: u64,
    built: Instant,
}

/// Where a slug leads.
#[derive(Clone, Copy)]
pub(crate) struct Listing {
    pub page_id: Uuid,
    pub project_id: Uuid,
}

#[derive(Default)]
struct Directory {
    by_slug: HashMap<String, Listing>,
    by_host: HashMap<String, String>,
    loaded: Option<Instant>,
    dirty: bool,
}

struct Entry {
    /// Held while rebuilding: one rebuild per page at a time.
    rebuilding: tokio::sync::Mutex<()>,
    current: RwLock<Option<Arc<Snapshot>>>,
}

/// Every page's snapshot, and the generations that say when one is out of date.
pub(crate) struct Snapshots {
    /// A snapshot is rebuilt at least this often.
    max_age: Duration,
    directory: RwLock<Directory>,
    reloading: tokio::sync::Mutex<()>,
    entries: Mutex<HashMap<Uuid, Arc<Entry>>>,
    /// Per project, bumped on each change.
    generations: Mutex<HashMap<Uuid, u64>>,
    /// Bumped when notifications may have been lost: every snapshot is out of date.
    epoch: std::sync::atomic::AtomicU64,
}

impl Snapshots {
    pub(crate) fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            directory: RwLock::default(),
            reloading: tokio::sync::Mutex::default(),
            entries: Mutex::default(),
            generations: Mutex::default(),
            epoch: std::sync::atomic::AtomicU64::default(),
        }
    }

    fn generation(&self, project: Uuid) -> u64 {
        let own = self.generations.lock().get(&project).copied().unwrap_or(0);
        own.wrapping_add(self.epoch.load(std::sync::atomic::Ordering::Acquire) << 32)
    }

    /// Takes in a change heard from PostgreSQL.
    pub(crate) fn changed(&self, change: ProjectChange) {
        match change {
            Some(project) => {
                *self.generations.lock().entry(project).or_insert(0) += 1;
            }
            None => {
                self.epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                self.directory_changed();
            }
        }
    }

    /// A page or domain changed (or may have: `None` after a lost connection).
    pub(crate) fn directory_changed(&self) {
        self.directory.write().dirty = true;
    }

    /// Whether any page claims a host (when none does, no request is looked up).
    pub(crate) fn has_hosts(&self) -> bool {
        let directory = self.directory.read();
        directory.loaded.is_none() || directory.dirty || !directory.by_host.is_empty()
    }

    /// The page at `slug`; `None` when there is none.
    pub(crate) async fn by_slug(
        &self,
        state: &AppState,
        slug: &str,
    ) -> Result<Option<Arc<Snapshot>>, ApiError> {
        let Some(listing) = self
            .find(state, true, |d| d.by_slug.get(slug).copied())
            .await
        else {
            return Ok(None);
        };
        self.snapshot(state, listing).await.map(Some)
    }

    /// The slug of the page claiming `host`, if one does.
    pub(crate) async fn slug_of_host(&self, state: &AppState, host: &str) -> Option<String> {
        self.find(state, false, |d| d.by_host.get(host).cloned())
            .await
    }

    /// Looks something up in the directory, reloading it first when it is out of date, or
    /// when the lookup misses and the last reload is old enough.
    async fn find<T>(
        &self,
        state: &AppState,
        reload_on_miss: bool,
        look: impl Fn(&Directory) -> Option<T>,
    ) -> Option<T> {
        {
            let directory = self.directory.read();
            if directory.loaded.is_some() && !directory.dirty {
                let found = look(&directory);
                if found.is_some()
                    || !reload_on_miss
                    || directory
                        .loaded
                        .is_some_and(|at| at.elapsed() < MISS_RELOAD)
                {
                    return found;
                }
            }
        }
        self.reload(state).await;
        look(&self.directory.read())
    }

    async fn reload(&self, state: &AppState) {
        let _one = self.reloading.lock().await;
        let started = Instant::now();
        {
            let directory = self.directory.read();
            // Someone else reloaded while this one waited.
            if directory
                .loaded
                .is_some_and(|at| at.elapsed() < MISS_RELOAD / 10)
                && !directory.dirty
            {
                return;
            }
        }
        // Cleared before reading, so a change heard during the read marks it again.
        self.directory.write().dirty = false;
        let pages: Result<Vec<(String, Uuid, Uuid)>, sqlx::Error> =
            sqlx::query_as("SELECT slug, id, project_id FROM status_pages")
                .fetch_all(&state.pool)
                .await;
        let hosts: Result<Vec<(String, String)>, sqlx::Error> = sqlx::query_as(
            "SELECT d.host, p.slug FROM status_page_domains d \
             JOIN status_pages p ON p.id = d.page_id",
        )
        .fetch_all(&state.pool)
        .await;
        let mut directory = self.directory.write();
        match (pages, hosts) {
            (Ok(pages), Ok(hosts)) => {
                directory.by_slug = pages
                    .into_iter()
                    .map(|(slug, page_id, project_id)| {
                        (
                            slug,
                            Listing {
                                page_id,
                                project_id,
                            },
                        )
                    })
                    .collect();
                directory.by_host = hosts.into_iter().collect();
            }
            // The old directory stays: pages keep answering while PostgreSQL is away.
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "status page directory not reloaded");
                directory.dirty = true;
            }
        }
        directory.loaded = Some(started);
    }

    fn entry(&self, page: Uuid) -> Arc<Entry> {
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_PAGES && !entries.contains_key(&page) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.current.read().as_ref().map(|s| s.built))
                .map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries
            .entry(page)
            .or_insert_with(|| {
                Arc::new(Entry {
                    rebuilding: tokio::sync::Mutex::new(()),
                    current: RwLock::new(None),
                })
            })
            .clone()
    }

    fn fresh(&self, snapshot: &Snapshot, project: Uuid) -> bool {
        if snapshot.stale {
            snapshot.built.elapsed() < RETRY_AFTER
        } else {
            snapshot.generation == self.generation(project)
                && snapshot.built.elapsed() < self.max_age
        }
    }

    async fn snapshot(
        &self,
        state: &AppState,
        listing: Listing,
    ) -> Result<Arc<Snapshot>, ApiError> {
        let entry = self.entry(listing.page_id);
        if let Some(current) = entry.current.read().clone()
            && self.fresh(&current, listing.project_id)
        {
            return Ok(current);
        }
        let _one = entry.rebuilding.lock().await;
        let previous = entry.current.read().clone();
        if let Some(current) = &previous
            && self.fresh(current, listing.project_id)
        {
            return Ok(current.clone());
        }
        let generation = self.generation(listing.project_id);
        let built = match super::build::build(state, listing.page_id).await {
            Ok(model) => render(model, false, generation).await,
            Err(error) => Err(error),
        };
        let snapshot = match (built, previous) {
            (Ok(snapshot), _) => snapshot,
            (Err(ApiError::NotFound(what)), _) => {
                // The page is gone: forget it and its slug.
                self.entries.lock().remove(&listing.page_id);
                self.directory.write().dirty = true;
                return Err(ApiError::NotFound(what));
            }
            (Err(error), Some(previous)) => {
                tracing::warn!(%error, page = %listing.page_id, "status page not rebuilt; serving the last one");
                render(previous.model.clone(), true, previous.generation).await?
            }
            (Err(error), None) => return Err(error),
        };
        let snapshot = Arc::new(snapshot);
        *entry.current.write() = Some(snapshot.clone());
        Ok(snapshot)
    }
}

/// Renders and compresses a model, on the blocking pool (a large page is milliseconds of CPU).
async fn render(model: Model, stale: bool, generation: u64) -> Result<Snapshot, ApiError> {
    tokio::task::spawn_blocking(move || {
        let html = super::html::page_html(&model, stale)?;
        let html_gzip = gzip(html.as_bytes())?;
        let etag = etag(html.as_bytes());
        Ok(Snapshot {
            model,
            stale,
            html: Bytes::from(html),
            html_gzip: Bytes::from(html_gzip),
            etag,
            generation,
            built: Instant::now(),
        })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

pub(crate) fn gzip(bytes: &[u8]) -> Result<Vec<u8>, ApiError> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::default(),
    );
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| ApiError::Internal(format!("gzip: {e}")))
}

/// A strong ETag of `bytes`.
pub(crate) fn etag(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Marks the directory out of date on every NOTIFY `vigil_status_pages` (a page or a domain
/// changed, so slugs and hosts may lead elsewhere) and after a lost connection, until the
/// task is dropped.
pub(crate) async fn follow_directory(pool: sqlx::PgPool, snapshots: Arc<Snapshots>) {
    crate::db::follow(pool, "vigil_status_pages", |_| {
        snapshots.directory_changed()
    })
    .await;
}

/// Follows project changes into `snapshots` until the task is dropped.
pub(crate) async fn follow(
    snapshots: Arc<Snapshots>,
    changes: tokio::sync::broadcast::Sender<ProjectChange>,
) {
    let mut heard = changes.subscribe();
    loop {
        match heard.recv().await {
            Ok(change) => snapshots.changed(change),
            // Missed some: anything may have changed.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => snapshots.changed(None),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
