//! Start-up of a table log: listing its segments and truncating a torn or corrupt tail after
//! the last valid record; and the WAL's identity (part of every deduplication token).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use super::{SegmentMeta, segment};
use crate::telemetry::{TableLabel, Telemetry};

/// What recovery found.
#[derive(Debug, Default)]
pub(super) struct Recovery {
    pub(super) segments: usize,
    /// The sequence number after the last valid record, when there were segments.
    pub(super) next_seq: Option<u64>,
}

/// Lists the segments of `dir`, truncating the last one after its last valid record (a torn
/// write or corruption there is reported, the records before it kept).
pub(super) fn recover(
    dir: &Path,
    table: &'static str,
    telemetry: &Telemetry,
) -> std::io::Result<(VecDeque<SegmentMeta>, Recovery)> {
    let files = segment::list(dir)?;
    let mut metas = VecDeque::with_capacity(files.len());
    let mut recovery = Recovery {
        segments: files.len(),
        ..Recovery::default()
    };
    let last = files.len().saturating_sub(1);
    for (i, (start, path)) in files.into_iter().enumerate() {
        let mut len = std::fs::metadata(&path)?.len();
        if i == last {
            let scan = segment::scan(&path, start)?;
            if let Some(problem) = scan.problem {
                telemetry
                    .wal_corruptions
                    .get_or_create(&TableLabel { table })
                    .inc();
                tracing::warn!(
                    table,
                    segment = %path.display(),
                    problem,
                    kept_records = scan.records,
                    dropped_bytes = scan.file_len - scan.valid_len,
                    "WAL tail is torn or corrupt; truncating it after the last valid record \
                     (a torn tail is a write that was never acknowledged)"
                );
                let file = std::fs::OpenOptions::new().write(true).open(&path)?;
                file.set_len(scan.valid_len)?;
                file.sync_all()?;
            }
            len = scan.valid_len;
            recovery.next_seq = Some(scan.next_seq);
            if len == 0 {
                std::fs::remove_file(&path)?;
                continue;
            }
        }
        metas.push_back(SegmentMeta {
            start,
            len,
            sealed: true,
        });
    }
    Ok((metas, recovery))
}

/// The WAL's identity: a random id created with the directory, so that deduplication tokens
/// from a wiped and re-created WAL never collide with older ones.
pub(crate) fn wal_id(dir: &Path) -> std::io::Result<String> {
    std::fs::create_dir_all(dir)?;
    let path: PathBuf = dir.join("wal-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() {
            return Ok(id.to_owned());
        }
    }
    let id = format!("{:016x}", fastrand::u64(..));
    let tmp = dir.join("wal-id.tmp");
    std::fs::write(&tmp, &id)?;
    std::fs::rename(&tmp, &path)?;
    Ok(id)
}
