//! The probe's counters, served as Prometheus text on `/metrics`: checks run, late starts,
//! failures by phase, results sent, buffered and dropped, monitors scheduled.

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
    /// How late checks started, by upper bound in ms ([`LATENESS_BOUNDS_MS`], then +Inf).
    pub lateness: [AtomicU64; LATENESS_BOUNDS_MS.len() + 1],
}

/// Upper bounds of the lateness histogram's buckets, in milliseconds.
pub const LATENESS_BOUNDS_MS: [u64; 9] = [1, 5, 10, 50, 100, 250, 500, 1000, 5000];

impl Telemetry {
    pub(crate) fn check_started(&self, late: Duration) {
        self.checks.fetch_add(1, Ordering::Relaxed);
        let late_ms = late.as_millis() as u64;
        let bucket = LATENESS_BOUNDS_MS
            .iter()
            .position(|b| late_ms < *b)
            .unwrap_or(LATENESS_BOUNDS_MS.len());
        self.lateness[bucket].fetch_add(1, Ordering::Relaxed);
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

impl Telemetry {
    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::with_capacity(1024);
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, value) in samples {
                out.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        metric(
            "vigil_probe_checks_total",
            "counter",
            "Checks started.",
            &[("", get(&self.checks))],
        );
        metric(
            "vigil_probe_checks_late_total",
            "counter",
            "Checks that started more than 1 s after their tick.",
            &[("", get(&self.late))],
        );
        metric(
            "vigil_probe_checks_failed_total",
            "counter",
            "Failed checks by the phase they failed in.",
            &[
                ("{phase=\"dns\"}", get(&self.failed_dns)),
                ("{phase=\"connect\"}", get(&self.failed_connect)),
                ("{phase=\"tls\"}", get(&self.failed_tls)),
                ("{phase=\"timeout\"}", get(&self.failed_timeout)),
                ("{phase=\"response\"}", get(&self.failed_response)),
            ],
        );
        metric(
            "vigil_probe_results_sent_total",
            "counter",
            "Results the ingest engine took.",
            &[("", get(&self.sent))],
        );
        metric(
            "vigil_probe_results_buffered",
            "gauge",
            "Results waiting to be sent.",
            &[("", get(&self.buffered))],
        );
        metric(
            "vigil_probe_results_dropped_total",
            "counter",
            "Results dropped because the buffer was full.",
            &[("", get(&self.dropped))],
        );
        metric(
            "vigil_probe_monitors",
            "gauge",
            "Monitors scheduled, and assigned ones of kinds this probe cannot check.",
            &[
                ("{state=\"scheduled\"}", get(&self.monitors)),
                ("{state=\"unsupported\"}", get(&self.unsupported)),
            ],
        );
        // Cumulative, as Prometheus histograms are.
        out.push_str(
            "# HELP vigil_probe_check_lateness_seconds How long after its tick a check started.\n\
             # TYPE vigil_probe_check_lateness_seconds histogram\n",
        );
        let mut cumulative = 0;
        for (i, bound) in LATENESS_BOUNDS_MS.iter().enumerate() {
            cumulative += get(&self.lateness[i]);
            let le = *bound as f64 / 1000.0;
            out.push_str(&format!(
                "vigil_probe_check_lateness_seconds_bucket{{le=\"{le}\"}} {cumulative}\n"
            ));
        }
        cumulative += get(&self.lateness[LATENESS_BOUNDS_MS.len()]);
        out.push_str(&format!(
            "vigil_probe_check_lateness_seconds_bucket{{le=\"+Inf\"}} {cumulative}\n\
             vigil_probe_check_lateness_seconds_count {cumulative}\n"
        ));
        out
    }
}
