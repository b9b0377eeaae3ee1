//! Dead-letter files: rows ClickHouse refused as invalid, kept for an operator with the server's
//! error, one JSON line per refused piece in `<wal.dir>/dead-letter/<table>.ndjson`.
//!
//! Each line carries the rows as a raw Native block in base64, so they can be inspected or
//! re-inserted once fixed: `jq -r .native_base64 | base64 -d | clickhouse-client --query
//! 'INSERT INTO vigil.logs FORMAT Native'`. The files are capped (`wal.dead_letter_max_bytes`);
//! beyond the cap rows are counted and logged, not written.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;

use super::Block;
use crate::budget::ByteBudget;
use storage::compression;

pub(crate) struct DeadLetter {
    dir: PathBuf,
    /// Bytes written by this process plus what the files held at first use.
    budget: ByteBudget,
    measured: std::sync::Once,
    /// One writer at a time, so lines never interleave.
    lock: Arc<parking_lot::Mutex<()>>,
}

impl DeadLetter {
    pub(crate) fn new(dir: PathBuf, max_bytes: u64) -> Self {
        Self {
            dir,
            budget: ByteBudget::new(max_bytes),
            measured: std::sync::Once::new(),
            lock: Arc::new(parking_lot::Mutex::new(())),
        }
    }

    /// Appends the refused rows; false when the cap left no room (or the write failed).
    pub(crate) async fn write(
        &self,
        table: &'static str,
        error: &str,
        blocks: Vec<Block>,
        rows: u64,
    ) -> bool {
        self.measured.call_once(|| {
            let existing = std::fs::read_dir(&self.dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok()?.metadata().ok())
                        .map(|m| m.len())
                        .sum()
                })
                .unwrap_or(0);
            self.budget.add(existing);
        });
        let mut native = Vec::new();
        for block in &blocks {
            match compression::unframe(&block.framed) {
                Ok(raw) => native.extend_from_slice(&raw),
                Err(e) => tracing::error!(table, error = %e, "dead letter: block unreadable"),
            }
        }
        let line = serde_json::json!({
            "unix_ms": crate::wal::record::now_unix_ms(),
            "table": table,
            "rows": rows,
            "error": error,
            "native_base64": base64::engine::general_purpose::STANDARD.encode(&native),
        })
        .to_string()
            + "\n";
        let n = line.len() as u64;
        if !self.budget.try_reserve(n) {
            tracing::error!(
                table,
                rows,
                "dead-letter files are full (wal.dead_letter_max_bytes); rows counted, not written"
            );
            return false;
        }
        let (dir, lock) = (self.dir.clone(), self.lock.clone());
        let written = tokio::task::spawn_blocking(move || {
            let _guard = lock.lock();
            std::fs::create_dir_all(&dir)?;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("{table}.ndjson")))?;
            file.write_all(line.as_bytes())?;
            file.sync_data()
        })
        .await;
        let error = match written {
            Ok(Ok(())) => return true,
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        // Nothing (or a torn line) was written: the bytes are not held.
        self.budget.release(n);
        tracing::error!(table, rows, %error, "dead-letter write failed");
        false
    }
}
