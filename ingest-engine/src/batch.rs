//! What travels from a sink (the WAL reader, or the pipeline's in-memory batcher) to a
//! deliverer (an inserter or a publisher): a batch of blocks with its origin, and whom its end
//! is told. Below both the WAL and the pipeline, so that neither reaches into the other.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::error::IngestError;

/// The outcome a request waits for (WAL off).
pub(crate) type AckSender = oneshot::Sender<Result<(), IngestError>>;

/// One request's rows as a framed Native block.
pub(crate) struct Block {
    pub(crate) framed: Bytes,
    pub(crate) rows: u64,
}

/// Where stored ranges are confirmed (a table's write-ahead log).
pub(crate) trait Confirm: Send + Sync {
    /// Records `first..=last` as stored.
    fn confirm(&self, first: u64, last: u64);
}

/// Who is told when a batch is stored.
pub(crate) enum Origin {
    /// WAL off: the requests waiting for this INSERT.
    Requests(Vec<AckSender>),
    /// WAL on: a range of the table's log, confirmed once stored.
    Wal {
        log: Arc<dyn Confirm>,
        first: u64,
        last: u64,
        /// `insert_deduplication_token` (used where the server supports it).
        token: String,
    },
}

impl Origin {
    /// Tells the origin how its batch ended: confirms the WAL range when stored (else it is
    /// sent again), or answers the waiting requests.
    pub(crate) fn settle(self, result: Result<(), &IngestError>) {
        match self {
            Origin::Wal {
                log, first, last, ..
            } => {
                if result.is_ok() {
                    log.confirm(first, last);
                }
            }
            Origin::Requests(acks) => {
                for ack in acks {
                    let outcome = match result {
                        Ok(()) => Ok(()),
                        Err(IngestError::Internal(_)) => Err(IngestError::Internal(String::new())),
                        Err(_) => Err(IngestError::StorageUnavailable {
                            retry_after: Duration::from_secs(5),
                        }),
                    };
                    // The request may have gone away (client timeout); nothing to tell then.
                    let _ignored = ack.send(outcome);
                }
            }
        }
    }
}

/// What is left of a batch once its blocks went to delivery.
pub(crate) struct BatchDone {
    pub(crate) rows: u64,
    pub(crate) reserved: usize,
    pub(crate) started: Instant,
    pub(crate) origin: Origin,
}

/// One INSERT's worth of rows.
pub(crate) struct Batch {
    pub(crate) blocks: Vec<Block>,
    pub(crate) rows: u64,
    /// Memory-budget bytes to release once the batch is done (WAL off).
    pub(crate) reserved: usize,
    pub(crate) started: Instant,
    pub(crate) origin: Origin,
}

impl Batch {
    /// Its blocks, and the rest for [`conclude`].
    pub(crate) fn split(self) -> (Vec<Block>, BatchDone) {
        let Batch {
            blocks,
            rows,
            reserved,
            started,
            origin,
        } = self;
        let done = BatchDone {
            rows,
            reserved,
            started,
            origin,
        };
        (blocks, done)
    }
}
