//! The WAL writer thread: group commit. It takes every append queued at that moment (up to
//! `GROUP_BYTES`), writes them with one `write`, syncs per the fsync policy, publishes the new
//! committed end to the reader and only then acknowledges the whole group.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Append, SegmentMeta, Shared, record, segment};
use crate::config::FsyncPolicy;
use crate::error::IngestError;

/// Bytes one group commit takes at most (a single larger append still goes alone).
const GROUP_BYTES: usize = 8 << 20;

pub(super) struct Writer {
    dir: PathBuf,
    shared: Arc<Shared>,
    policy: FsyncPolicy,
    segment_bytes: u64,
    /// The open segment: `(start_seq, file, bytes written)`.
    current: Option<(u64, File, u64)>,
    next_seq: u64,
    last_sync: Instant,
    unsynced: bool,
    buf: Vec<u8>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Writer {
    pub(super) fn new(
        dir: PathBuf,
        shared: Arc<Shared>,
        policy: FsyncPolicy,
        segment_bytes: u64,
        next_seq: u64,
    ) -> Self {
        Self {
            dir,
            shared,
            policy,
            segment_bytes,
            current: None,
            next_seq,
            last_sync: Instant::now(),
            unsynced: false,
            buf: Vec::new(),
        }
    }

    pub(super) fn run(mut self, rx: Receiver<Append>) {
        let tick = match self.policy {
            FsyncPolicy::Every(d) => d,
            _ => Duration::from_secs(1),
        };
        loop {
            let first = match rx.recv_timeout(tick) {
                Ok(append) => append,
                Err(RecvTimeoutError::Timeout) => {
                    self.sync_if_due();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut bytes = first.payload.len();
            let mut group = vec![first];
            while bytes < GROUP_BYTES {
                match rx.try_recv() {
                    Ok(append) => {
                        bytes += append.payload.len();
                        group.push(append);
                    }
                    Err(_) => break,
                }
            }
            let outcome = self.commit(&group);
            for append in group {
                let reply = match &outcome {
                    Ok(()) => Ok(()),
                    Err(e) => Err(IngestError::Internal(format!("WAL write failed: {e}"))),
                };
                // The request may have gone away; its data is committed all the same.
                let _ignored = append.done.send(reply);
            }
        }
        if self.unsynced && self.policy != FsyncPolicy::Never {
            self.sync();
        }
        self.shared.state.lock().writer_done = true;
        self.shared.wake.notify_all();
    }

    /// Writes one group and publishes it; on failure the segment is cut back so that no torn
    /// record stays in the middle of the log.
    fn commit(&mut self, group: &[Append]) -> std::io::Result<()> {
        let size: usize = group
            .iter()
            .map(|a| record::HEADER_LEN + a.payload.len())
            .sum();
        self.roll_if_full(size as u64)?;
        let (start, file, len) = match self.current.as_mut() {
            Some(c) => c,
            None => {
                let start = self.next_seq;
                let file = OpenOptions::new()
                    .create_new(true)
                    .append(true)
                    .open(segment::path(&self.dir, start))?;
                if self.policy != FsyncPolicy::Never {
                    File::open(&self.dir)?.sync_all()?;
                }
                self.shared.state.lock().segments.push_back(SegmentMeta {
                    start,
                    len: 0,
                    sealed: false,
                });
                self.current.insert((start, file, 0))
            }
        };
        self.buf.clear();
        let now = now_ms();
        let mut seq = self.next_seq;
        for a in group {
            record::put(&mut self.buf, seq, now, a.rows, a.raw_len, &a.payload);
            seq += 1;
        }
        if let Err(e) = file.write_all(&self.buf) {
            tracing::error!(error = %e, "WAL write failed; cutting the segment back");
            file.set_len(*len)?;
            return Err(e);
        }
        match self.policy {
            FsyncPolicy::Always => file.sync_data()?,
            FsyncPolicy::Every(d) if self.last_sync.elapsed() >= d => {
                file.sync_data()?;
                self.last_sync = Instant::now();
                self.unsynced = false;
            }
            _ => self.unsynced = true,
        }
        *len += self.buf.len() as u64;
        let (start, len) = (*start, *len);
        self.next_seq = seq;
        {
            let mut state = self.shared.state.lock();
            if let Some(meta) = state.segments.iter_mut().rev().find(|m| m.start == start) {
                meta.len = len;
            }
            state.next_seq = seq;
        }
        self.shared.wake.notify_all();
        Ok(())
    }

    /// Seals the open segment when `incoming` more bytes would overflow it.
    fn roll_if_full(&mut self, incoming: u64) -> std::io::Result<()> {
        let full = matches!(&self.current, Some((_, _, len)) if *len > 0 && len + incoming > self.segment_bytes);
        if !full {
            return Ok(());
        }
        if let Some((start, file, _)) = self.current.take() {
            if self.policy != FsyncPolicy::Never {
                file.sync_data()?;
            }
            let mut state = self.shared.state.lock();
            if let Some(meta) = state.segments.iter_mut().rev().find(|m| m.start == start) {
                meta.sealed = true;
            }
        }
        Ok(())
    }

    fn sync_if_due(&mut self) {
        if let FsyncPolicy::Every(d) = self.policy
            && self.unsynced
            && self.last_sync.elapsed() >= d
        {
            self.sync();
        }
    }

    fn sync(&mut self) {
        if let Some((_, file, _)) = &self.current
            && let Err(e) = file.sync_data()
        {
            tracing::error!(error = %e, "WAL fsync failed");
        }
        self.last_sync = Instant::now();
        self.unsynced = false;
    }
}
