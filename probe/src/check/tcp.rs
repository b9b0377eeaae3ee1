//! TCP port checks: resolve, connect, close; with the DNS and connect timings.

use std::time::Instant;

use serde_json::Value;

use super::{Outcome, Phase, ms};

pub(super) async fn check(settings: &Value) -> Outcome {
    let host = settings["host"].as_str().unwrap_or("");
    let Some(port) = settings["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
    else {
        return Outcome::failed(Phase::Connect, "the monitor has no port");
    };
    let start = Instant::now();
    let addrs: Vec<_> = match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => addrs.collect(),
        Err(e) => return Outcome::failed(Phase::Dns, format!("cannot resolve {host}: {e}")),
    };
    let resolved = start.elapsed();
    let Some(addr) = addrs.first().copied() else {
        return Outcome::failed(Phase::Dns, format!("{host} has no address"));
    };
    let connect_start = Instant::now();
    let mut o = match tokio::net::TcpStream::connect(addr).await {
        Ok(_stream) => Outcome {
            is_online: true,
            ..Outcome::default()
        },
        Err(e) => Outcome::failed(Phase::Connect, format!("connect to {addr}: {e}")),
    };
    let connected = connect_start.elapsed();
    o.response_time_ms = Some(ms(start.elapsed()));
    o.details.insert("dns_ms".into(), ms(resolved).into());
    o.details.insert("connect_ms".into(), ms(connected).into());
    o.details.insert("address".into(), addr.to_string().into());
    o
}
