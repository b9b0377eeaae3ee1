//! The probe's metrics, served as OpenMetrics text on `/metrics` by `prometheus-client` (as the
//! ingest engine's are): checks run, late starts and how late, failures by phase, results sent,
//! buffered and dropped, monitors scheduled.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::check::{Outcome, Phase};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabel {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// Upper bounds of the lateness histogram's buckets, in seconds.
const LATENESS_BOUNDS: [f64; 9] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// Metrics shared by the scheduler and the sender.
#[derive(Debug)]
pub struct Telemetry {
    registry: Registry,
    checks: Counter,
    /// Checks that started more than a second after their tick.
    late: Counter,
    failed: Family<PhaseLabel, Counter>,
    sent: Counter,
    buffered: Gauge,
    dropped: Counter,
    monitors: Family<StateLabel, Gauge>,
    lateness: Histogram,
}

impl Default for Telemetry {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("vigil_probe");
        let checks = Counter::default();
        registry.register("checks", "Checks started", checks.clone());
        let late = Counter::default();
        registry.register(
            "checks_late",
            "Checks that started more than 1 s after their tick",
            late.clone(),
        );
        let failed = Family::<PhaseLabel, Counter>::default();
        registry.register(
            "checks_failed",
            "Failed checks by the phase they failed in",
            failed.clone(),
        );
        let sent = Counter::default();
        registry.register(
            "results_sent",
            "Results the ingest engine took",
            sent.clone(),
        );
        let buffered = Gauge::default();
        registry.register(
            "results_buffered",
            "Results waiting to be sent",
            buffered.clone(),
        );
        let dropped = Counter::default();
        registry.register(
            "results_dropped",
            "Results dropped because the buffer was full",
            dropped.clone(),
        );
        let monitors = Family::<StateLabel, Gauge>::default();
        registry.register(
            "monitors",
            "Monitors scheduled, and assigned ones of kinds this probe cannot check",
            monitors.clone(),
        );
        let lateness = Histogram::new(LATENESS_BOUNDS);
        registry.register(
            "check_lateness_seconds",
            "How long after its tick a check started",
            lateness.clone(),
        );
        Self {
            registry,
            checks,
            late,
            failed,
            sent,
            buffered,
            dropped,
            monitors,
            lateness,
        }
    }
}

impl Telemetry {
    pub(crate) fn check_started(&self, late: Duration) {
        self.checks.inc();
        self.lateness.observe(late.as_secs_f64());
        if late > Duration::from_secs(1) {
            self.late.inc();
        }
    }

    pub(crate) fn check_done(&self, o: &Outcome) {
        if let Some((phase, _)) = &o.failure {
            let phase = match phase {
                Phase::Dns => "dns",
                Phase::Connect => "connect",
                Phase::Tls => "tls",
                Phase::Timeout => "timeout",
                Phase::Response => "response",
            };
            self.failed.get_or_create(&PhaseLabel { phase }).inc();
        }
    }

    pub(crate) fn count_sent(&self, n: u64) {
        self.sent.inc_by(n);
    }

    pub(crate) fn count_dropped(&self, n: u64) {
        self.dropped.inc_by(n);
    }

    pub(crate) fn set_buffered(&self, n: usize) {
        self.buffered.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    pub(crate) fn set_monitors(&self, running: usize, unsupported: usize) {
        for (state, n) in [("scheduled", running), ("unsupported", unsupported)] {
            self.monitors
                .get_or_create(&StateLabel { state })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Checks started so far.
    pub fn checks(&self) -> u64 {
        self.checks.get()
    }

    /// Results the engine took so far.
    pub fn sent(&self) -> u64 {
        self.sent.get()
    }

    /// Results dropped so far (the buffer was full).
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Results waiting to be sent.
    pub fn buffered(&self) -> i64 {
        self.buffered.get()
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ignored = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_has_every_metric_by_its_name() {
        let t = Telemetry::default();
        t.check_started(Duration::from_millis(3));
        t.check_started(Duration::from_secs(2));
        t.count_sent(4);
        t.set_monitors(5, 1);
        let text = t.render();
        for line in [
            "vigil_probe_checks_total 2",
            "vigil_probe_checks_late_total 1",
            "vigil_probe_results_sent_total 4",
            "vigil_probe_monitors{state=\"scheduled\"} 5",
            "vigil_probe_check_lateness_seconds_bucket{le=\"0.005\"} 1",
            "vigil_probe_check_lateness_seconds_bucket{le=\"+Inf\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
