//! Delivering one batch: the INSERT with retries (exponential backoff with jitter), and poison
//! isolation — a batch ClickHouse refuses for its data is split in halves (by blocks, then by
//! rows) until the refused rows are alone; those go to the dead-letter file, the rest is stored.
//!
//! Retry rules (see `client::Failure`): transient failures are retried — for WAL batches
//! without limit (the WAL holds the data and pushes back on clients when full), otherwise up
//! to `clickhouse.max_attempts`; data errors are never retried as such; refusals (credentials,
//! schema) are retried like transient ones because only an operator can fix them; unknown
//! errors get `max_attempts` tries and are then treated as data errors. Nothing retries forever
//! on the data itself, and a poison row never blocks the rows around it.

use std::time::Duration;

use bytes::Bytes;

use super::{Block, InsertSettings};
use crate::error::IngestError;
use crate::telemetry::TableLabel;
use storage::client::{ClickHouseError, Failure, FramedBody};
use storage::compression;
use storage::native_rows;

/// One batch's delivery context.
pub(crate) struct Job<'a> {
    pub(crate) table: &'static str,
    pub(crate) query: &'a str,
    /// Deduplication token of the whole batch (WAL batches).
    pub(crate) token: Option<&'a str>,
    /// Retry transient failures without limit (the data is safe in the WAL).
    pub(crate) patient: bool,
    pub(crate) settings: &'a InsertSettings,
}

/// What became of a batch's rows.
#[derive(Debug, Default)]
pub(crate) struct Delivered {
    pub(crate) stored: u64,
    pub(crate) dead_lettered: u64,
}

/// Why an attempt sequence ended without storing.
enum Refusal {
    /// ClickHouse refuses these rows; isolate them.
    Poison(String),
    /// Give up on the batch (WAL off: its requests get an error; shutdown: it stays in the WAL).
    GiveUp(IngestError),
}

/// A part of the batch being tried, with the path that names it in deduplication tokens.
struct Piece {
    blocks: Vec<Block>,
    path: String,
}

/// Stores `blocks`, isolating and dead-lettering rows ClickHouse refuses as invalid.
pub(crate) async fn deliver(job: &Job<'_>, blocks: Vec<Block>) -> Result<Delivered, IngestError> {
    let mut done = Delivered::default();
    let mut work = vec![Piece {
        blocks,
        path: String::new(),
    }];
    while let Some(piece) = work.pop() {
        let rows: u64 = piece.blocks.iter().map(|b| b.rows).sum();
        // Blocks were framed when decoded; an INSERT body is their concatenation.
        let body = FramedBody::new(piece.blocks.iter().map(|b| b.framed.clone()));
        let token = job.token.map(|t| format!("{t}{}", piece.path));
        match insert_with_retries(job, body, token.as_deref()).await {
            Ok(()) => done.stored += rows,
            Err(Refusal::GiveUp(e)) => return Err(e),
            Err(Refusal::Poison(error)) => match halve(piece, job.settings.compression) {
                Ok((left, right)) => {
                    // Left first: push right, then left.
                    work.push(right);
                    work.push(left);
                }
                Err(alone) => {
                    done.dead_lettered += rows;
                    dead_letter(job, &error, alone.blocks, rows).await;
                }
            },
        }
    }
    Ok(done)
}

async fn dead_letter(job: &Job<'_>, error: &str, blocks: Vec<Block>, rows: u64) {
    let settings = job.settings;
    let label = TableLabel { table: job.table };
    settings
        .telemetry
        .dead_lettered
        .get_or_create(&label)
        .inc_by(rows);
    tracing::warn!(
        table = job.table,
        rows,
        error,
        "ClickHouse refused rows; dead-lettered"
    );
    let written = settings
        .dead_letter
        .write(job.table, error, blocks, rows)
        .await;
    if !written {
        settings
            .telemetry
            .dead_letter_overflow
            .get_or_create(&label)
            .inc_by(rows);
    }
}

/// Splits a refused piece in two: by blocks when it has several, else by rows. A single row
/// (or a block that cannot be read back, dead-lettered whole) comes back as `Err`.
fn halve(piece: Piece, compression: compression::Compression) -> Result<(Piece, Piece), Piece> {
    if piece.blocks.len() == 1 && piece.blocks[0].rows >= 2 {
        let block = &piece.blocks[0];
        let at = block.rows / 2;
        let split = compression::unframe(&block.framed)
            .ok()
            .and_then(|raw| native_rows::split(&raw, at).ok());
        let Some((l, r)) = split else {
            return Err(piece);
        };
        let reframe = |raw: &[u8], rows: u64| Block {
            framed: Bytes::from(compression::framed(raw, compression)),
            rows,
        };
        let right_rows = block.rows - at;
        return Ok((
            Piece {
                blocks: vec![reframe(&l, at)],
                path: format!("{}a", piece.path),
            },
            Piece {
                blocks: vec![reframe(&r, right_rows)],
                path: format!("{}b", piece.path),
            },
        ));
    }
    if piece.blocks.len() < 2 {
        return Err(piece);
    }
    let Piece { mut blocks, path } = piece;
    let right = blocks.split_off(blocks.len() / 2);
    Ok((
        Piece {
            blocks,
            path: format!("{path}a"),
        },
        Piece {
            blocks: right,
            path: format!("{path}b"),
        },
    ))
}

async fn insert_with_retries(
    job: &Job<'_>,
    body: FramedBody,
    token: Option<&str>,
) -> Result<(), Refusal> {
    let settings = job.settings;
    let dedup = token.filter(|_| {
        settings
            .dedup_tokens
            .load(std::sync::atomic::Ordering::Acquire)
    });
    let extra: Vec<(&str, &str)> = match dedup {
        Some(t) => vec![("insert_deduplication_token", t)],
        None => Vec::new(),
    };
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let error = match settings
            .client
            .insert_native(job.query, body.clone(), &extra)
            .await
        {
            Ok(()) => {
                settings.telemetry.set_clickhouse_ok(true);
                return Ok(());
            }
            Err(e) => e,
        };
        let failure = error.failure();
        let exhausted = attempt >= settings.max_attempts;
        match failure {
            Failure::Data => return Err(Refusal::Poison(error.to_string())),
            Failure::Unknown if exhausted => return Err(Refusal::Poison(error.to_string())),
            Failure::Transient | Failure::Refused if exhausted && !job.patient => {
                return Err(Refusal::GiveUp(give_up_error(&error)));
            }
            _ => {}
        }
        settings.telemetry.set_clickhouse_ok(false);
        settings
            .telemetry
            .retried
            .get_or_create(&TableLabel { table: job.table })
            .inc();
        let delay = backoff(attempt, settings.retry_base, settings.retry_max);
        if failure == Failure::Refused {
            tracing::error!(table = job.table, attempt, ?delay, %error, "ClickHouse refuses inserts; fix the configuration or schema (data is kept)");
        } else {
            tracing::warn!(table = job.table, attempt, ?delay, %error, "insert failed, retrying");
        }
        tokio::select! {
            _ = settings.abandon.cancelled() => {
                return Err(Refusal::GiveUp(IngestError::ShuttingDown));
            }
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

fn give_up_error(error: &ClickHouseError) -> IngestError {
    match error.failure() {
        Failure::Refused => IngestError::Internal(format!("clickhouse refused the batch: {error}")),
        _ => IngestError::StorageUnavailable {
            retry_after: Duration::from_secs(5),
        },
    }
}

/// Exponential backoff with "equal jitter": half fixed, half random, capped at `max`.
pub(super) fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(max);
    let half = exp / 2;
    half + half.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let (base, max) = (Duration::from_millis(100), Duration::from_secs(2));
        for attempt in 1..40 {
            let d = backoff(attempt, base, max);
            let cap = base.saturating_mul(1 << (attempt - 1).min(16)).min(max);
            assert!(d >= cap / 2 && d <= cap, "attempt {attempt}: {d:?}");
        }
    }
}
