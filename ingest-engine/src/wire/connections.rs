//! The open connections of one listener: a cap in total and per client address, and the
//! rule that makes room at a cap — the connection idle the longest (no request or frame in
//! progress) is closed for the newcomer. A connection that never sends anything is idle from
//! the moment it was accepted, so silent sockets are the first to go and cannot lock real
//! clients out; connections at work are never closed to make room.
//!
//! Hand-written rather than a tower layer: the choice of which connection to close needs every
//! connection's idle time, which no per-request middleware sees.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What a connection is doing, updated by its task and read by the table.
#[derive(Debug)]
pub(crate) struct Activity {
    /// Requests (or frames) in progress.
    busy: AtomicUsize,
    /// When the connection last became idle, ms since the table's epoch.
    idle_since_ms: AtomicU64,
    /// Whether a request (or frame) was ever started.
    started: AtomicBool,
    epoch: Instant,
}

impl Activity {
    fn new(epoch: Instant) -> Self {
        Self {
            busy: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(elapsed_ms(epoch)),
            started: AtomicBool::new(false),
            epoch,
        }
    }

    /// A request (or frame) begins; the connection is busy until the guard drops.
    pub(crate) fn begin(self: &Arc<Self>) -> Busy {
        self.started.store(true, Ordering::Relaxed);
        self.busy.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    fn idle_for(&self) -> Option<Duration> {
        if self.busy.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = self.idle_since_ms.load(Ordering::Relaxed);
        Some(Duration::from_millis(
            elapsed_ms(self.epoch).saturating_sub(since),
        ))
    }

    /// Resolves once the connection has been idle past its deadline: `first` before any
    /// request, `idle` between requests. Busy connections are never timed out here.
    pub(crate) async fn expired(&self, first: Duration, idle: Duration) {
        loop {
            let limit = if self.started.load(Ordering::Relaxed) {
                idle
            } else {
                first
            };
            let wait = match self.idle_for() {
                Some(idle_for) if idle_for >= limit => return,
                Some(idle_for) => limit - idle_for,
                None => limit,
            };
            tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
        }
    }
}

/// A request (or frame) in progress on a connection.
pub(crate) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let activity = &self.0;
        activity
            .idle_since_ms
            .store(elapsed_ms(activity.epoch), Ordering::Relaxed);
        activity.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

fn elapsed_ms(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

struct Entry {
    address: IpAddr,
    activity: Arc<Activity>,
    close: CancellationToken,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    by_id: HashMap<u64, Entry>,
    per_address: HashMap<IpAddr, usize>,
}

impl Open {
    fn remove(&mut self, id: u64) -> Option<Entry> {
        let entry = self.by_id.remove(&id)?;
        if let Some(n) = self.per_address.get_mut(&entry.address) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&entry.address);
            }
        }
        Some(entry)
    }

    /// Closes the connection idle the longest (of `address` only, when given).
    fn close_idlest(&mut self, address: Option<IpAddr>) -> bool {
        let victim = self
            .by_id
            .iter()
            .filter(|(_, e)| address.is_none_or(|a| e.address == a))
            .filter_map(|(id, e)| Some((*id, e.activity.idle_for()?)))
            .max_by_key(|(_, idle)| *idle)
            .map(|(id, _)| id);
        match victim.and_then(|id| self.remove(id)) {
            Some(entry) => {
                entry.close.cancel();
                true
            }
            None => false,
        }
    }
}

/// The connection table of one listener.
pub(crate) struct Connections {
    name: &'static str,
    max_total: usize,
    max_per_address: usize,
    open: Mutex<Open>,
    freed: Notify,
    epoch: Instant,
}

/// Why a connection was not admitted.
#[derive(Debug, thiserror::Error)]
#[error("{0} connections from this address, all busy")]
pub(crate) struct AddressFull(usize);

impl Connections {
    pub(crate) fn new(name: &'static str, max_total: usize, max_per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            name,
            max_total: max_total.max(1),
            max_per_address: max_per_address.max(1),
            open: Mutex::new(Open::default()),
            freed: Notify::new(),
            epoch: Instant::now(),
        })
    }

    /// A slot for a connection from `address`. At the per-address cap the idlest connection
    /// of that address is closed, or the newcomer refused when all of them are busy; at the
    /// total cap the idlest of all is closed, or the newcomer waits until one ends.
    pub(crate) async fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Slot, AddressFull> {
        loop {
            let freed = self.freed.notified();
            {
                let mut open = self.open.lock();
                let from_address = open.per_address.get(&address).copied().unwrap_or(0);
                if from_address >= self.max_per_address && !open.close_idlest(Some(address)) {
                    return Err(AddressFull(from_address));
                }
                if from_address >= self.max_per_address {
                    tracing::debug!(listener = self.name, %address, "idle connection closed for a newcomer from its address");
                }
                let room = open.by_id.len() < self.max_total || {
                    let closed = open.close_idlest(None);
                    if closed {
                        tracing::debug!(
                            listener = self.name,
                            "idle connection closed for a newcomer"
                        );
                    }
                    closed
                };
                if room {
                    let id = open.next_id;
                    open.next_id += 1;
                    let activity = Arc::new(Activity::new(self.epoch));
                    let close = CancellationToken::new();
                    open.by_id.insert(
                        id,
                        Entry {
                            address,
                            activity: activity.clone(),
                            close: close.clone(),
                        },
                    );
                    *open.per_address.entry(address).or_default() += 1;
                    return Ok(Slot {
                        id,
                        table: self.clone(),
                        activity,
                        close,
                    });
                }
            }
            // Every connection is busy: wait for one to end (the kernel backlog holds the rest).
            freed.await;
        }
    }

    /// Open connections.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.open.lock().by_id.len()
    }
}

/// A connection's place in the table; dropping it frees the place.
pub(crate) struct Slot {
    id: u64,
    table: Arc<Connections>,
    /// What the connection is doing (its task updates it).
    pub(crate) activity: Arc<Activity>,
    /// Cancelled when the table closes this connection to make room.
    pub(crate) close: CancellationToken,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table.open.lock().remove(self.id);
        self.table.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[tokio::test]
    async fn at_the_cap_the_idlest_connection_makes_room_and_busy_ones_stay() {
        let table = Connections::new("t", 2, 10);
        let first = table.admit(A).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = table.admit(A).await.unwrap();
        let _working = second.activity.begin();
        // The first (idle, older) is closed for the third; the busy second stays.
        let _third = table.admit(B).await.unwrap();
        assert!(first.close.is_cancelled());
        assert!(!second.close.is_cancelled());
        assert_eq!(table.len(), 2);
    }

    #[tokio::test]
    async fn an_address_at_its_cap_with_every_connection_busy_is_refused() {
        let table = Connections::new("t", 10, 1);
        let only = table.admit(A).await.unwrap();
        let _working = only.activity.begin();
        assert!(table.admit(A).await.is_err());
        assert!(table.admit(B).await.is_ok());
    }

    #[tokio::test]
    async fn a_full_table_of_busy_connections_waits_for_one_to_end() {
        let table = Connections::new("t", 1, 10);
        let only = table.admit(A).await.unwrap();
        let working = only.activity.begin();
        let waiting = tokio::spawn({
            let table = table.clone();
            async move { table.admit(B).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(working);
        drop(only);
        waiting.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn silence_expires_before_the_first_request_and_between_requests() {
        let table = Connections::new("t", 10, 10);
        let slot = table.admit(A).await.unwrap();
        let short = Duration::from_millis(30);
        let long = Duration::from_secs(60);
        // Never started: the first-request deadline applies.
        tokio::time::timeout(Duration::from_secs(1), slot.activity.expired(short, long))
            .await
            .unwrap();
        // Started and idle: the idle deadline applies.
        drop(slot.activity.begin());
        let waited = tokio::time::timeout(
            Duration::from_millis(200),
            slot.activity.expired(short, long),
        );
        assert!(waited.await.is_err());
    }
}
