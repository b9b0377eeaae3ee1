//! The WAL reader thread: reads committed records back in order, cuts them into INSERT batches
//! for the table's inserter, records confirmations, and deletes fully confirmed segments.
//!
//! Reading back what was just written costs a copy from the page cache, which keeps one path
//! for live data, replay after a crash and catch-up after a ClickHouse outage. Records whose
//! batch was cut before a restart are re-sent with the same boundaries (same deduplication
//! token); confirmed ones are skipped.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::progress::Progress;
use super::segment::{self, Found};
use super::{Cached, Shared, record};
use crate::batch::{Batch, Block, Origin};
use crate::budget::ByteBudget;
use crate::config::BatchConfig;
use crate::telemetry::{TableLabel, Telemetry};

/// Records read per pass before the reader looks at confirmations and batch age again.
const READ_PASS: usize = 4096;

pub(super) struct ReaderSettings {
    pub(super) dir: PathBuf,
    pub(super) shared: Arc<Shared>,
    pub(super) progress: Progress,
    pub(super) batch: BatchConfig,
    pub(super) batches: mpsc::Sender<Batch>,
    pub(super) token_prefix: String,
    /// Records below this were written before this start: sending them is a replay.
    pub(super) replay_until: u64,
    pub(super) budget: Arc<ByteBudget>,
    pub(super) telemetry: Arc<Telemetry>,
}

/// Where the reader is.
struct Cursor {
    start: u64,
    file: File,
    offset: u64,
}

/// The batch being collected.
#[derive(Default)]
struct Pending {
    blocks: Vec<Block>,
    rows: u64,
    raw_bytes: usize,
    first: u64,
    last: u64,
    oldest_ms: u64,
    since: Option<Instant>,
    /// Set when this batch re-sends one cut before a restart: it ends exactly there.
    forced_last: Option<u64>,
}

pub(super) struct Reader {
    s: ReaderSettings,
    cursor: Option<Cursor>,
    /// The next sequence number expected.
    expect: u64,
    pending: Pending,
    /// Batches sent and not yet confirmed: first → append time of their oldest record.
    in_flight: BTreeMap<u64, u64>,
    label: TableLabel,
}

enum Step {
    /// Records were read (or skipped).
    Progressed,
    /// Nothing more is committed yet.
    CaughtUp,
}

impl Reader {
    pub(super) fn new(s: ReaderSettings) -> Self {
        let expect = s.progress.low_water();
        let label = TableLabel {
            table: s.shared.table,
        };
        Self {
            s,
            cursor: None,
            expect,
            pending: Pending::default(),
            in_flight: BTreeMap::new(),
            label,
        }
    }

    pub(super) fn run(mut self) {
        if let Err(e) = self.run_inner() {
            tracing::error!(table = self.label.table, error = %e, "WAL reader stopped; data stays in the WAL until restart");
        }
    }

    fn run_inner(&mut self) -> std::io::Result<()> {
        loop {
            self.apply_confirmations()?;
            let step = self.read_pass()?;
            let (closing, writer_done, abandon) = {
                let st = self.s.shared.state.lock();
                (st.closing, st.writer_done, st.abandon)
            };
            if abandon {
                return Ok(());
            }
            let caught_up = matches!(step, Step::CaughtUp);
            if self.pending_due(closing && caught_up) && !self.send_pending()? {
                return Ok(());
            }
            if closing
                && writer_done
                && caught_up
                && self.pending.blocks.is_empty()
                && self.in_flight.is_empty()
            {
                self.publish_oldest();
                return Ok(());
            }
            self.publish_oldest();
            if caught_up {
                let wait = match self.pending.since {
                    Some(since) => Duration::from_millis(self.s.batch.max_age_ms)
                        .saturating_sub(since.elapsed())
                        .max(Duration::from_millis(1)),
                    None => Duration::from_millis(500),
                };
                let mut st = self.s.shared.state.lock();
                if st.confirmed.is_empty() && !st.abandon && st.next_seq <= self.expect {
                    self.s.shared.wake.wait_for(&mut st, wait);
                }
            }
        }
    }

    fn pending_due(&self, flush_now: bool) -> bool {
        let p = &self.pending;
        let Some(since) = p.since else {
            return false;
        };
        flush_now
            || p.forced_last.is_some_and(|last| p.last >= last)
            || p.rows >= self.s.batch.max_rows
            || p.raw_bytes >= self.s.batch.max_bytes
            || since.elapsed() >= Duration::from_millis(self.s.batch.max_age_ms)
    }

    /// Records the confirmations the inserter reported and deletes segments they completed.
    fn apply_confirmations(&mut self) -> std::io::Result<()> {
        let confirmed = std::mem::take(&mut self.s.shared.state.lock().confirmed);
        if confirmed.is_empty() {
            return Ok(());
        }
        for (first, last) in confirmed {
            self.in_flight.remove(&first);
            self.s.progress.record_done(first, last);
        }
        let low_water = self.s.progress.low_water();
        let mut deleted = false;
        loop {
            let reading = self.cursor.as_ref().map(|c| c.start);
            let doomed = {
                let mut st = self.s.shared.state.lock();
                // A sealed segment ends where the next begins; the last one, sealed after a
                // failed write, ends at the next record to come.
                let end = match (st.segments.front(), st.segments.get(1)) {
                    (Some(first), Some(next)) if first.sealed => Some(next.start),
                    (Some(first), None) if first.sealed => Some(st.next_seq),
                    _ => None,
                };
                match (st.segments.front(), end) {
                    (Some(first), Some(end))
                        if end <= low_water
                            && (Some(first.start) != reading || self.expect >= end) =>
                    {
                        st.segments.pop_front()
                    }
                    _ => None,
                }
            };
            let Some(meta) = doomed else { break };
            if reading == Some(meta.start) {
                self.cursor = None;
            }
            std::fs::remove_file(segment::path(&self.s.dir, meta.start))?;
            self.s.budget.release(meta.len);
            deleted = true;
        }
        if deleted {
            self.s.progress.compact();
        }
        Ok(())
    }

    /// Reads up to `READ_PASS` committed records into the pending batch, sending batches that
    /// fill up on the way.
    fn read_pass(&mut self) -> std::io::Result<Step> {
        for _ in 0..READ_PASS {
            if self.pending_due(false) {
                return Ok(Step::Progressed);
            }
            if self.cursor.is_none() && !self.open_next()? {
                return Ok(Step::CaughtUp);
            }
            let Some(cursor) = self.cursor.as_mut() else {
                return Ok(Step::CaughtUp);
            };
            let (limit, sealed, next_start) = {
                let st = self.s.shared.state.lock();
                let mut it = st.segments.iter().skip_while(|m| m.start != cursor.start);
                match it.next() {
                    Some(meta) => (meta.len, meta.sealed, it.next().map(|m| m.start)),
                    None => (0, true, None),
                }
            };
            if let Some(c) = take_cached(&self.s.shared, cursor.start, cursor.offset) {
                cursor.offset += (record::HEADER_LEN + c.payload.len()) as u64;
                self.take(c.header, c.payload)?;
                continue;
            }
            match segment::read_at(&cursor.file, cursor.offset, limit)? {
                Found::Record(r) => {
                    cursor.offset += (record::HEADER_LEN + r.payload.len()) as u64;
                    self.take(r.header, r.payload)?;
                }
                Found::End if !sealed || next_start.is_none() => {
                    if cursor.offset < limit {
                        self.skip_corrupt("torn record", next_start, limit)?;
                        continue;
                    }
                    return Ok(Step::CaughtUp);
                }
                Found::End => {
                    if cursor.offset < limit {
                        self.skip_corrupt("torn record", next_start, limit)?;
                    } else {
                        self.leave_segment(next_start)?;
                    }
                }
                Found::Corrupt(why) => self.skip_corrupt(why, next_start, limit)?,
            }
        }
        Ok(Step::Progressed)
    }

    /// Opens the segment holding `expect` (or the first after it); false when there is none.
    fn open_next(&mut self) -> std::io::Result<bool> {
        let start = {
            let st = self.s.shared.state.lock();
            let holding = st
                .segments
                .iter()
                .rev()
                .find(|m| m.start <= self.expect)
                .or_else(|| st.segments.front());
            holding.map(|m| m.start)
        };
        let Some(start) = start else {
            return Ok(false);
        };
        let file = File::open(segment::path(&self.s.dir, start))?;
        if self.expect < start {
            // Records before the segment are gone (deleted or lost): nothing to wait for.
            self.s.progress.record_done(self.expect, start - 1);
            self.expect = start;
        }
        self.cursor = Some(Cursor {
            start,
            file,
            offset: 0,
        });
        Ok(true)
    }

    /// Moves past the end of a sealed segment; anything between its last record and the next
    /// segment's first can never arrive and is marked done.
    fn leave_segment(&mut self, next_start: Option<u64>) -> std::io::Result<()> {
        self.cursor = None;
        if let Some(next) = next_start {
            if self.expect < next {
                self.s.progress.record_done(self.expect, next - 1);
            }
            self.expect = next;
        }
        Ok(())
    }

    /// A record that fails its checks: report it and skip the rest of the segment (the records
    /// before it were taken already).
    fn skip_corrupt(
        &mut self,
        why: &'static str,
        next_start: Option<u64>,
        limit: u64,
    ) -> std::io::Result<()> {
        self.s
            .telemetry
            .wal_corruptions
            .get_or_create(&self.label)
            .inc();
        let (segment, offset) = self.cursor.as_ref().map_or((0, 0), |c| (c.start, c.offset));
        tracing::error!(
            table = self.label.table,
            segment,
            offset,
            problem = why,
            from_seq = self.expect,
            "corrupt WAL record; skipping the rest of its segment"
        );
        match next_start {
            Some(next) => self.leave_segment(Some(next)),
            None => {
                // The segment being written: skip to what is committed now.
                let committed = self.s.shared.state.lock().next_seq;
                if self.expect < committed {
                    self.s.progress.record_done(self.expect, committed - 1);
                }
                self.expect = committed;
                if let Some(cursor) = self.cursor.as_mut() {
                    cursor.offset = limit;
                }
                Ok(())
            }
        }
    }

    /// Adds one record to the pending batch (or skips it when it is confirmed already).
    fn take(&mut self, h: record::Header, payload: Vec<u8>) -> std::io::Result<()> {
        let seq = h.seq;
        if seq < self.expect || self.s.progress.is_done(seq) {
            self.expect = self.expect.max(seq + 1);
            return Ok(());
        }
        if seq > self.expect {
            // Records that can never arrive (e.g. a corrupt region) are not waited for.
            self.s.progress.record_done(self.expect, seq - 1);
        }
        self.expect = seq + 1;
        let earlier_cut = self.s.progress.cut_starting_at(seq);
        let must_cut = match self.pending.forced_last {
            Some(last) => seq > last,
            None => earlier_cut.is_some(),
        };
        if must_cut && !self.pending.blocks.is_empty() && !self.send_pending()? {
            return Ok(());
        }
        if seq < self.s.replay_until {
            self.s
                .telemetry
                .wal_replayed
                .get_or_create(&self.label)
                .inc_by(u64::from(h.rows));
        }
        let p = &mut self.pending;
        if p.blocks.is_empty() {
            p.first = seq;
            p.oldest_ms = h.unix_ms;
            p.since = Some(Instant::now());
            p.forced_last = earlier_cut;
        }
        p.last = seq;
        p.rows += u64::from(h.rows);
        p.raw_bytes += h.raw_len as usize;
        p.blocks.push(Block {
            framed: payload.into(),
            rows: u64::from(h.rows),
        });
        Ok(())
    }

    /// Sends the pending batch to the inserter (waiting while it is busy). False when the
    /// inserter is gone (shutdown).
    fn send_pending(&mut self) -> std::io::Result<bool> {
        let p = std::mem::take(&mut self.pending);
        if p.blocks.is_empty() {
            return Ok(true);
        }
        if p.forced_last.is_none() {
            self.s.progress.record_cut(p.first, p.last);
        }
        self.in_flight.insert(p.first, p.oldest_ms);
        self.publish_oldest();
        let batch = Batch {
            blocks: p.blocks,
            rows: p.rows,
            reserved: 0,
            started: p.since.unwrap_or_else(Instant::now),
            origin: Origin::Wal {
                log: self.s.shared.clone(),
                first: p.first,
                last: p.last,
                token: format!("{}-{}-{}", self.s.token_prefix, p.first, p.last),
            },
        };
        Ok(self.s.batches.blocking_send(batch).is_ok())
    }

    /// Publishes the append time of the oldest record not yet confirmed.
    fn publish_oldest(&self) {
        let oldest = self
            .in_flight
            .values()
            .copied()
            .chain((!self.pending.blocks.is_empty()).then_some(self.pending.oldest_ms))
            .min()
            .unwrap_or(0);
        let mut st = self.s.shared.state.lock();
        // Unread records are younger than anything in flight; when nothing is in flight they
        // are the backlog, so report at least "now" rather than nothing.
        st.oldest_unconfirmed_ms = if oldest == 0 && st.next_seq > self.expect {
            record::now_unix_ms()
        } else {
            oldest
        };
    }
}

/// The record at `(segment, offset)` from the writer's cache, if it is there; entries for
/// positions the reader already passed (read from the file instead) are dropped.
fn take_cached(shared: &Shared, segment: u64, offset: u64) -> Option<Cached> {
    let mut st = shared.state.lock();
    loop {
        let front = st.cache.front()?;
        let at = (front.segment, front.offset);
        if at > (segment, offset) {
            return None;
        }
        let entry = st.cache.pop_front()?;
        st.cache_bytes -= entry.payload.len();
        if at == (segment, offset) {
            return Some(entry);
        }
    }
}
