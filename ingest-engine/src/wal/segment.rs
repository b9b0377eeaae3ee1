//! Segment files: naming, listing, and reading records back with their checks.
//!
//! A segment is named after the sequence number of its first record (`<seq:020>.wal`), so
//! listing the directory gives the log in order without an index file.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::record::{self, HEADER_LEN, Header};

const SUFFIX: &str = ".wal";

/// The file of the segment starting at `start_seq`.
pub(crate) fn path(dir: &Path, start_seq: u64) -> PathBuf {
    dir.join(format!("{start_seq:020}{SUFFIX}"))
}

/// `(start_seq, path)` of every segment in `dir`, oldest first.
pub(crate) fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(start) = name
            .to_str()
            .and_then(|n| n.strip_suffix(SUFFIX))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        found.push((start, entry.path()));
    }
    found.sort_unstable_by_key(|(start, _)| *start);
    Ok(found)
}

/// One record read back.
pub(crate) struct Record {
    pub(crate) header: Header,
    pub(crate) payload: Vec<u8>,
}

/// What reading at an offset found.
pub(crate) enum Found {
    /// A whole, checked record; the next one starts at `offset + HEADER_LEN + len`.
    Record(Record),
    /// Fewer bytes than a header or its payload before `limit`: the end, or a torn write.
    End,
    /// Bytes that are not a valid record.
    Corrupt(&'static str),
}

/// Reads the record at `offset`, looking no further than `limit` bytes into the file.
pub(crate) fn read_at(file: &File, offset: u64, limit: u64) -> io::Result<Found> {
    if offset + HEADER_LEN as u64 > limit {
        return Ok(Found::End);
    }
    let mut header = [0u8; HEADER_LEN];
    file.read_exact_at(&mut header, offset)?;
    let parsed = match record::parse_header(&header) {
        Ok(h) => h,
        Err(why) => return Ok(Found::Corrupt(why)),
    };
    let end = offset + HEADER_LEN as u64 + u64::from(parsed.len);
    if end > limit {
        return Ok(Found::End);
    }
    let mut payload = vec![0u8; parsed.len as usize];
    file.read_exact_at(&mut payload, offset + HEADER_LEN as u64)?;
    if !record::verify(&header, &payload) {
        return Ok(Found::Corrupt("checksum mismatch"));
    }
    Ok(Found::Record(Record {
        header: parsed,
        payload,
    }))
}

/// The result of checking a whole segment.
#[derive(Debug)]
pub(crate) struct Scan {
    /// Bytes of valid records from the start.
    pub(crate) valid_len: u64,
    /// Records in `valid_len`.
    pub(crate) records: u64,
    /// The sequence number after the last valid record.
    pub(crate) next_seq: u64,
    /// The file's length.
    pub(crate) file_len: u64,
    /// Why reading stopped before `file_len`, if it did.
    pub(crate) problem: Option<&'static str>,
}

/// Checks every record of the segment starting at `start_seq`, stopping at the first torn,
/// corrupt or out-of-sequence one.
pub(crate) fn scan(path: &Path, start_seq: u64) -> io::Result<Scan> {
    let mut file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut bytes = Vec::with_capacity(file_len as usize);
    file.read_to_end(&mut bytes)?;
    let mut scan = Scan {
        valid_len: 0,
        records: 0,
        next_seq: start_seq,
        file_len: bytes.len() as u64,
        problem: None,
    };
    let mut at = 0usize;
    while at < bytes.len() {
        let Some(header) = bytes.get(at..at + HEADER_LEN) else {
            scan.problem = Some("torn record header");
            break;
        };
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(header);
        let parsed = match record::parse_header(&h) {
            Ok(p) => p,
            Err(why) => {
                scan.problem = Some(why);
                break;
            }
        };
        let end = at + HEADER_LEN + parsed.len as usize;
        let Some(payload) = bytes.get(at + HEADER_LEN..end) else {
            scan.problem = Some("torn record payload");
            break;
        };
        if !record::verify(&h, payload) {
            scan.problem = Some("checksum mismatch");
            break;
        }
        if parsed.seq != scan.next_seq {
            scan.problem = Some("sequence number out of order");
            break;
        }
        scan.next_seq += 1;
        scan.records += 1;
        at = end;
        scan.valid_len = at as u64;
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(dir: &Path, start: u64, n: u64) -> PathBuf {
        let mut bytes = Vec::new();
        for seq in start..start + n {
            record::put(
                &mut bytes,
                seq,
                1,
                1,
                10,
                format!("payload {seq}").as_bytes(),
            );
        }
        let p = path(dir, start);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn scan_stops_at_torn_and_corrupt_tails() {
        let dir = std::env::temp_dir().join(format!("vigil-seg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = segment(&dir, 5, 3);
        let whole = std::fs::read(&p).unwrap();
        let s = scan(&p, 5).unwrap();
        assert_eq!(
            (s.records, s.next_seq, s.valid_len, s.problem),
            (3, 8, whole.len() as u64, None)
        );

        // A torn last record: only the first two remain valid.
        std::fs::write(&p, &whole[..whole.len() - 3]).unwrap();
        let s = scan(&p, 5).unwrap();
        assert_eq!(
            (s.records, s.next_seq, s.problem),
            (2, 7, Some("torn record payload"))
        );

        // Garbage after valid records, and a flipped byte in the second record.
        let mut bad = whole.clone();
        bad.extend_from_slice(b"garbage garbage garbage garbage garbage");
        std::fs::write(&p, &bad).unwrap();
        assert_eq!(scan(&p, 5).unwrap().records, 3);
        let mut bad = whole.clone();
        let second = HEADER_LEN + "payload 5".len() + HEADER_LEN + 2;
        bad[second] ^= 0x40;
        std::fs::write(&p, &bad).unwrap();
        let s = scan(&p, 5).unwrap();
        assert_eq!((s.records, s.problem), (1, Some("checksum mismatch")));

        let file = File::open(&p).unwrap();
        assert!(
            matches!(read_at(&file, 0, bad.len() as u64).unwrap(), Found::Record(r) if r.header.seq == 5)
        );
        let second_at = (HEADER_LEN + "payload 5".len()) as u64;
        assert!(matches!(
            read_at(&file, second_at, bad.len() as u64).unwrap(),
            Found::Corrupt(_)
        ));
        assert!(matches!(read_at(&file, 0, 10).unwrap(), Found::End));
        segment(&dir, 1, 1);
        let listed: Vec<u64> = list(&dir).unwrap().into_iter().map(|(s, _)| s).collect();
        assert_eq!(listed, [1, 5]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
