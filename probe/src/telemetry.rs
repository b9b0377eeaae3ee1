//! The probe's counters (served on `/metrics` in a later part; logged meanwhile): checks run,
//! late starts, failures by phase, results sent, buffered and dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::check::Outcome;

/// Counters shared by the scheduler and the sender.
#[derive(Debug, Default)]
pub struct Telemetry {
    pub checks: AtomicU64,
    /// Checks that started more than a second after their tick.
    pub late: AtomicU64,
    pub failed_dns: AtomicU64,
    pub failed_connect: AtomicU64,
    pub failed_tls: AtomicU64,
    pub failed_timeout: AtomicU64,
    pub failed_response: AtomicU64,
    pub sent: AtomicU64,
    pub buffered: AtomicU64,
    pub dropped: AtomicU64,
    pub monitors: AtomicU64,
    pub unsupported: AtomicU64,
}

impl Telemetry {
    pub(crate) fn check_started(&self, late: Duration) {
        self.checks.fetch_add(1, Ordering::Relaxed);
        if late > Duration::from_secs(1) {
            self.late.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn check_done(&self, o: &Outcome) {
        use crate::check::Phase;
        if let Some((phase, _)) = &o.failure {
            let counter = match phase {
                Phase::Dns => &self.failed_dns,
                Phase::Connect => &self.failed_connect,
                Phase::Tls => &self.failed_tls,
                Phase::Timeout => &self.failed_timeout,
                Phase::Response => &self.failed_response,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn set_buffered(&self, n: usize) {
        self.buffered.store(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn set_monitors(&self, running: usize, unsupported: usize) {
        self.monitors.store(running as u64, Ordering::Relaxed);
        self.unsupported
            .store(unsupported as u64, Ordering::Relaxed);
    }
}
