//! The schedule: one task per assigned monitor, first run at a jitter derived from the monitor's
//! id (so thousands of monitors spread over their interval, and the spread survives restarts),
//! then every interval on a fixed grid (no drift; a tick missed while a check overran is
//! skipped, not bunched). A semaphore bounds the checks running at once. When assignments
//! change, tasks of removed or changed monitors stop and new ones start at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::assignments::Assignment;
use crate::check::{self, Checker, Outcome};
use crate::telemetry::Telemetry;

/// Follows `assignments` and runs their checks until `shutdown`; results go to `results`.
pub async fn run(
    mut assignments: watch::Receiver<Vec<Assignment>>,
    results: mpsc::Sender<proto::probe::CheckResult>,
    concurrency: usize,
    checker: Arc<Checker>,
    telemetry: Arc<Telemetry>,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut running: HashMap<String, (Assignment, JoinHandle<()>)> = HashMap::new();
    loop {
        let current = assignments.borrow_and_update().clone();
        let wanted: HashMap<&str, &Assignment> =
            current.iter().map(|a| (a.id.as_str(), a)).collect();
        running.retain(|id, (a, task)| {
            let keep = wanted.get(id.as_str()).is_some_and(|w| *w == a);
            if !keep {
                task.abort();
            }
            keep
        });
        let mut unsupported = 0;
        for a in &current {
            if running.contains_key(&a.id) {
                continue;
            }
            if !check::supported(&a.kind) {
                unsupported += 1;
                continue;
            }
            let task = tokio::spawn(monitor(
                a.clone(),
                results.clone(),
                permits.clone(),
                checker.clone(),
                telemetry.clone(),
            ));
            running.insert(a.id.clone(), (a.clone(), task));
        }
        telemetry.set_monitors(running.len(), unsupported);
        if unsupported > 0 {
            tracing::warn!(
                unsupported,
                "assigned monitors of kinds this probe cannot check yet"
            );
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = assignments.changed() => if changed.is_err() { break },
        }
    }
    for (_, (_, task)) in running {
        task.abort();
    }
}

/// Where in its interval a monitor's checks run: a stable spread by its id.
fn offset(id: &str, interval: Duration) -> Duration {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let nanos = interval.as_nanos().max(1) as u64;
    Duration::from_nanos(hash % nanos)
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// One monitor's loop.
async fn monitor(
    a: Assignment,
    results: mpsc::Sender<proto::probe::CheckResult>,
    permits: Arc<Semaphore>,
    checker: Arc<Checker>,
    telemetry: Arc<Telemetry>,
) {
    let interval = Duration::from_secs(a.interval_secs.max(1));
    // The grid: the instant whose Unix time is a multiple of the interval, plus the offset.
    let now_unix = Duration::from_nanos(unix_nanos());
    let into = Duration::from_nanos((now_unix.as_nanos() % interval.as_nanos()) as u64);
    let off = offset(&a.id, interval);
    let wait = if off >= into {
        off - into
    } else {
        interval - (into - off)
    };
    let mut next = Instant::now() + wait;
    loop {
        tokio::time::sleep_until(next).await;
        let Ok(_permit) = permits.acquire().await else {
            return;
        };
        let late = Instant::now().saturating_duration_since(next);
        telemetry.check_started(late);
        let checked_at = unix_nanos();
        let mut outcome = check::run(&a, &checker).await;
        for _ in 0..a.retries {
            if outcome.is_online {
                break;
            }
            outcome = check::run(&a, &checker).await;
        }
        telemetry.check_done(&outcome);
        let result = to_result(&a, checked_at, outcome);
        if results.try_send(result).is_err() {
            telemetry.count_dropped(1);
        }
        next += interval;
        let now = Instant::now();
        if next <= now {
            // Overran: skip to the next tick of the grid.
            let behind = now - next;
            let skip = (behind.as_nanos() / interval.as_nanos()) as u32 + 1;
            next += interval * skip;
        }
    }
}

fn to_result(a: &Assignment, checked_at: u64, o: Outcome) -> proto::probe::CheckResult {
    let (phase, error) = match o.failure {
        Some((phase, error)) => (Some(phase.as_str().to_owned()), Some(error)),
        None => (None, None),
    };
    proto::probe::CheckResult {
        id: uuid::Uuid::new_v4().to_string(),
        monitor_id: a.id.clone(),
        checked_at_unix_nano: checked_at,
        is_online: o.is_online,
        is_timeout: phase.as_deref() == Some("timeout"),
        response_time_ms: o.response_time_ms,
        status_code: o.status_code,
        body: o.body,
        certificate_expires_in_days: o.certificate_expires_in_days,
        certificate_self_signed: o.certificate_self_signed,
        certificate_valid: o.certificate_valid,
        dns_answers: o.dns_answers,
        packet_loss_percent: o.packet_loss_percent,
        jitter_ms: o.jitter_ms,
        error,
        failed_phase: phase,
        details_json: serde_json::Value::Object(o.details).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_stable_and_spread_over_the_interval() {
        let interval = Duration::from_secs(10);
        let a = offset("monitor-a", interval);
        assert_eq!(a, offset("monitor-a", interval));
        assert!(a < interval);
        let mut buckets = [0u32; 10];
        for i in 0..10_000 {
            let o = offset(&format!("00000000-0000-4000-8000-{i:012}"), interval);
            buckets[o.as_secs() as usize] += 1;
        }
        // Each second of the interval gets about a tenth of the monitors.
        assert!(
            buckets.iter().all(|n| (800..1200).contains(n)),
            "{buckets:?}"
        );
    }
}
