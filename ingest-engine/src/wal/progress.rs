//! A table log's delivery progress: which record ranges were cut into which INSERT batches,
//! and which of those ClickHouse confirmed.
//!
//! Kept in a small append-only file next to the segments (`progress`), so that after a restart
//! confirmed records are not sent again and unconfirmed batches are re-sent with exactly the
//! same boundaries — which is what makes their `insert_deduplication_token` match the first
//! attempt. Entries are 24 bytes with their own CRC; a torn last entry is ignored (the batch is
//! then simply re-sent: at least once). The file is rewritten small whenever segments go.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

const ENTRY: usize = 24;
const CUT: u8 = 1;
const DONE: u8 = 2;
/// Everything below `a` is done (written by compaction).
const BASE: u8 = 3;

/// Progress of one table log.
pub(crate) struct Progress {
    path: PathBuf,
    file: File,
    /// Every sequence number below this is confirmed (or gone).
    low_water: u64,
    /// Confirmed ranges above `low_water` (start → inclusive end), never overlapping.
    done: BTreeMap<u64, u64>,
    /// Batches cut but not confirmed (first → last).
    cuts: BTreeMap<u64, u64>,
    /// Entries appended since the file was last rewritten.
    appended: u64,
    /// A write failed: the file misses entries until the next rewrite.
    unsaved: bool,
}

fn entry(kind: u8, a: u64, b: u64) -> [u8; ENTRY] {
    let mut e = [0u8; ENTRY];
    e[0] = kind;
    e[8..16].copy_from_slice(&a.to_le_bytes());
    e[16..24].copy_from_slice(&b.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&e[..4]), &e[8..]);
    e[4..8].copy_from_slice(&crc.to_le_bytes());
    e
}

fn parse(e: &[u8]) -> Option<(u8, u64, u64)> {
    let crc = crc32c::crc32c_append(crc32c::crc32c(&e[..4]), &e[8..]);
    let mut stored = [0u8; 4];
    stored.copy_from_slice(&e[4..8]);
    if crc != u32::from_le_bytes(stored) {
        return None;
    }
    let mut a = [0u8; 8];
    let mut b = [0u8; 8];
    a.copy_from_slice(&e[8..16]);
    b.copy_from_slice(&e[16..24]);
    Some((e[0], u64::from_le_bytes(a), u64::from_le_bytes(b)))
}

impl Progress {
    /// Loads `dir/progress`; `oldest` is the first sequence number still in a segment (every
    /// earlier record was confirmed before its segment was deleted). Returns whether a torn or
    /// corrupt entry was found (and ignored).
    pub(crate) fn open(dir: &Path, oldest: u64) -> io::Result<(Self, bool)> {
        let path = dir.join("progress");
        let mut bytes = Vec::new();
        if let Ok(mut f) = File::open(&path) {
            f.read_to_end(&mut bytes)?;
        }
        let mut p = Self {
            file: OpenOptions::new().create(true).append(true).open(&path)?,
            path,
            low_water: oldest,
            done: BTreeMap::new(),
            cuts: BTreeMap::new(),
            appended: 0,
            unsaved: false,
        };
        let mut damaged = bytes.len() % ENTRY != 0;
        for e in bytes.chunks_exact(ENTRY) {
            match parse(e) {
                Some((CUT, a, b)) if a <= b => {
                    p.cuts.insert(a, b);
                }
                Some((DONE, a, b)) if a <= b => p.apply_done(a, b),
                Some((BASE, a, _)) => p.raise_low_water(a),
                _ => {
                    damaged = true;
                    break;
                }
            }
        }
        let stale: Vec<u64> = p.cuts.keys().copied().filter(|a| p.is_done(*a)).collect();
        for a in stale {
            p.cuts.remove(&a);
        }
        // Start from a clean, small file (on a full disk, later).
        p.save();
        Ok((p, damaged))
    }

    /// Marks everything below `seq` done (records that are no longer in any segment).
    pub(crate) fn skip_below(&mut self, seq: u64) {
        self.raise_low_water(seq);
    }

    /// Every sequence number below this is confirmed.
    pub(crate) fn low_water(&self) -> u64 {
        self.low_water
    }

    /// The highest sequence number this file mentions (0 when none): new records must be
    /// numbered above it, even when a truncated tail made the log shorter, so that a batch
    /// boundary (and deduplication token) is never reused for other records.
    pub(crate) fn highest_seen(&self) -> u64 {
        let done = self.done.values().max().copied().unwrap_or(0);
        let cut = self.cuts.values().max().copied().unwrap_or(0);
        done.max(cut).max(self.low_water.saturating_sub(1))
    }

    /// Whether `seq` was confirmed.
    pub(crate) fn is_done(&self, seq: u64) -> bool {
        seq < self.low_water
            || self
                .done
                .range(..=seq)
                .next_back()
                .is_some_and(|(_, end)| *end >= seq)
    }

    /// The last sequence number of an earlier, unconfirmed batch that starts at `seq`.
    pub(crate) fn cut_starting_at(&self, seq: u64) -> Option<u64> {
        self.cuts.get(&seq).copied()
    }

    /// Records that `first..=last` is about to be sent as one batch.
    pub(crate) fn record_cut(&mut self, first: u64, last: u64) {
        self.cuts.insert(first, last);
        self.append(CUT, first, last);
    }

    /// Records that `first..=last` is stored (or can never be: a corrupt region).
    pub(crate) fn record_done(&mut self, first: u64, last: u64) {
        self.cuts.remove(&first);
        self.apply_done(first, last);
        self.append(DONE, first, last);
    }

    /// Rewrites the file with just the current state, if it grew or missed entries; call
    /// after deleting segments (which is when a full disk gets room back).
    pub(crate) fn compact(&mut self) {
        if self.appended >= 4096 || self.unsaved {
            self.save();
        }
    }

    /// The state in memory is what counts: a write that fails (a full disk) is logged and
    /// the whole state rewritten at the next chance. A crash before that replays batches the
    /// file missed — sent twice, never lost — which keeps the reader running, and so deleting
    /// confirmed segments, when the disk is full.
    fn append(&mut self, kind: u8, a: u64, b: u64) {
        self.appended += 1;
        if self.unsaved {
            return;
        }
        if let Err(error) = self.file.write_all(&entry(kind, a, b)) {
            tracing::warn!(path = %self.path.display(), %error, "WAL progress not written; it is rewritten once the disk has room");
            self.unsaved = true;
        }
    }

    fn save(&mut self) {
        match self.rewrite() {
            Ok(()) => self.unsaved = false,
            Err(error) => {
                tracing::warn!(path = %self.path.display(), %error, "WAL progress not rewritten; tried again later");
                self.unsaved = true;
            }
        }
    }

    fn apply_done(&mut self, a: u64, b: u64) {
        if b < self.low_water {
            return;
        }
        let (mut a, mut b) = (a.max(self.low_water), b);
        // Merge with neighbours that touch or overlap.
        if let Some((&s, &e)) = self.done.range(..=a).next_back()
            && e.saturating_add(1) >= a
        {
            a = s;
            b = b.max(e);
            self.done.remove(&s);
        }
        while let Some((&s, &e)) = self.done.range(a..).next() {
            if s > b.saturating_add(1) {
                break;
            }
            b = b.max(e);
            self.done.remove(&s);
        }
        self.done.insert(a, b);
        self.raise_low_water(self.low_water);
    }

    fn raise_low_water(&mut self, to: u64) {
        self.low_water = self.low_water.max(to);
        while let Some((&s, &e)) = self.done.first_key_value() {
            if s > self.low_water {
                break;
            }
            self.done.remove(&s);
            self.low_water = self.low_water.max(e + 1);
        }
    }

    fn rewrite(&mut self) -> io::Result<()> {
        let mut bytes = Vec::with_capacity((2 + self.done.len() + self.cuts.len()) * ENTRY);
        bytes.extend_from_slice(&entry(BASE, self.low_water, 0));
        for (a, b) in &self.done {
            bytes.extend_from_slice(&entry(DONE, *a, *b));
        }
        for (a, b) in &self.cuts {
            bytes.extend_from_slice(&entry(CUT, *a, *b));
        }
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, &self.path)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.appended = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_ranges_merge_and_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("vigil-progress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (mut p, damaged) = Progress::open(&dir, 10).unwrap();
        assert!(!damaged);
        p.record_cut(10, 19);
        p.record_cut(20, 29);
        p.record_cut(30, 39);
        p.record_done(20, 29);
        assert_eq!(p.low_water(), 10, "out-of-order confirmation leaves a gap");
        assert!(p.is_done(25) && !p.is_done(15) && !p.is_done(30));
        drop(p);

        let (mut p, _) = Progress::open(&dir, 10).unwrap();
        assert_eq!(p.cut_starting_at(10), Some(19));
        assert_eq!(
            p.cut_starting_at(20),
            None,
            "confirmed batches are not re-sent"
        );
        assert_eq!(p.cut_starting_at(30), Some(39));
        p.record_done(10, 19);
        assert_eq!(p.low_water(), 30);
        drop(p);

        // A torn last entry is ignored and reported.
        let file = dir.join("progress");
        let mut bytes = std::fs::read(&file).unwrap();
        bytes.extend_from_slice(&[1, 2, 3]);
        std::fs::write(&file, &bytes).unwrap();
        let (p, damaged) = Progress::open(&dir, 10).unwrap();
        assert!(damaged);
        assert_eq!((p.low_water(), p.cut_starting_at(30)), (30, Some(39)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
