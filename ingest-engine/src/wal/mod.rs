//! The write-ahead log: every accepted block is appended here (group commit, checksummed,
//! fsync per policy) before its request is acknowledged, and ClickHouse is fed from here.
//!
//! One log per table, in `<wal.dir>/<table>/`: numbered segment files, plus a `progress` file
//! with the batches cut from them and which ClickHouse confirmed. Two threads per log:
//! - the writer (`writer.rs`) takes appends from a bounded queue, writes each group with one
//!   `write` and (policy `always`) one `fdatasync`, rolls segments, and only then acknowledges;
//! - the reader (`reader.rs`) reads committed records back, cuts INSERT batches (rows, bytes,
//!   age), hands them to the table's inserter, records confirmations and deletes segments whose
//!   records are all confirmed.
//!
//! Invariants: a record is visible to the reader only once it is as durable as the policy
//! promises; a segment is deleted only when every record in it is confirmed; the WAL never holds
//! more than `wal.max_bytes` (appends beyond get 503 + `Retry-After`).

mod progress;
mod reader;
pub(crate) mod record;
mod recovery;
mod segment;
mod writer;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tokio::sync::{mpsc, oneshot};

use crate::batch::Batch;
use crate::budget::ByteBudget;
use crate::config::{BatchConfig, WalConfig};
use crate::error::IngestError;
use crate::telemetry::Telemetry;

pub(crate) use recovery::wal_id;

/// Appends waiting for the writer, per table; beyond it requests get 429.
const APPEND_QUEUE: usize = 4096;

/// Says at start-up when `max_bytes` cannot be reached on the WAL's filesystem (`held`
/// bytes of WAL already there plus the free space): the disk fills before the WAL limit, and
/// clients then get 503 for a full disk rather than for a full WAL.
pub(crate) fn report_room(dir: &std::path::Path, held: u64, max_bytes: u64) {
    match fs4::available_space(dir) {
        Ok(free) if free.saturating_add(held) < max_bytes => tracing::warn!(
            dir = %dir.display(),
            free_bytes = free,
            wal_bytes = held,
            max_bytes,
            "wal.max_bytes (VIGIL_WAL_MAX_BYTES) is larger than the WAL's free disk space plus \
             what it holds: the disk fills first; lower the limit or give the WAL more room"
        ),
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(dir = %dir.display(), %error, "free space of the WAL's disk unknown");
        }
    }
}

/// One append waiting for the writer.
struct Append {
    payload: Vec<u8>,
    rows: u32,
    raw_len: u32,
    done: oneshot::Sender<Result<(), IngestError>>,
}

/// A segment as the writer and reader see it.
#[derive(Debug, Clone, Copy)]
struct SegmentMeta {
    start: u64,
    /// Committed bytes (what the reader may read).
    len: u64,
    sealed: bool,
}

/// A committed record the writer hands to the reader in memory, so that a reader keeping up
/// does not read it back from the file.
struct Cached {
    segment: u64,
    offset: u64,
    header: record::Header,
    payload: Vec<u8>,
}

/// What the writer and reader of one log share.
#[derive(Default)]
struct State {
    /// Recently committed records, oldest first, at most `read_cache_bytes` of payload.
    cache: VecDeque<Cached>,
    cache_bytes: usize,
    segments: VecDeque<SegmentMeta>,
    /// Every record below this sequence number is committed.
    next_seq: u64,
    /// Batches ClickHouse confirmed, waiting for the reader to record them.
    confirmed: Vec<(u64, u64)>,
    /// No more appends: the reader flushes without waiting for batch age.
    closing: bool,
    writer_done: bool,
    /// Set after the shutdown deadline: the reader stops at once.
    abandon: bool,
    /// Append time of the oldest record not yet confirmed, 0 when none.
    oldest_unconfirmed_ms: u64,
    /// When the last write failed (ms since the epoch), 0 once a write succeeded since.
    write_failed_ms: u64,
}

/// The part of a log that inserters and the threads hold.
pub(crate) struct Shared {
    table: &'static str,
    state: Mutex<State>,
    wake: Condvar,
}

impl crate::batch::Confirm for Shared {
    /// Called by the inserter once ClickHouse stored (or dead-lettered) `first..=last`.
    fn confirm(&self, first: u64, last: u64) {
        self.state.lock().confirmed.push((first, last));
        self.wake.notify_all();
    }
}

/// Backlog figures for `/readyz` and `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Backlog {
    pub(crate) segments: u64,
    pub(crate) bytes: u64,
    /// Age of the oldest record ClickHouse has not confirmed (0 when none).
    pub(crate) oldest_unflushed_seconds: f64,
}

/// One table's write-ahead log.
pub(crate) struct Log {
    shared: Arc<Shared>,
    appends: Mutex<Option<SyncSender<Append>>>,
    budget: Arc<ByteBudget>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Settings for starting one log.
pub(crate) struct LogSettings<'a> {
    pub(crate) table: &'static str,
    pub(crate) wal: &'a WalConfig,
    pub(crate) batch: &'a BatchConfig,
    pub(crate) wal_id: &'a str,
    pub(crate) budget: Arc<ByteBudget>,
    pub(crate) telemetry: Arc<Telemetry>,
}

impl Log {
    /// Recovers the table's log (truncating a torn or corrupt tail), then starts its writer and
    /// its reader, which sends batches to `batches`. Unconfirmed records are replayed.
    pub(crate) fn start(
        s: LogSettings<'_>,
        batches: mpsc::Sender<Batch>,
    ) -> std::io::Result<Arc<Self>> {
        let dir = s.wal.dir.join(s.table);
        std::fs::create_dir_all(&dir)?;
        let (segments, recovery) = recovery::recover(&dir, s.table, &s.telemetry)?;
        let oldest = segments.front().map_or(0, |m| m.start);
        let (mut progress, damaged) = progress::Progress::open(&dir, oldest)?;
        if damaged {
            tracing::warn!(
                table = s.table,
                "WAL progress file had a torn entry; its batch will be sent again"
            );
        }
        let next_seq = recovery
            .next_seq
            .unwrap_or(0)
            .max(progress.highest_seen() + 1)
            .max(1);
        // Nothing below the oldest segment (or, with none, below the next record) can arrive.
        progress.skip_below(segments.front().map_or(next_seq, |m| m.start));
        let on_disk: u64 = segments.iter().map(|m| m.len).sum();
        s.budget.add(on_disk);
        if recovery.segments > 0 {
            tracing::info!(
                table = s.table,
                segments = recovery.segments,
                bytes = on_disk,
                replay_from = progress.low_water(),
                replay_to = next_seq,
                "WAL recovered; replaying what ClickHouse has not confirmed"
            );
        }
        let shared = Arc::new(Shared {
            table: s.table,
            state: Mutex::new(State {
                segments,
                next_seq,
                ..State::default()
            }),
            wake: Condvar::new(),
        });
        let (tx, rx) = sync_channel(APPEND_QUEUE);
        let writer = writer::Writer::new(
            dir.clone(),
            shared.clone(),
            s.wal.fsync,
            s.wal.segment_bytes,
            s.wal.read_cache_bytes,
            next_seq,
        );
        let reader = reader::Reader::new(reader::ReaderSettings {
            dir,
            shared: shared.clone(),
            progress,
            batch: s.batch.clone(),
            batches,
            token_prefix: format!("{}-{}", s.wal_id, s.table),
            replay_until: next_seq,
            budget: s.budget.clone(),
            telemetry: s.telemetry.clone(),
        });
        let threads = vec![
            std::thread::Builder::new()
                .name(format!("wal-write-{}", s.table))
                .spawn(move || writer.run(rx))?,
            std::thread::Builder::new()
                .name(format!("wal-read-{}", s.table))
                .spawn(move || reader.run())?,
        ];
        Ok(Arc::new(Self {
            shared,
            appends: Mutex::new(Some(tx)),
            budget: s.budget,
            threads: Mutex::new(threads),
        }))
    }

    /// Appends one framed block and returns once it is committed (see the fsync policy).
    /// Whether an append of `payload_len` bytes would fit now (a hint for callers that wait for
    /// room instead of answering 503: the Forward listener withholding its ack).
    pub(crate) fn has_room(&self, payload_len: usize) -> bool {
        let n = (record::HEADER_LEN + payload_len) as u64;
        self.budget.used().saturating_add(n) <= self.budget.limit()
    }

    pub(crate) async fn append(
        &self,
        payload: Vec<u8>,
        rows: u64,
        raw_len: usize,
    ) -> Result<(), IngestError> {
        let n = (record::HEADER_LEN + payload.len()) as u64;
        if !self.budget.try_reserve(n) {
            return Err(IngestError::WalFull {
                retry_after: Duration::from_secs(5),
            });
        }
        let (done, outcome) = oneshot::channel();
        let append = Append {
            payload,
            rows: u32::try_from(rows).unwrap_or(u32::MAX),
            raw_len: u32::try_from(raw_len).unwrap_or(u32::MAX),
            done,
        };
        let sent = match self.appends.lock().as_ref() {
            Some(tx) => tx.try_send(append).map_err(|e| match e {
                TrySendError::Full(_) => IngestError::Overloaded {
                    retry_after: Duration::from_secs(1),
                },
                TrySendError::Disconnected(_) => IngestError::ShuttingDown,
            }),
            None => Err(IngestError::ShuttingDown),
        };
        if let Err(e) = sent {
            self.budget.release(n);
            return Err(e);
        }
        // The writer answers every append it took; a dropped answer means it died.
        let result = outcome.await.unwrap_or(Err(IngestError::ShuttingDown));
        if result.is_err() {
            self.budget.release(n);
        }
        result
    }

    /// Whether a write failed within the last `within` with none succeeding since (a full
    /// disk): not ready meanwhile.
    pub(crate) fn write_failing(&self, within: Duration) -> bool {
        let failed = self.shared.state.lock().write_failed_ms;
        failed != 0
            && record::now_unix_ms().saturating_sub(failed)
                < u64::try_from(within.as_millis()).unwrap_or(u64::MAX)
    }

    /// Segments, bytes and the oldest unconfirmed record of this log.
    pub(crate) fn backlog(&self) -> Backlog {
        let state = self.shared.state.lock();
        Backlog {
            segments: state.segments.len() as u64,
            bytes: state.segments.iter().map(|m| m.len).sum(),
            oldest_unflushed_seconds: match state.oldest_unconfirmed_ms {
                0 => 0.0,
                ms => record::now_unix_ms().saturating_sub(ms) as f64 / 1000.0,
            },
        }
    }

    /// Stops taking appends; the writer finishes the queued ones and the reader sends every
    /// committed record without waiting for batch age.
    pub(crate) fn close(&self) {
        self.appends.lock().take();
        self.shared.state.lock().closing = true;
        self.shared.wake.notify_all();
    }

    /// After the shutdown deadline: the reader stops at once (the rest stays in the WAL), then
    /// both threads are joined.
    pub(crate) fn abandon_and_join(&self) {
        self.shared.state.lock().abandon = true;
        self.shared.wake.notify_all();
        for thread in self.threads.lock().drain(..) {
            if thread.join().is_err() {
                tracing::error!(table = self.shared.table, "WAL thread panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Origin;
    use crate::config::FsyncPolicy;

    fn settings<'a>(
        wal: &'a WalConfig,
        batch: &'a BatchConfig,
        budget: &Arc<ByteBudget>,
    ) -> LogSettings<'a> {
        LogSettings {
            table: "logs",
            wal,
            batch,
            wal_id: "test",
            budget: budget.clone(),
            telemetry: Arc::new(Telemetry::new()),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn confirmed_segments_are_deleted_and_unconfirmed_ones_replayed() {
        let dir = std::env::temp_dir().join(format!("vigil-wal-{}", std::process::id()));
        let _ignored = std::fs::remove_dir_all(&dir);
        let wal = WalConfig {
            dir: dir.clone(),
            fsync: FsyncPolicy::Never,
            segment_bytes: 1 << 16,
            max_bytes: 1 << 20,
            ..WalConfig::default()
        };
        let batch = BatchConfig {
            max_rows: 10,
            max_bytes: 1 << 20,
            max_age_ms: 20,
        };
        let budget = Arc::new(ByteBudget::new(wal.max_bytes));
        let (tx, mut rx) = mpsc::channel(4);
        let log = Log::start(settings(&wal, &batch, &budget), tx).unwrap();
        for i in 0..100u32 {
            log.append(vec![i as u8; 2000], 1, 2000).await.unwrap();
        }
        // Confirm the batches that end at or before record 50, leave the rest.
        let (mut seen, mut unconfirmed) = (0, Vec::new());
        while seen < 100 {
            let b = rx.recv().await.unwrap();
            seen += b.rows;
            if let Origin::Wal {
                log: shared,
                first,
                last,
                ..
            } = &b.origin
            {
                if *last <= 50 {
                    shared.confirm(*first, *last);
                } else {
                    unconfirmed.extend(*first..=*last);
                }
            }
        }
        // 2032-byte records, 32 per 64 KiB segment: the first segment is confirmed entirely.
        for _ in 0..200 {
            if log.backlog().segments < 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let backlog = log.backlog();
        assert_eq!(backlog.segments, 3, "{backlog:?}");
        assert_eq!(budget.used(), backlog.bytes);
        log.close();
        drop(rx);
        tokio::task::spawn_blocking({
            let log = log.clone();
            move || log.abandon_and_join()
        })
        .await
        .unwrap();

        // A restart replays the unconfirmed records only.
        let budget = Arc::new(ByteBudget::new(wal.max_bytes));
        let (tx, mut rx) = mpsc::channel(4);
        let log = Log::start(settings(&wal, &batch, &budget), tx).unwrap();
        let mut replayed = Vec::new();
        while replayed.len() < unconfirmed.len() {
            let b = rx.recv().await.unwrap();
            if let Origin::Wal { first, last, .. } = b.origin {
                replayed.extend(first..=last);
            }
        }
        assert_eq!(replayed, unconfirmed);
        log.close();
        drop(rx);
        tokio::task::spawn_blocking(move || log.abandon_and_join())
            .await
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
