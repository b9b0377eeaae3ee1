//! Forward over TLS: a real TLS client (Python's ssl, i.e. OpenSSL) against a certificate made
//! in the test, and plain connections refused.

use tests::{python, repo_root, unique_name};
use tokio::io::AsyncWriteExt;

use super::{ACK, FORWARD_ACKED, MESSAGE_INT, closed, connect, engine_with_forward, hex};

#[tokio::test]
async fn tls_connections_are_served_and_plain_ones_refused() {
    let dir = tests::test_dir(&unique_name("fwtls"));
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (engine, addr) = engine_with_forward("fw_tls", |c| {
        c.forward.tls_cert_file = cert.display().to_string();
        c.forward.tls_key_file = key.display().to_string();
    })
    .await;

    // A real TLS client (Python's ssl, OpenSSL) verifying the certificate gets the ack.
    let ack = hex(ACK);
    let out = tokio::process::Command::new(python())
        .arg(repo_root().join("tests/python/forward_tls.py"))
        .args(["localhost", &addr.port().to_string()])
        .arg(&cert)
        .arg(FORWARD_ACKED)
        .arg(ack.len().to_string())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (version, reply) = stdout.trim().split_once(' ').unwrap();
    assert!(version.starts_with("TLSv1."), "{version}");
    assert_eq!(reply, ACK);

    // Plain msgpack on the TLS port is not a handshake: closed, nothing stored.
    let mut plain = connect(addr).await;
    plain.write_all(&hex(MESSAGE_INT)).await.unwrap();
    assert!(closed(&mut plain).await);
    let rows = engine.rows("logs", "body", "ORDER BY time_unix_nano").await;
    let bodies: Vec<&str> = rows.iter().map(|r| r["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["foo", "bar"]);
    engine.stop().await;
}
