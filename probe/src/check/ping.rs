//! ICMP ping checks: `count` echo requests, one after another, each waiting up to its share of
//! the monitor's timeout; packet loss, minimum, average and maximum round trip, and jitter (the
//! mean difference between consecutive round trips). Unprivileged ICMP sockets are used where
//! the kernel allows them (`net.ipv4.ping_group_range`), raw sockets otherwise (CAP_NET_RAW);
//! when neither is allowed the check fails with that explanation.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use surge_ping::{Client, Config, ICMP, IcmpPacket, PingIdentifier, PingSequence};

use super::{CheckError, Outcome, Phase, ms};

/// The probe's ICMP sockets, opened on first use (one per IP version).
#[derive(Default)]
pub struct Pingers {
    v4: OnceLock<Result<Client, CheckError>>,
    v6: OnceLock<Result<Client, CheckError>>,
}

impl Pingers {
    fn client(&self, ip: IpAddr) -> Result<&Client, CheckError> {
        let (cell, kind) = match ip {
            IpAddr::V4(_) => (&self.v4, ICMP::V4),
            IpAddr::V6(_) => (&self.v6, ICMP::V6),
        };
        cell.get_or_init(|| {
            Client::new(&Config::builder().kind(kind).build()).map_err(|e| {
                CheckError(format!(
                    "cannot open an ICMP socket ({e}): allow unprivileged ping \
                     (sysctl net.ipv4.ping_group_range) or give the probe CAP_NET_RAW"
                ))
            })
        })
        .as_ref()
        .map_err(Clone::clone)
    }
}

impl std::fmt::Debug for Pingers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pingers")
    }
}

pub(super) async fn check(settings: &Value, pingers: &Pingers, timeout: Duration) -> Outcome {
    let host = settings["host"].as_str().unwrap_or("");
    let count = settings["count"].as_u64().unwrap_or(3).clamp(1, 20) as u16;
    let start = Instant::now();
    let bare = host.trim_matches(['[', ']']);
    let ip = match bare.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => match tokio::net::lookup_host((bare, 0)).await {
            Ok(mut addrs) => match addrs.next() {
                Some(a) => a.ip(),
                None => return Outcome::failed(Phase::Dns, format!("{host} has no address")),
            },
            Err(e) => return Outcome::failed(Phase::Dns, format!("cannot resolve {host}: {e}")),
        },
    };
    let dns = start.elapsed();
    let client = match pingers.client(ip) {
        Ok(c) => c,
        Err(e) => return Outcome::failed(Phase::Connect, e),
    };
    let mut pinger = client.pinger(ip, PingIdentifier(fastrand::u16(..))).await;
    // Each request waits for its share of the time left after resolving.
    let share = timeout
        .saturating_sub(dns)
        .saturating_sub(Duration::from_millis(50))
        / u32::from(count);
    pinger.timeout(share.max(Duration::from_millis(10)));
    let payload = [0u8; 56];
    let mut rtts: Vec<f64> = Vec::with_capacity(usize::from(count));
    let mut other = None;
    for seq in 0..count {
        let Ok((packet, rtt)) = pinger.ping(PingSequence(seq), &payload).await else {
            continue;
        };
        // Only echo replies count; a router's "unreachable" about the request is a loss.
        let (kind, from) = match &packet {
            IcmpPacket::V4(p) => (p.get_icmp_type().0, IpAddr::V4(p.get_source())),
            IcmpPacket::V6(p) => (p.get_icmpv6_type().0, IpAddr::V6(p.get_source())),
        };
        let echo_reply = if ip.is_ipv4() { 0 } else { 129 };
        if kind == echo_reply {
            rtts.push(ms(rtt));
        } else {
            other = Some(format!("ICMP type {kind} from {from}"));
        }
    }
    let received = rtts.len();
    let loss = 100.0 * f64::from(count - received as u16) / f64::from(count);
    let mut o = Outcome {
        is_online: received > 0,
        packet_loss_percent: Some(loss),
        ..Outcome::default()
    };
    let d = &mut o.details;
    d.insert("address".into(), ip.to_string().into());
    d.insert("dns_ms".into(), ms(dns).into());
    d.insert("packets_sent".into(), count.into());
    d.insert("packets_received".into(), received.into());
    if received == 0 {
        let message = match other {
            Some(other) => format!("no reply to {count} echo requests (last answer: {other})"),
            None => format!("no reply to {count} echo requests"),
        };
        o.failure = Some((Phase::Timeout, message));
        return o;
    }
    let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rtts.iter().copied().fold(0.0, f64::max);
    let avg = rtts.iter().sum::<f64>() / received as f64;
    let jitter = if received > 1 {
        rtts.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (received - 1) as f64
    } else {
        0.0
    };
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    d.insert("min_rtt_ms".into(), round(min).into());
    d.insert("avg_rtt_ms".into(), round(avg).into());
    d.insert("max_rtt_ms".into(), round(max).into());
    o.response_time_ms = Some(round(avg));
    o.jitter_ms = Some(round(jitter));
    o
}
