//! Connections that open and send nothing: they cannot lock real clients out of OTLP/HTTP,
//! OTLP/gRPC or Forward, and they are closed when they stay silent.

use std::net::SocketAddr;
use std::time::Duration;

use tests::{PROJECT, TOKEN, TestEngine};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::bad_input::{grpc_call, logs_request};

/// A connection to `addr` from the loopback address `source` that sends nothing.
async fn silent(source: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Whether the server closed `stream` (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(within, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

async fn export_http(engine: &TestEngine) -> u16 {
    reqwest::Client::new()
        .post(engine.http_url("/v1/logs"))
        .header("content-type", "application/x-protobuf")
        .header("x-vigil-token", TOKEN)
        .body(logs_request(2))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `["app", 1700000000, {"message": "real"}, {"chunk": "c1"}]` and its ack.
async fn forward_acked(addr: SocketAddr) -> bool {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let frame = b"\x94\xa3app\xce\x65\x53\xf1\x00\x81\xa7message\xa4real\x81\xa5chunk\xa2c1";
    s.write_all(frame).await.unwrap();
    let want = b"\x81\xa3ack\xa2c1";
    let mut got = [0u8; 8];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut got)).await,
        Ok(Ok(_))
    ) && &got == want
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_connections_cannot_lock_out_real_exports_and_are_closed() {
    let engine = TestEngine::start_with("conns", |c| {
        c.limits.max_connections = 40;
        c.limits.max_connections_per_address = 30;
        c.limits.first_request_timeout_ms = 3_000;
        c.forward.project = PROJECT.into();
        c.forward.max_connections = 40;
    })
    .await;
    let forward = engine.forward.unwrap();
    // Each listener gets more silent connections than it has places, from two addresses.
    let mut attack = Vec::new();
    for addr in [engine.http, engine.grpc, forward] {
        for i in 0..60 {
            let source = if i % 2 == 0 {
                [127, 0, 0, 2]
            } else {
                [127, 0, 0, 3]
            };
            attack.push(silent(source, addr).await);
        }
    }
    // Real clients get through at once, on every input.
    for _ in 0..3 {
        let http = tokio::time::timeout(Duration::from_secs(5), export_http(&engine)).await;
        assert_eq!(http.ok(), Some(200), "OTLP/HTTP export during the attack");
        let request = logs_request(2);
        let grpc = grpc_call(&engine, TOKEN, &request, false);
        let grpc = tokio::time::timeout(Duration::from_secs(5), grpc).await;
        assert_eq!(grpc.ok(), Some(None), "OTLP/gRPC export during the attack");
        assert!(
            forward_acked(forward).await,
            "Forward frame during the attack"
        );
    }
    // Every silent connection is closed: made room for, or past its first-request deadline.
    for (i, stream) in attack.iter_mut().enumerate() {
        assert!(
            closed_within(stream, Duration::from_secs(8)).await,
            "silent connection {i} still open"
        );
    }
    engine.settle().await;
    assert_eq!(engine.count("logs").await, 3 * (2 + 2 + 1));
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forward_connections_hold_memory_by_what_they_sent_and_it_is_counted() {
    let database = tests::unique_name("fwmem");
    let wal = tests::test_dir(&database);
    let port = tests::free_port().to_string();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let env = [
        ("VIGIL_FORWARD_ADDR", addr.to_string()),
        ("VIGIL_FORWARD_SHARED_KEYS", format!("k={PROJECT}")),
        ("VIGIL_FORWARD_MAX_CONNECTIONS", "2000".to_owned()),
        ("VIGIL_MAX_CONNECTIONS_PER_ADDRESS", "2000".to_owned()),
        ("VIGIL_FIRST_REQUEST_TIMEOUT_MS", "120000".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let engine =
        tests::process::EngineProcess::start(&tests::clickhouse_url(), &database, &wal, &env).await;
    let before = engine.resident_bytes();
    // 1000 connections that never authenticate: each reads its HELO and sends one byte of a
    // PING.
    let mut held = Vec::new();
    for _ in 0..1000 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&[0x96]).await.unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let grown = engine.resident_bytes().saturating_sub(before);
    assert!(
        grown < 100 << 20,
        "1000 one-byte connections grew the engine by {} MiB",
        grown >> 20
    );
    // What they hold is counted in the memory budget, a few KiB each.
    let buffered = tests::metric(&engine.metrics().await, "vigil_ingest_buffered_bytes");
    assert!(
        (1000.0 * 1024.0..=1000.0 * 32.0 * 1024.0).contains(&buffered),
        "buffered bytes {buffered}"
    );
    drop(held);
    engine.terminate().await;
}
