//! Fluent Forward: the byte-exact vectors of the protocol for every mode, acks, the handshake,
//! split and batched frames, bad input, the UDP heartbeat, and the real Python
//! `fluent-logger` (the Node client in `node.rs`, TLS in `tls.rs`).

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use sha2::{Digest, Sha512};
use tests::{PROJECT, PROJECT_2, TestEngine, python, repo_root, unique_name, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod node;
mod tls;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const MESSAGE_ET: &str = "93a87461672e6e616d65d70055ece6f8075bcd1581a76d657373616765a3626172";
const MESSAGE_INT: &str = "93a87461672e6e616d65ce55ece6f881a76d657373616765a3626172";
const FORWARD_ACKED: &str = "93a87461672e6e616d659292ce55ece6f881a76d657373616765a3666f6f92ce55ece6f981a76d657373616765a362617282a56368756e6bb841414543417751464267634943516f4c4441304f44773d3da473697a6502";
const ACK: &str = "81a361636bb841414543417751464267634943516f4c4441304f44773d3d";
const ENTRIES: &str = "92d70055ece6f8075bcd1581a76d657373616765a3666f6f92d70055ece6f90000000081a76d657373616765a3626172";
const FLUENT_BIT: &str = "92a87461672e6e616d65919292d70055ece6f8075bcd158081a36c6f67a568656c6c6f";
/// `{"chunk": "AAECAwQFBgcICQoLDA0ODw=="}` (the chunk of the vectors).
const CHUNK_OPTION: &str = "81a56368756e6bb841414543417751464267634943516f4c4441304f44773d3d";

/// `[tag, entries as bin8|str8, options]`.
fn packed(tag: &str, entries: &[u8], as_str: bool, options: &[u8]) -> Vec<u8> {
    let mut f = vec![0x93, 0xa0 | tag.len() as u8];
    f.extend_from_slice(tag.as_bytes());
    match (as_str, entries.len()) {
        (false, n) if n < 256 => f.extend_from_slice(&[0xc4, n as u8]),
        (false, n) => {
            f.push(0xc6);
            f.extend_from_slice(&(n as u32).to_be_bytes());
        }
        (true, n) if n < 256 => f.extend_from_slice(&[0xd9, n as u8]),
        (true, n) => {
            f.push(0xdb);
            f.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
    f.extend_from_slice(entries);
    f.extend_from_slice(options);
    f
}

/// `{"compressed": <how>, "chunk": …}`.
fn compressed_option(how: &str) -> Vec<u8> {
    let mut o = vec![0x82, 0xaa];
    o.extend_from_slice(b"compressed");
    o.push(0xa0 | how.len() as u8);
    o.extend_from_slice(how.as_bytes());
    o.extend_from_slice(&hex(CHUNK_OPTION)[1..]);
    o
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr)
        .await
        .expect("forward listener reachable")
}

/// Reads exactly `n` bytes (or fails after 10 s).
async fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut buf))
        .await
        .expect("reply in time")
        .expect("reply bytes");
    buf
}

/// Whether the server closed the connection (EOF or reset) within 10 s.
async fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // a PONG or other reply before the close
            Err(_) => return false,
        }
    }
}

async fn engine_with_forward(
    label: &str,
    tweak: impl FnOnce(&mut ingest_engine::config::Config),
) -> (TestEngine, SocketAddr) {
    let engine = TestEngine::start_with(label, |c| {
        c.forward.project = PROJECT.into();
        tweak(c);
    })
    .await;
    let addr = engine.forward.expect("forward listener configured");
    (engine, addr)
}

#[tokio::test]
async fn every_mode_of_the_reference_vectors_is_stored_and_acknowledged() {
    let (engine, addr) = engine_with_forward("fw_modes", |_| {}).await;
    let mut s = connect(addr).await;
    let ack = hex(ACK);
    let chunk = hex(CHUNK_OPTION);
    // nil keep-alive, then Message mode with EventTime (fixext8 and ext8) and integer time.
    s.write_all(&[0xc0]).await.unwrap();
    s.write_all(&hex(MESSAGE_ET)).await.unwrap();
    let ext8 = hex(MESSAGE_ET);
    let ext8 = [&ext8[..10], &hex("c70800"), &ext8[12..]].concat();
    s.write_all(&ext8).await.unwrap();
    s.write_all(&hex(MESSAGE_INT)).await.unwrap();
    // Forward mode with a chunk: the ack is the reference reply byte for byte.
    s.write_all(&hex(FORWARD_ACKED)).await.unwrap();
    assert_eq!(read_n(&mut s, ack.len()).await, ack);
    // PackedForward as bin and as str (legacy fluentd), both acked.
    for as_str in [false, true] {
        s.write_all(&packed("packed", &hex(ENTRIES), as_str, &chunk))
            .await
            .unwrap();
        assert_eq!(read_n(&mut s, ack.len()).await, ack);
    }
    // CompressedPackedForward: two gzip members, and `compressed: text`.
    let entries = hex(ENTRIES);
    let two_members = [gzip(&entries[..24]), gzip(&entries[24..])].concat();
    s.write_all(&packed(
        "gz",
        &two_members,
        false,
        &compressed_option("gzip"),
    ))
    .await
    .unwrap();
    assert_eq!(read_n(&mut s, ack.len()).await, ack);
    s.write_all(&packed("text", &entries, false, &compressed_option("text")))
        .await
        .unwrap();
    assert_eq!(read_n(&mut s, ack.len()).await, ack);
    // Fluent Bit's [[EventTime, metadata], record] entries.
    s.write_all(&hex(FLUENT_BIT)).await.unwrap();
    s.shutdown().await.unwrap();

    // 3 messages + 2 forward + 2×2 packed + 2 gzip + 2 text + 1 Fluent Bit (the last frame has
    // no chunk, so nothing tells the client when it is stored: wait for it).
    wait_until(Duration::from_secs(10), "14 rows", || async {
        (engine.count("logs").await == 14).then_some(())
    })
    .await;
    let rows = engine
        .rows(
            "logs",
            "project_id, service_name, body, time_unix_nano, resource_attributes_values, scope_name",
            "WHERE service_name = 'tag.name' ORDER BY time_unix_nano, body",
        )
        .await;
    let seen: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["body"].as_str().unwrap().to_owned(),
                r["time_unix_nano"].as_u64().unwrap(),
            )
        })
        .collect();
    let et = 1_441_588_984_123_456_789u64;
    let int = 1_441_588_984_000_000_000u64;
    assert_eq!(
        seen,
        vec![
            ("bar".into(), int),
            ("foo".into(), int),
            ("bar".into(), et),
            ("bar".into(), et),
            ("hello".into(), et),
            ("bar".into(), int + 1_000_000_000),
        ]
    );
    assert!(rows.iter().all(|r| r["project_id"] == PROJECT
        && r["scope_name"] == "fluent-forward"
        && r["resource_attributes_values"][0] == "tag.name"));
    let packed_rows = engine
        .rows(
            "logs",
            "body, time_unix_nano",
            "WHERE service_name IN ('packed', 'gz', 'text') ORDER BY service_name, body",
        )
        .await;
    assert_eq!(packed_rows.len(), 8);
    assert_eq!(packed_rows[0]["body"], "bar");
    assert_eq!(
        packed_rows[0]["time_unix_nano"].as_u64(),
        Some(1_441_588_985_000_000_000)
    );
    assert_eq!(packed_rows[1]["body"], "foo");
    assert_eq!(packed_rows[1]["time_unix_nano"].as_u64(), Some(et));
    engine.stop().await;
}

#[tokio::test]
async fn records_keep_body_severity_ids_and_typed_attributes() {
    let (engine, addr) = engine_with_forward("fw_fields", |_| {}).await;
    // ["svc", 1441588984, {"log": "line", "level": "ERROR", "trace_id": <32 hex>,
    //   "span_id": <16 hex>, "n": -3, "ok": true, "ratio": 1.5, "raw": bin(01 02),
    //   "tags": ["a", 1], "nil": nil}, {"chunk": …}]
    let mut f = hex("94a3737663ce55ece6f88a");
    let mut kv = |k: &str, v: &[u8]| {
        f.push(0xa0 | k.len() as u8);
        f.extend_from_slice(k.as_bytes());
        f.extend_from_slice(v);
    };
    let s = |t: &str| [vec![0xa0 | t.len() as u8], t.as_bytes().to_vec()].concat();
    kv("log", &s("line"));
    kv("level", &s("ERROR"));
    kv(
        "trace_id",
        &[vec![0xd9, 32], b"5B8EFFF798038103D269B633813FC60C".to_vec()].concat(),
    );
    kv("span_id", &s("eee19b7ec3c1b174"));
    kv("n", &[0xfd]);
    kv("ok", &[0xc3]);
    kv("ratio", &hex("cb3ff8000000000000"));
    kv("raw", &hex("c4020102"));
    kv("tags", &hex("92a16101"));
    kv("nil", &[0xc0]);
    f.extend_from_slice(&hex(CHUNK_OPTION));
    let mut c = connect(addr).await;
    c.write_all(&f).await.unwrap();
    assert_eq!(read_n(&mut c, hex(ACK).len()).await, hex(ACK));
    let rows = engine
        .rows(
            "logs",
            "body, body_type, severity_number, severity_text, trace_id, span_id, attributes_keys, attributes_values, attributes_types",
            "",
        )
        .await;
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r["body"], "line");
    assert_eq!(r["body_type"], 1);
    assert_eq!(r["severity_number"], 17);
    assert_eq!(r["severity_text"], "ERROR");
    assert_eq!(r["trace_id"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(r["span_id"], "eee19b7ec3c1b174");
    assert_eq!(
        r["attributes_keys"],
        serde_json::json!(["n", "ok", "ratio", "raw", "tags", "nil"])
    );
    // An array is stored as an OTLP export's is: `[AnyValue…]` in OTLP/JSON.
    assert_eq!(
        r["attributes_values"],
        serde_json::json!([
            "-3",
            "true",
            "1.5",
            "AQI=",
            "[{\"stringValue\":\"a\"},{\"intValue\":\"1\"}]",
            ""
        ])
    );
    assert_eq!(r["attributes_types"], serde_json::json!([3, 2, 4, 5, 6, 0]));
    engine.stop().await;
}

#[tokio::test]
async fn frames_split_across_reads_and_batched_in_one_read() {
    let (engine, addr) = engine_with_forward("fw_split", |_| {}).await;
    let mut s = connect(addr).await;
    // One acked frame a byte at a time.
    for b in hex(FORWARD_ACKED) {
        s.write_all(&[b]).await.unwrap();
        s.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(read_n(&mut s, hex(ACK).len()).await, hex(ACK));
    // Three frames and a keep-alive in one write.
    let batch = [
        hex(MESSAGE_INT),
        vec![0xc0],
        hex(MESSAGE_ET),
        hex(FORWARD_ACKED),
    ]
    .concat();
    s.write_all(&batch).await.unwrap();
    assert_eq!(read_n(&mut s, hex(ACK).len()).await, hex(ACK));
    assert_eq!(engine.count("logs").await, 2 + 2 + 2);
    engine.stop().await;
}

#[tokio::test]
async fn bad_frames_close_their_connection_store_nothing_and_the_listener_keeps_serving() {
    let (engine, addr) = engine_with_forward("fw_bad", |c| c.forward.max_frame_bytes = 4096).await;
    let ext_type_1 = hex(MESSAGE_ET)
        .iter()
        .enumerate()
        .map(|(i, b)| if i == 11 { 1 } else { *b })
        .collect::<Vec<u8>>();
    let ext_len_12 = [
        &hex(MESSAGE_ET)[..10],
        &hex("c70c00"),
        &[0u8; 12][..],
        &hex(MESSAGE_ET)[20..],
    ]
    .concat();
    let lz4 = packed("x", &hex(ENTRIES), false, &compressed_option("lz4"));
    let metrics_signal = [
        &hex(MESSAGE_INT)[..],
        &hex("81ad666c75656e745f7369676e616c01"),
    ]
    .concat();
    let metrics_signal = [&[0x94u8][..], &metrics_signal[1..]].concat();
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("reserved byte", vec![0xc1]),
        ("not an array", hex("a3626164")),
        ("ext type 1", ext_type_1),
        ("ext length 12", ext_len_12),
        ("lz4 compression", lz4),
        ("non-log signal", metrics_signal),
        ("PING without handshake", hex("96a450494e47a0a0a0a0a0")),
    ];
    for (what, frame) in bad {
        let mut s = connect(addr).await;
        s.write_all(&frame).await.unwrap();
        assert!(closed(&mut s).await, "{what}: connection not closed");
    }
    // An oversized frame arriving in pieces: bin32 of 10 000 bytes > 4096.
    let mut s = connect(addr).await;
    let mut big = hex("93a178c6");
    big.extend_from_slice(&10_000u32.to_be_bytes());
    s.write_all(&big).await.unwrap();
    for _ in 0..5 {
        if s.write_all(&[0u8; 2_000]).await.is_err() {
            break;
        }
    }
    assert!(
        closed(&mut s).await,
        "oversized frame: connection not closed"
    );
    // The limit is exact: a Message frame of 4097 bytes is refused, one of 4096 stored.
    let sized = |len: usize| {
        // ["x", 1700000000, {"k": bin16}]: 14 bytes of heads, then the binary.
        let mut f = hex("93a178ce6553f10081a16bc5");
        f.extend_from_slice(&((len - 14) as u16).to_be_bytes());
        f.resize(len, b'a');
        f
    };
    let mut s = connect(addr).await;
    s.write_all(&sized(4097)).await.unwrap();
    assert!(
        closed(&mut s).await,
        "a frame one byte over the limit was taken"
    );
    // Others are unaffected.
    let mut s = connect(addr).await;
    s.write_all(&sized(4096)).await.unwrap();
    s.write_all(&hex(FORWARD_ACKED)).await.unwrap();
    assert_eq!(read_n(&mut s, hex(ACK).len()).await, hex(ACK));
    assert_eq!(engine.count("logs").await, 3);
    engine.stop().await;
}

/// Reads the HELO and returns (nonce, auth salt).
async fn read_helo(s: &mut TcpStream) -> (Vec<u8>, Vec<u8>) {
    // ["HELO", {"nonce": bin16, "auth": bin(0|16), "keepalive": true}], bin as Fluentd sends
    let head = read_n(s, 15).await;
    assert_eq!(&head[..7], &hex("92a448454c4f83"));
    assert_eq!(&head[7..13], &hex("a56e6f6e6365"));
    assert_eq!(&head[13..], &hex("c410"));
    let nonce = read_n(s, 16).await;
    let auth_head = read_n(s, 7).await;
    assert_eq!(&auth_head[..6], &hex("a461757468c4"));
    let salt = read_n(s, usize::from(auth_head[6])).await;
    assert_eq!(read_n(s, 11).await, hex("a96b656570616c697665c3"));
    (nonce, salt)
}

fn sha512_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha512::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn ping(hostname: &str, salt: &str, digest: &str, user: &str, password_digest: &str) -> Vec<u8> {
    let mut f = vec![0x96, 0xa4];
    f.extend_from_slice(b"PING");
    for part in [hostname, salt, digest, user, password_digest] {
        if part.len() < 32 {
            f.push(0xa0 | part.len() as u8);
        } else {
            f.extend_from_slice(&[0xd9, part.len() as u8]);
        }
        f.extend_from_slice(part.as_bytes());
    }
    f
}

#[tokio::test]
async fn the_handshake_selects_the_project_and_refuses_wrong_keys() {
    let (engine, addr) = engine_with_forward("fw_auth", |c| {
        c.forward.shared_keys = ingest_engine::config::Secret(format!("secret={PROJECT_2}"));
        c.forward.users = ingest_engine::config::Secret("alice=pa55".into());
        c.forward.hostname = "server.example.com".into();
    })
    .await;
    let salt = "0123456789abcdef";
    // Right key and password: PONG true with the server's digest, then events are stored.
    let mut s = connect(addr).await;
    let (nonce, auth) = read_helo(&mut s).await;
    assert_eq!(auth.len(), 16, "user auth configured: HELO carries a salt");
    let digest = sha512_hex(&[salt.as_bytes(), b"client.example.com", &nonce, b"secret"]);
    let pw = sha512_hex(&[&auth, b"alice", b"pa55"]);
    s.write_all(&ping("client.example.com", salt, &digest, "alice", &pw))
        .await
        .unwrap();
    let server = sha512_hex(&[salt.as_bytes(), b"server.example.com", &nonce, b"secret"]);
    let mut pong = hex("95a4504f4e47c3a0b2");
    pong.extend_from_slice(b"server.example.com");
    pong.extend_from_slice(&[0xd9, 128]);
    pong.extend_from_slice(server.as_bytes());
    assert_eq!(read_n(&mut s, pong.len()).await, pong);
    s.write_all(&hex(FORWARD_ACKED)).await.unwrap();
    assert_eq!(read_n(&mut s, hex(ACK).len()).await, hex(ACK));

    // Wrong key: PONG false and closed; wrong password likewise; events before the handshake too.
    for (key, password) in [("wrong", "pa55"), ("secret", "nope")] {
        let mut s = connect(addr).await;
        let (nonce, auth) = read_helo(&mut s).await;
        let digest = sha512_hex(&[salt.as_bytes(), b"c", &nonce, key.as_bytes()]);
        let pw = sha512_hex(&[&auth, b"alice", password.as_bytes()]);
        s.write_all(&ping("c", salt, &digest, "alice", &pw))
            .await
            .unwrap();
        assert_eq!(read_n(&mut s, 7).await, hex("95a4504f4e47c2"), "PONG false");
        assert!(closed(&mut s).await);
    }
    let mut s = connect(addr).await;
    read_helo(&mut s).await;
    s.write_all(&hex(FORWARD_ACKED)).await.unwrap();
    assert!(
        closed(&mut s).await,
        "events before the handshake are refused"
    );

    let rows = engine.rows("logs", "project_id", "").await;
    assert_eq!(
        rows.len(),
        2,
        "only the authenticated connection's events are stored"
    );
    assert!(rows.iter().all(|r| r["project_id"] == PROJECT_2));
    engine.stop().await;
}

#[tokio::test]
async fn udp_heartbeats_are_answered() {
    let (engine, addr) = engine_with_forward("fw_udp", |_| {}).await;
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.send_to(&[0u8], addr).await.unwrap();
    let mut buf = [9u8; 8];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), udp.recv_from(&mut buf))
        .await
        .expect("heartbeat answered")
        .unwrap();
    assert_eq!(&buf[..n], &[0u8]);
    engine.stop().await;
}

#[tokio::test]
async fn python_fluent_logger_records_are_stored() {
    let (engine, addr) = engine_with_forward("fw_python", |_| {}).await;
    let run_id = unique_name("fluent");
    let script = repo_root().join("tests/python/fluent_send.py");
    let out = tokio::process::Command::new(python())
        .arg(script)
        .args([
            addr.ip().to_string(),
            addr.port().to_string(),
            run_id.clone(),
        ])
        .output()
        .await
        .expect("python runs");
    assert!(
        out.status.success(),
        "fluent_send.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // fluent-logger does not ask for acks: its records are stored some time after it exits.
    wait_until(Duration::from_secs(10), "6 rows", || async {
        (engine.count("logs").await == 6).then_some(())
    })
    .await;
    let rows = engine
        .rows(
            "logs",
            "service_name, body, severity_number, trace_id, time_unix_nano, attributes_keys, attributes_values",
            "ORDER BY body",
        )
        .await;
    assert_eq!(rows.len(), 6, "{rows:?}");
    for (i, r) in rows.iter().enumerate() {
        let precise = i >= 3;
        let n = i % 3;
        assert_eq!(r["service_name"], "app.web");
        assert_eq!(
            r["body"],
            format!(
                "{run_id} precise={} n={n}",
                if precise { "True" } else { "False" }
            )
        );
        assert_eq!(r["severity_number"], 13);
        assert_eq!(r["trace_id"], "5b8efff798038103d269b633813fc60c");
        let t = r["time_unix_nano"].as_u64().unwrap();
        assert_eq!(t / 1_000_000_000, 1_441_588_984 + n as u64);
        if precise {
            // EventTime carries nanoseconds (the float the logger starts from rounds them).
            assert!((t % 1_000_000_000).abs_diff(123_456_789) < 1_000, "{t}");
        } else {
            assert_eq!(t % 1_000_000_000, 0);
        }
        assert_eq!(
            r["attributes_keys"],
            serde_json::json!(["n", "ratio", "nested"])
        );
        // A map is stored as an OTLP export's kvlist is.
        assert_eq!(
            r["attributes_values"],
            serde_json::json!([
                n.to_string(),
                "0.5",
                r#"[{"key":"k","value":{"arrayValue":{"values":[{"intValue":"1"},{"stringValue":"two"}]}}}]"#
            ])
        );
    }
    engine.stop().await;
}
