//! TLS certificate checks: the peer's leaf certificate read whatever its validity — subject,
//! issuer, validity window, days to expiry, self-signed or not, serial and SHA-256
//! fingerprint — and the chain verified against the probe's roots for the monitor's host.

use std::time::Instant;

use serde_json::Value;
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::connect::{self, Secure, Tls};
use super::{Outcome, Phase, ms};

pub(super) async fn check(settings: &Value, tls: &Tls) -> Outcome {
    let host = settings["host"].as_str().unwrap_or("");
    let port = settings["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(443);
    let start = Instant::now();
    let conn = match connect::open(host, port, Secure::Tls { tls, verify: false }).await {
        Ok(c) => c,
        Err(f) => {
            let mut o = Outcome::failed(f.phase, f.message);
            o.details = f.timings;
            return o;
        }
    };
    let mut o = Outcome {
        is_online: true,
        response_time_ms: Some(ms(start.elapsed())),
        ..Outcome::default()
    };
    o.details.insert("dns_ms".into(), ms(conn.dns).into());
    o.details
        .insert("connect_ms".into(), ms(conn.connect).into());
    if let Some(t) = conn.tls {
        o.details.insert("tls_ms".into(), ms(t).into());
    }
    let Some(leaf) = conn.certificates.first() else {
        return Outcome::failed(Phase::Tls, "the server sent no certificate");
    };
    let cert = match X509Certificate::from_der(leaf.as_ref()) {
        Ok((_, cert)) => cert,
        Err(e) => return Outcome::failed(Phase::Tls, format!("unreadable certificate: {e}")),
    };
    let validity = cert.validity();
    let not_after = validity.not_after.timestamp();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let days = (not_after - now) as f64 / 86_400.0;
    let self_signed = cert.subject() == cert.issuer();
    let verified = tls.verify(&conn.certificates, host.trim_matches(['[', ']']));
    o.certificate_expires_in_days = Some((days * 100.0).round() / 100.0);
    o.certificate_self_signed = Some(self_signed);
    o.certificate_valid = Some(verified.is_ok());
    let fingerprint: String = Sha256::digest(leaf.as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let d = &mut o.details;
    d.insert("subject".into(), cert.subject().to_string().into());
    d.insert("issuer".into(), cert.issuer().to_string().into());
    d.insert("not_before".into(), validity.not_before.timestamp().into());
    d.insert("not_after".into(), not_after.into());
    d.insert("serial".into(), cert.raw_serial_as_string().into());
    d.insert("fingerprint_sha256".into(), fingerprint.into());
    d.insert("chain_length".into(), conn.certificates.len().into());
    if let Err(reason) = verified {
        d.insert("validation_error".into(), reason.to_string().into());
    }
    o
}
