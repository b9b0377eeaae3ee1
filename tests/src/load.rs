//! Concurrent OTLP/HTTP log load that remembers exactly which requests were acknowledged, and
//! the check that every acknowledged record is in ClickHouse (with duplicates counted).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::{TOKEN, logs_json};

/// What the clients saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Request ids (`<tag>-<task>-<n>`) answered 200.
    pub acked: Vec<String>,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Answers with a status ≥ 429 that carried `Retry-After`.
    pub with_retry_after: u64,
    /// Requests that got no answer (connection refused or reset).
    pub transport_errors: u64,
}

/// Tasks posting logs until stopped.
pub struct LogLoad {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<Tally>>,
}

impl LogLoad {
    /// Starts `tasks` clients posting requests of `per_request` logs to `base_url/v1/logs`;
    /// every log body is `<tag>-<task>-<n>-<i>`.
    pub fn start(base_url: &str, tag: &str, tasks: usize, per_request: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("http client");
        let tasks = (0..tasks)
            .map(|task| {
                let (stop, client) = (stop.clone(), client.clone());
                let url = format!("{base_url}/v1/logs");
                let tag = tag.to_owned();
                tokio::spawn(async move {
                    let mut tally = Tally::default();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let id = format!("{tag}-{task}-{n}");
                        n += 1;
                        let bodies: Vec<String> =
                            (0..per_request).map(|i| format!("{id}-{i}")).collect();
                        let sent = client
                            .post(&url)
                            .header("content-type", "application/json")
                            .header("x-vigil-token", TOKEN)
                            .body(logs_json("durability", &bodies))
                            .send()
                            .await;
                        match sent {
                            Ok(r) => {
                                let status = r.status().as_u16();
                                *tally.statuses.entry(status).or_default() += 1;
                                if status >= 429 && r.headers().contains_key("retry-after") {
                                    tally.with_retry_after += 1;
                                }
                                if status == 200 {
                                    tally.acked.push(id);
                                } else {
                                    tokio::time::sleep(Duration::from_millis(20)).await;
                                }
                            }
                            Err(_) => {
                                tally.transport_errors += 1;
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                    }
                    tally
                })
            })
            .collect();
        Self { stop, tasks }
    }

    /// Stops the clients and sums what they saw.
    pub async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = Tally::default();
        for task in self.tasks {
            let t = task.await.expect("load task");
            total.acked.extend(t.acked);
            for (status, n) in t.statuses {
                *total.statuses.entry(status).or_default() += n;
            }
            total.with_retry_after += t.with_retry_after;
            total.transport_errors += t.transport_errors;
        }
        total
    }
}

/// Acknowledged records missing from `<database>.logs`, and duplicate rows found.
pub struct Audit {
    /// Bodies of acknowledged records that are not stored.
    pub missing: Vec<String>,
    /// Rows beyond the first for any body.
    pub duplicates: u64,
    /// Distinct bodies stored.
    pub stored: u64,
}

/// Compares what clients were told with what `clickhouse_url` holds.
pub async fn audit(
    clickhouse_url: &str,
    database: &str,
    acked: &[String],
    per_request: usize,
) -> Audit {
    let sql =
        format!("SELECT body, count() FROM {database}.logs GROUP BY body FORMAT TabSeparated");
    let text = reqwest::Client::new()
        .post(clickhouse_url)
        .body(sql)
        .send()
        .await
        .expect("clickhouse reachable")
        .text()
        .await
        .expect("clickhouse answers");
    let counts: HashMap<&str, u64> = text
        .lines()
        .filter_map(|l| {
            let (body, n) = l.split_once('\t')?;
            Some((body, n.parse().ok()?))
        })
        .collect();
    let mut missing = Vec::new();
    for id in acked {
        for i in 0..per_request {
            let body = format!("{id}-{i}");
            if !counts.contains_key(body.as_str()) {
                missing.push(body);
            }
        }
    }
    Audit {
        missing,
        duplicates: counts.values().map(|n| n - 1).sum(),
        stored: counts.len() as u64,
    }
}
