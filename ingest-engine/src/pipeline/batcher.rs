//! Per-table in-memory batching (WAL off): framed Native blocks are collected until a row,
//! (unframed) byte or age bound is reached, then handed to the table's inserter as one INSERT
//! body whose requests wait for it. With the WAL on, its reader cuts the batches instead.

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{AckSender, Batch, Block, Origin};
use crate::config::BatchConfig;
use crate::error::IngestError;

#[derive(Default)]
struct Pending {
    blocks: Vec<Block>,
    bytes: usize,
    rows: u64,
    reserved: usize,
    since: Option<Instant>,
    acks: Vec<AckSender>,
    closed: bool,
}

impl Pending {
    fn take(&mut self) -> Option<Batch> {
        let started = self.since.take()?;
        self.bytes = 0;
        Some(Batch {
            blocks: std::mem::take(&mut self.blocks),
            rows: std::mem::take(&mut self.rows),
            reserved: std::mem::take(&mut self.reserved),
            started,
            origin: Origin::Requests(std::mem::take(&mut self.acks)),
        })
    }
}

pub(crate) struct TableBatcher {
    table: &'static str,
    config: BatchConfig,
    pending: Mutex<Pending>,
    /// Dropped by `close`, so that the inserter sees its channel end once the last batch is in.
    tx: Mutex<Option<mpsc::Sender<Batch>>>,
}

impl TableBatcher {
    pub(crate) fn new(table: &'static str, config: BatchConfig, tx: mpsc::Sender<Batch>) -> Self {
        Self {
            table,
            config,
            pending: Mutex::new(Pending::default()),
            tx: Mutex::new(Some(tx)),
        }
    }

    /// Adds a block; sends the batch on when it is full.
    pub(crate) async fn push(
        &self,
        block: Block,
        raw_len: usize,
        reserved: usize,
        ack: AckSender,
    ) -> Result<(), IngestError> {
        let full = {
            let mut p = self.pending.lock();
            if p.closed {
                return Err(IngestError::ShuttingDown);
            }
            p.bytes += raw_len;
            p.rows += block.rows;
            p.blocks.push(block);
            p.reserved += reserved;
            p.since.get_or_insert_with(Instant::now);
            p.acks.push(ack);
            if p.rows >= self.config.max_rows || p.bytes >= self.config.max_bytes {
                p.take()
            } else {
                None
            }
        };
        if let Some(batch) = full {
            self.send(batch).await;
        }
        Ok(())
    }

    async fn send(&self, batch: Batch) {
        let tx = self.tx.lock().clone();
        let sent = match tx {
            Some(tx) => tx.send(batch).await,
            None => Err(mpsc::error::SendError(batch)),
        };
        if let Err(mpsc::error::SendError(batch)) = sent {
            // The inserter is gone (shutdown): fail the waiters, they will retry elsewhere.
            tracing::warn!(
                table = self.table,
                rows = batch.rows,
                "batch refused at shutdown"
            );
            if let Origin::Requests(acks) = batch.origin {
                for ack in acks {
                    let _ignored = ack.send(Err(IngestError::ShuttingDown));
                }
            }
        }
    }

    fn take_if_older_than(&self, age: Duration) -> Option<Batch> {
        let mut p = self.pending.lock();
        match p.since {
            Some(since) if since.elapsed() >= age => p.take(),
            _ => None,
        }
    }

    /// Sends what is pending and refuses further blocks.
    pub(crate) async fn close(&self) {
        let last = {
            let mut p = self.pending.lock();
            p.closed = true;
            p.take()
        };
        if let Some(batch) = last {
            self.send(batch).await;
        }
        self.tx.lock().take();
    }
}

/// Flushes a table's batch once its oldest row reached `batch.max_age_ms`.
pub(crate) async fn run_age_flusher(table: std::sync::Arc<TableBatcher>, stop: CancellationToken) {
    let age = Duration::from_millis(table.config.max_age_ms);
    let mut tick = tokio::time::interval((age / 4).max(Duration::from_millis(5)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Some(batch) = table.take_if_older_than(age) {
            table.send(batch).await;
        }
    }
}
