//! The write-ahead log's promises under concurrent load, with real servers: `kill -9`, a
//! ClickHouse outage, a full WAL (also withholding Forward acks), a corrupt WAL tail, and a
//! poison row.

use std::time::Duration;

use tests::load::{LogLoad, audit};
use tests::process::EngineProcess;
use tests::server::PrivateClickHouse;
use tests::{
    TOKEN, TestEngine, clickhouse_url, logs_json, metric, test_dir, unique_name, wait_until,
};

const PER_REQUEST: usize = 20;

/// Waits until every acknowledged record is stored; returns the duplicate count.
async fn all_acked_arrive(url: &str, database: &str, acked: &[String], within: Duration) -> u64 {
    assert!(!acked.is_empty(), "the load got no acknowledgement at all");
    wait_until(
        within,
        "every acknowledged record in ClickHouse",
        || async {
            let a = audit(url, database, acked, PER_REQUEST).await;
            a.missing.is_empty().then_some(a.duplicates)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_load_loses_no_acknowledged_record() {
    let database = unique_name("kill9");
    let wal = test_dir(&database);
    // A long batch age keeps acknowledged data unflushed at the moment of the kill.
    let env = [("VIGIL_BATCH_MAX_AGE_MS", "1500")];
    let first = EngineProcess::start(&clickhouse_url(), &database, &wal, &env).await;
    let load = LogLoad::start(&first.http, "k9", 4, PER_REQUEST);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.kill_9().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let tally = load.finish().await;
    assert!(tally.transport_errors > 0 || !tally.acked.is_empty());

    let second = EngineProcess::start(&clickhouse_url(), &database, &wal, &env).await;
    let duplicates = all_acked_arrive(
        &clickhouse_url(),
        &database,
        &tally.acked,
        Duration::from_secs(60),
    )
    .await;
    let replayed = metric(
        &second.metrics().await,
        "vigil_ingest_wal_replayed_rows_total{table=\"logs\"}",
    );
    eprintln!(
        "kill -9: {} requests acknowledged ({} records), all stored; {duplicates} duplicate rows \
         (at-least-once on ClickHouse < 22.2); {replayed} rows replayed from the WAL",
        tally.acked.len(),
        tally.acked.len() * PER_REQUEST
    );
    assert!(
        replayed > 0.0,
        "the kill should have left acknowledged rows to replay"
    );
    second.terminate().await;
    tests::clickhouse(&format!("DROP DATABASE IF EXISTS {database}")).await;
    let _ignored = std::fs::remove_dir_all(&wal);
}

/// An in-process engine on a private ClickHouse, retrying quickly so outages end fast.
async fn engine_on(
    ch: &PrivateClickHouse,
    label: &str,
    tweak: impl FnOnce(&mut ingest_engine::config::Config),
) -> TestEngine {
    let url = ch.url();
    TestEngine::start_with(label, |c| {
        c.clickhouse.url = url;
        c.clickhouse.retry_max_ms = 300;
        c.clickhouse.timeout_ms = 2_000;
        tweak(c);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clickhouse_outage_under_load_loses_nothing() {
    let mut ch = PrivateClickHouse::start().await;
    let url = ch.url();
    let engine = engine_on(&ch, "outage", |_| {}).await;
    let load = LogLoad::start(&engine.http_url(""), "out", 4, PER_REQUEST);
    tokio::time::sleep(Duration::from_millis(800)).await;
    ch.stop().await;
    let during = wait_until(
        Duration::from_secs(10),
        "acknowledgements during the outage",
        || async {
            let m = engine.metrics().await;
            let accepted = metric(&m, "vigil_ingest_records_accepted_total{signal=\"logs\"}");
            let flushed = metric(&m, "vigil_ingest_rows_flushed_total{table=\"logs\"}");
            // Accepted keeps growing past what ClickHouse confirmed: the WAL absorbs the outage.
            (accepted > flushed + 200.0).then_some(accepted - flushed)
        },
    )
    .await;
    assert!(
        engine.is_ready(),
        "a WAL with room stays ready during an outage"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ch.resume().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tally = load.finish().await;
    let duplicates = all_acked_arrive(
        &url,
        &engine.database,
        &tally.acked,
        Duration::from_secs(60),
    )
    .await;
    eprintln!(
        "outage: {} requests acknowledged ({during} records waited in the WAL), all stored; \
         {duplicates} duplicate rows; statuses {:?}",
        tally.acked.len(),
        tally.statuses
    );
    assert_eq!(
        tally.statuses.keys().copied().collect::<Vec<_>>(),
        [200],
        "no refusals with room in the WAL"
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_wal_pushes_back_and_recovers() {
    let mut ch = PrivateClickHouse::start().await;
    let url = ch.url();
    let engine = engine_on(&ch, "walfull", |c| {
        c.wal.segment_bytes = 64 << 10;
        c.wal.max_bytes = 256 << 10;
    })
    .await;
    ch.stop().await;
    let load = LogLoad::start(&engine.http_url(""), "full", 4, PER_REQUEST);
    wait_until(
        Duration::from_secs(20),
        "503 once the WAL is full",
        || async {
            let m = engine.metrics().await;
            (metric(
                &m,
                "vigil_ingest_requests_throttled_total{reason=\"wal_full\"}",
            ) > 0.0)
                .then_some(())
        },
    )
    .await;
    assert!(!engine.is_ready(), "a full WAL reports not ready");
    // A small gRPC export may still fit in the last bytes; under the load it soon does not.
    wait_until(
        Duration::from_secs(10),
        "gRPC UNAVAILABLE while the WAL is full",
        || async {
            let (code, message) = grpc_export(&engine).await;
            (code == 14).then_some(message)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tally = load.finish().await;
    assert!(
        tally.statuses.get(&503).copied().unwrap_or(0) > 0,
        "{:?}",
        tally.statuses
    );
    assert!(tally.with_retry_after > 0, "refusals carry Retry-After");

    ch.resume().await;
    all_acked_arrive(
        &url,
        &engine.database,
        &tally.acked,
        Duration::from_secs(60),
    )
    .await;
    // Ingest resumes by itself once the WAL has drained.
    wait_until(Duration::from_secs(30), "a new export accepted", || async {
        let r = reqwest::Client::new()
            .post(engine.http_url("/v1/logs"))
            .header("content-type", "application/json")
            .header("x-vigil-token", TOKEN)
            .body(logs_json("durability", &["after-the-outage".to_owned()]))
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    eprintln!(
        "full WAL: statuses {:?}, {} acknowledged, all stored",
        tally.statuses,
        tally.acked.len()
    );
    engine.shutdown().await;
}

/// One OTLP/gRPC logs export by hand (h2c); returns `(grpc-status, grpc-message)`.
async fn grpc_export(engine: &TestEngine) -> (i32, String) {
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    // An empty ExportLogsServiceRequest with one resource holding one record.
    let request = crate::bad_input::logs_request(1);
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(request.len() as u32).to_be_bytes());
    framed.extend_from_slice(&request);
    let r = client
        .post(format!(
            "http://{}/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            engine.grpc
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("x-vigil-token", TOKEN)
        .body(framed)
        .send()
        .await
        .unwrap();
    let code = r
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(-1);
    let message = r
        .headers()
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (code, message)
}

/// Sends `requests` acknowledged requests to an engine whose ClickHouse is unreachable, so
/// they stay in the WAL; returns their request ids.
async fn fill_wal_offline(database: &str, wal: &std::path::Path, requests: usize) -> Vec<String> {
    let dead = format!("http://127.0.0.1:{}", tests::free_port());
    let engine = TestEngine::launch(database, wal, |c| {
        c.clickhouse.url = dead;
        c.clickhouse.retry_max_ms = 200;
        c.limits.shutdown_timeout_ms = 300;
    })
    .await;
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for n in 0..requests {
        let id = format!("offline-{n}");
        let bodies: Vec<String> = (0..PER_REQUEST).map(|i| format!("{id}-{i}")).collect();
        let r = client
            .post(engine.http_url("/v1/logs"))
            .header("content-type", "application/json")
            .header("x-vigil-token", TOKEN)
            .body(logs_json("durability", &bodies))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "the WAL acknowledges while ClickHouse is down"
        );
        ids.push(id);
    }
    engine.shutdown().await;
    ids
}

/// The only segment of the logs WAL, and the byte offsets where its records start.
fn logs_segment(wal: &std::path::Path) -> (std::path::PathBuf, Vec<usize>) {
    let dir = wal.join("logs");
    let mut segments: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    segments.sort();
    assert_eq!(segments.len(), 1, "{segments:?}");
    let bytes = std::fs::read(&segments[0]).unwrap();
    let mut starts = Vec::new();
    let mut at = 0;
    while at + 32 <= bytes.len() {
        starts.push(at);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 32 + len;
    }
    (segments.remove(0), starts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_wal_tail_is_reported_and_the_records_before_it_kept() {
    // Case 1: a torn write after the last record (a crash mid-append of an unacknowledged
    // request): every acknowledged record survives.
    let database = unique_name("torn");
    let wal = test_dir(&database);
    let ids = fill_wal_offline(&database, &wal, 5).await;
    let (segment, starts) = logs_segment(&wal);
    assert_eq!(starts.len(), 5, "one record per request");
    let bytes = std::fs::read(&segment).unwrap();
    let mut torn = bytes.clone();
    torn.extend_from_slice(&bytes[starts[4]..starts[4] + 50]);
    std::fs::write(&segment, &torn).unwrap();
    let engine = TestEngine::launch(&database, &wal, |_| {}).await;
    all_acked_arrive(&clickhouse_url(), &database, &ids, Duration::from_secs(30)).await;
    let m = engine.metrics().await;
    assert_eq!(
        metric(&m, "vigil_ingest_wal_corruptions_total{table=\"logs\"}"),
        1.0
    );
    assert_eq!(
        metric(&m, "vigil_ingest_wal_replayed_rows_total{table=\"logs\"}"),
        (5 * PER_REQUEST) as f64
    );
    engine.stop().await;

    // Case 2: a flipped bit inside the fourth record: the first three are kept, the damaged
    // one and what follows it in the segment are skipped and reported.
    let database = unique_name("corrupt");
    let wal = test_dir(&database);
    let ids = fill_wal_offline(&database, &wal, 5).await;
    let (segment, starts) = logs_segment(&wal);
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[starts[3] + 40] ^= 0x10;
    std::fs::write(&segment, &bytes).unwrap();
    let engine = TestEngine::launch(&database, &wal, |_| {}).await;
    all_acked_arrive(
        &clickhouse_url(),
        &database,
        &ids[..3],
        Duration::from_secs(30),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(engine.count("logs").await, (3 * PER_REQUEST) as u64);
    let m = engine.metrics().await;
    assert_eq!(
        metric(&m, "vigil_ingest_wal_corruptions_total{table=\"logs\"}"),
        1.0
    );
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_row_is_dead_lettered_and_its_batch_mates_stored() {
    let engine = TestEngine::start("poison").await;
    // A server-side check that refuses one specific row, as a constraint would.
    tests::clickhouse(&format!(
        "ALTER TABLE {}.logs ADD COLUMN poison_check UInt8 MATERIALIZED throwIf(body = 'poison')",
        engine.database
    ))
    .await;
    let mut bodies: Vec<String> = (0..10).map(|i| format!("good-{i}")).collect();
    bodies[6] = "poison".into();
    let client = reqwest::Client::new();
    for payload in [&bodies[..], &["after-poison".to_owned()][..]] {
        let r = client
            .post(engine.http_url("/v1/logs"))
            .header("content-type", "application/json")
            .header("x-vigil-token", TOKEN)
            .body(logs_json("poison", payload))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    wait_until(Duration::from_secs(30), "the 10 good rows", || async {
        (engine.count("logs").await == 10).then_some(())
    })
    .await;
    let stored: Vec<String> = engine
        .rows("logs", "body", "ORDER BY body")
        .await
        .into_iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect();
    assert!(!stored.contains(&"poison".to_owned()) && stored.contains(&"good-9".to_owned()));

    let file = engine.wal_dir.join("dead-letter/logs.ndjson");
    let text = wait_until(Duration::from_secs(10), "the dead-letter file", || async {
        std::fs::read_to_string(&file).ok()
    })
    .await;
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["rows"], 1);
    assert_eq!(lines[0]["table"], "logs");
    let error = lines[0]["error"].as_str().unwrap();
    assert!(
        error.contains("395") && error.contains("throwIf"),
        "{error}"
    );
    use base64::Engine as _;
    let native = base64::engine::general_purpose::STANDARD
        .decode(lines[0]["native_base64"].as_str().unwrap())
        .unwrap();
    assert!(
        native.windows(6).any(|w| w == b"poison"),
        "the refused row is kept"
    );
    let m = engine.metrics().await;
    assert_eq!(
        metric(&m, "vigil_ingest_rows_dead_lettered_total{table=\"logs\"}"),
        1.0
    );
    engine.stop().await;
}

/// A Forward frame with a `chunk` gets no ack while the WAL is full (the client keeps it and
/// resends), and the ack once there is room again; its record is then stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_acks_are_withheld_while_the_wal_is_full() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut ch = PrivateClickHouse::start().await;
    let engine = engine_on(&ch, "fw_backpressure", |c| {
        c.wal.segment_bytes = 64 << 10;
        c.wal.max_bytes = 256 << 10;
        c.forward.project = tests::PROJECT.into();
    })
    .await;
    ch.stop().await;
    // Fill the WAL with OTLP logs until it refuses.
    let client = reqwest::Client::new();
    let mut refused = false;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..2_000 {
        // Bodies that compress poorly, so the WAL fills in a few requests.
        let bodies: Vec<String> = (0..50)
            .map(|j| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                format!("fill {i} {j} {x:x}{:x}", x.rotate_left(29))
            })
            .collect();
        let r = client
            .post(engine.http_url("/v1/logs"))
            .header("content-type", "application/json")
            .header("x-vigil-token", TOKEN)
            .body(logs_json("fill", &bodies))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            refused = true;
            break;
        }
        assert_eq!(r.status(), 200);
    }
    assert!(refused, "the WAL filled up");

    // PackedForward, far larger than what is left in the WAL: 500 records of random text.
    let mut entries = Vec::new();
    for n in 0..500u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let body = format!(
            "held back {n:03} {x:016x}{:016x}{:016x}",
            x.rotate_left(11),
            x.rotate_left(37)
        );
        entries.push(0x92);
        entries.push(0xce);
        entries.extend_from_slice(&1_700_000_000u32.to_be_bytes());
        entries.extend_from_slice(&[0x81, 0xa7]);
        entries.extend_from_slice(b"message");
        entries.extend_from_slice(&[0xd9, body.len() as u8]);
        entries.extend_from_slice(body.as_bytes());
    }
    let mut frame = vec![0x93, 0xa4];
    frame.extend_from_slice(b"held");
    frame.push(0xc6);
    frame.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    frame.extend_from_slice(&entries);
    frame.extend_from_slice(&[0x81, 0xa5]);
    frame.extend_from_slice(b"chunk");
    frame.push(0xa3);
    frame.extend_from_slice(b"c-1");
    let ack = [&[0x81, 0xa3][..], b"ack", &[0xa3], b"c-1"].concat();
    let mut s = tokio::net::TcpStream::connect(engine.forward.expect("forward listener"))
        .await
        .unwrap();
    s.write_all(&frame).await.unwrap();
    let mut reply = vec![0u8; ack.len()];
    let early = tokio::time::timeout(Duration::from_secs(3), s.read_exact(&mut reply)).await;
    assert!(early.is_err(), "no ack while the WAL is full");

    ch.resume().await;
    tokio::time::timeout(Duration::from_secs(50), s.read_exact(&mut reply))
        .await
        .expect("the ack once the WAL has room")
        .unwrap();
    assert_eq!(reply, ack);
    wait_until(
        Duration::from_secs(30),
        "the held records stored",
        || async {
            let n = ch
                .query(&format!(
                    "SELECT count() FROM {}.logs WHERE service_name = 'held'",
                    engine.database
                ))
                .await;
            (n.trim() == "500").then_some(())
        },
    )
    .await;
    engine.shutdown().await;
}
