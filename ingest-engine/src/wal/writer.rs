//! The WAL writer thread: group commit. It takes every append queued at that moment (up to
//! `GROUP_BYTES`), writes them with one `write`, syncs per the fsync policy, publishes the new
//! committed end to the reader and only then acknowledges the whole group.

use std::fs::{File, OpenOptions};
use std::io::{IoSlice, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::{Append, Cached, SegmentMeta, Shared, record, segment};
use crate::config::FsyncPolicy;
use crate::error::IngestError;

/// Bytes one group commit takes at most (a single larger append still goes alone).
const GROUP_BYTES: usize = 8 << 20;

pub(super) struct Writer {
    dir: PathBuf,
    shared: Arc<Shared>,
    policy: FsyncPolicy,
    segment_bytes: u64,
    read_cache_bytes: usize,
    /// The open segment: `(start_seq, file, bytes written)`.
    current: Option<(u64, File, u64)>,
    next_seq: u64,
    last_sync: Instant,
    unsynced: bool,
    buf: Vec<u8>,
}

impl Writer {
    pub(super) fn new(
        dir: PathBuf,
        shared: Arc<Shared>,
        policy: FsyncPolicy,
        segment_bytes: u64,
        read_cache_bytes: usize,
        next_seq: u64,
    ) -> Self {
        Self {
            dir,
            shared,
            policy,
            segment_bytes,
            read_cache_bytes,
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
            let outcome = self.commit(&mut group);
            self.note(&outcome);
            for append in group {
                let reply = match &outcome {
                    Ok(()) => Ok(()),
                    // Back-pressure, not a failure: the client retries and nothing is lost.
                    Err(_) => Err(IngestError::WalUnwritable {
                        retry_after: Duration::from_secs(5),
                    }),
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

    /// Writes one group and publishes it (handing the payloads to the reader's cache); on
    /// failure the segment is cut back so that no torn record stays in the middle of the log.
    fn commit(&mut self, group: &mut [Append]) -> std::io::Result<()> {
        let size: usize = group
            .iter()
            .map(|a| record::HEADER_LEN + a.payload.len())
            .sum();
        self.roll_if_full(size as u64)?;
        let (start, file, len) = match self.current.as_mut() {
            Some(c) => c,
            None => {
                let start = self.next_seq;
                // A file of this name can only be left from an attempt that committed nothing
                // (a failed directory sync on a full disk): start it afresh.
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(segment::path(&self.dir, start))?;
                file.set_len(0)?;
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
        // Headers in one buffer; payloads are written from where they are (no copy).
        self.buf.clear();
        let now = record::now_unix_ms();
        let mut headers = Vec::with_capacity(group.len());
        for (i, a) in group.iter().enumerate() {
            let seq = self.next_seq + i as u64;
            let h = record::header(seq, now, a.rows, a.raw_len, &a.payload);
            headers.push(record::Header {
                len: a.payload.len() as u32,
                seq,
                unix_ms: now,
                rows: a.rows,
                raw_len: a.raw_len,
            });
            self.buf.extend_from_slice(&h);
        }
        let mut slices = Vec::with_capacity(group.len() * 2);
        for (i, a) in group.iter().enumerate() {
            let at = i * record::HEADER_LEN;
            slices.push(IoSlice::new(&self.buf[at..at + record::HEADER_LEN]));
            slices.push(IoSlice::new(&a.payload));
        }
        let written = write_all_vectored(file, &mut slices).and_then(|()| match self.policy {
            FsyncPolicy::Always => file.sync_data(),
            FsyncPolicy::Every(d) if self.last_sync.elapsed() >= d => {
                file.sync_data()?;
                self.last_sync = Instant::now();
                self.unsynced = false;
                Ok(())
            }
            _ => {
                self.unsynced = true;
                Ok(())
            }
        });
        if let Err(e) = written {
            // Cut the torn group off, and seal a segment holding records: what is confirmed
            // in it can then be deleted, which is how a full disk gets room back.
            let cut = file.set_len(*len);
            if *len > 0 || cut.is_err() {
                self.seal_current();
            }
            return Err(e);
        }
        let (start, first_offset) = (*start, *len);
        *len += size as u64;
        let len = *len;
        self.next_seq += group.len() as u64;
        {
            let mut state = self.shared.state.lock();
            if let Some(meta) = state.segments.iter_mut().rev().find(|m| m.start == start) {
                meta.len = len;
            }
            state.next_seq = self.next_seq;
            let mut offset = first_offset;
            for (a, header) in group.iter_mut().zip(headers) {
                let at = offset;
                offset += (record::HEADER_LEN + a.payload.len()) as u64;
                if state.cache_bytes + a.payload.len() > self.read_cache_bytes {
                    continue;
                }
                state.cache_bytes += a.payload.len();
                state.cache.push_back(Cached {
                    segment: start,
                    offset: at,
                    header,
                    payload: std::mem::take(&mut a.payload),
                });
            }
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
        if let Some((_, file, _)) = &self.current
            && self.policy != FsyncPolicy::Never
        {
            file.sync_data()?;
        }
        self.seal_current();
        Ok(())
    }

    /// Closes the open segment for good; the next append starts a new one.
    fn seal_current(&mut self) {
        if let Some((start, _, _)) = self.current.take() {
            let mut state = self.shared.state.lock();
            if let Some(meta) = state.segments.iter_mut().rev().find(|m| m.start == start) {
                meta.sealed = true;
            }
        }
    }

    /// Keeps the state of writes for readiness, and logs when writing fails and recovers
    /// (once each, not per request).
    fn note(&mut self, outcome: &std::io::Result<()>) {
        let mut state = self.shared.state.lock();
        match outcome {
            Ok(()) if state.write_failed_ms != 0 => {
                state.write_failed_ms = 0;
                tracing::info!(table = self.shared.table, "WAL writes succeed again");
            }
            Ok(()) => {}
            Err(e) => {
                if state.write_failed_ms == 0 {
                    tracing::error!(
                        table = self.shared.table, error = %e,
                        "WAL write failed: refusing data with 503 until writes succeed \
                         (confirmed segments are deleted as ClickHouse catches up)"
                    );
                }
                state.write_failed_ms = record::now_unix_ms().max(1);
            }
        }
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

/// `write_all` for vectored writes (std's is unstable): loops over short writes.
fn write_all_vectored(file: &mut File, mut slices: &mut [IoSlice<'_>]) -> std::io::Result<()> {
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
