//! The write-ahead log on a full disk (a small tmpfs): refusals are back-pressure (503 with
//! Retry-After, never 500), readiness says not ready, confirmed data is deleted even from the
//! segment being written, a restart on the full disk works, and ingest recovers by itself.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tests::load::{LogLoad, Tally, audit};
use tests::process::EngineProcess;
use tests::server::PrivateClickHouse;
use tests::{TOKEN, logs_json, metric, test_dir, unique_name, wait_until};

const PER_REQUEST: usize = 20;

/// A tmpfs of `size` mounted on a directory (root only, as the test command runs), unmounted
/// when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(status.success(), "mounting a tmpfs needs root");
        Self(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ignored = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// One OTLP/HTTP export: `(status, Retry-After present)`.
async fn export(engine: &EngineProcess) -> (u16, bool) {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/logs", engine.http))
        .header("content-type", "application/json")
        .header("x-vigil-token", TOKEN)
        .body(logs_json("disk", &["probe-export".to_owned()]))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.headers().contains_key("retry-after"))
}

async fn readyz(engine: &EngineProcess) -> (u16, serde_json::Value) {
    let r = reqwest::get(format!("{}/readyz", engine.http))
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Loads `engine` until the disk refuses writes; what the clients saw.
async fn fill(engine: &EngineProcess, tag: &str) -> Tally {
    let refused = || async {
        let m = engine.metrics().await;
        metric(
            &m,
            "vigil_ingest_requests_throttled_total{reason=\"wal_unwritable\"}",
        )
    };
    let before = refused().await;
    let load = LogLoad::start(&engine.http, tag, 4, PER_REQUEST);
    wait_until(Duration::from_secs(60), "503 for a full disk", || async {
        (refused().await > before).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tally = load.finish().await;
    assert!(
        !tally.acked.is_empty(),
        "nothing was taken before the disk filled"
    );
    assert_eq!(tally.statuses.get(&500), None, "{:?}", tally.statuses);
    assert!(
        tally.statuses.get(&503).copied().unwrap_or(0) > 0,
        "{:?}",
        tally.statuses
    );
    assert!(tally.with_retry_after > 0, "refusals carry Retry-After");
    tally
}

/// Waits until every acknowledged request's records are stored, then until exports are
/// taken again and the engine is ready.
async fn recovers(engine: &EngineProcess, url: &str, database: &str, acked: &[String]) {
    wait_until(
        Duration::from_secs(90),
        "every acknowledged record stored",
        || async {
            audit(url, database, acked, PER_REQUEST)
                .await
                .missing
                .is_empty()
                .then_some(())
        },
    )
    .await;
    wait_until(Duration::from_secs(60), "exports taken again", || async {
        (export(engine).await.0 == 200).then_some(())
    })
    .await;
    wait_until(Duration::from_secs(20), "ready again", || async {
        (readyz(engine).await.0 == 200).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_is_back_pressure_and_the_engine_recovers_by_itself() {
    let mut ch = PrivateClickHouse::start().await;
    let url = ch.url();
    let database = unique_name("fulldisk");
    let wal = test_dir(&database).join("wal");
    let _disk = Tmpfs::mount(&wal, "3m");
    // The WAL limit is far above the disk: the disk is what fills.
    let env = [
        ("VIGIL_WAL_MAX_BYTES", "1073741824"),
        ("VIGIL_WAL_SEGMENT_BYTES", "262144"),
        ("VIGIL_CLICKHOUSE_RETRY_MAX_MS", "300"),
        ("VIGIL_CLICKHOUSE_TIMEOUT_MS", "2000"),
        // Retries during the outage would fill the test's output.
        ("VIGIL_LOG", "error"),
    ];
    let engine = EngineProcess::start(&url, &database, &wal, &env).await;

    // ClickHouse away: the disk fills; clients are told to come back, readiness says no.
    ch.stop().await;
    let first = fill(&engine, "a").await;
    let (status, retry) = export(&engine).await;
    assert_eq!((status, retry), (503, true));
    let (status, body) = readyz(&engine).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["wal"]["write_failing"], true, "{body}");
    // ClickHouse back: what was confirmed is deleted (the segment being written included),
    // and ingest resumes without a restart.
    ch.resume().await;
    recovers(&engine, &url, &database, &first.acked).await;

    // Full again, then a restart on the full disk: the engine starts, replays and refuses
    // with 503 until ClickHouse makes room.
    ch.stop().await;
    let second = fill(&engine, "b").await;
    engine.kill_9().await;
    let engine = EngineProcess::start(&url, &database, &wal, &env).await;
    let (status, retry) = export(&engine).await;
    assert_eq!((status, retry), (503, true));
    ch.resume().await;
    let acked: Vec<String> = first.acked.into_iter().chain(second.acked).collect();
    recovers(&engine, &url, &database, &acked).await;
    engine.terminate().await;
}
