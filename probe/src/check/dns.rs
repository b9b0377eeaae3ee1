//! DNS checks: one query of the monitor's record type for its name, to its resolver
//! (`host` or `host:port`, an address) or the system's, without cache. The answers come back
//! with their TTLs; NXDOMAIN (or a name without records of that type) is a result the criteria
//! judge, not a failure — only an unreachable or failing resolver is.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Instant;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RecordType;
use serde_json::{Value, json};

use super::{CheckError, Outcome, Phase, ms};

/// The resolver `host[:port]` (default port 53) as an address.
fn resolver_address(resolver: &str) -> Result<SocketAddr, CheckError> {
    if let Ok(addr) = resolver.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let ip = resolver
        .trim_matches(['[', ']'])
        .parse::<IpAddr>()
        .map_err(|_| CheckError(format!("the resolver {resolver:?} is not an address")))?;
    Ok(SocketAddr::new(ip, 53))
}

fn resolver(settings: &Value) -> Result<TokioResolver, CheckError> {
    let mut builder = match settings["resolver"].as_str() {
        Some(r) => {
            let addr = resolver_address(r)?;
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            let mut server = NameServerConfig::udp_and_tcp(addr.ip());
            server.connections = vec![udp, tcp];
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![server]),
                TokioRuntimeProvider::default(),
            )
        }
        None => TokioResolver::builder_tokio()
            .map_err(|e| CheckError(format!("system resolver: {e}")))?,
    };
    let options = builder.options_mut();
    // Every check asks the server: no cache, one attempt (the monitor's retries apply).
    options.cache_size = 0;
    options.attempts = 1;
    builder
        .build()
        .map_err(|e| CheckError(format!("resolver: {e}")))
}

/// The response code as written in DNS tools (`NXDOMAIN`, `NOERROR`, …).
fn rcode(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::Refused => "REFUSED".into(),
        other => format!("{other:?}").to_uppercase(),
    }
}

pub(super) async fn check(settings: &Value) -> Outcome {
    let name = settings["name"].as_str().unwrap_or("");
    let kind = settings["record_type"].as_str().unwrap_or("A");
    let Ok(record_type) = RecordType::from_str(kind) else {
        return Outcome::failed(Phase::Dns, format!("unknown record type {kind}"));
    };
    let resolver = match resolver(settings) {
        Ok(r) => r,
        Err(e) => return Outcome::failed(Phase::Dns, e),
    };
    let start = Instant::now();
    let answer = resolver.lookup(name, record_type).await;
    let took = ms(start.elapsed());
    let mut o = Outcome {
        is_online: true,
        response_time_ms: Some(took),
        ..Outcome::default()
    };
    match answer {
        Ok(lookup) => {
            let records: Vec<Value> = lookup
                .answers()
                .iter()
                .map(|r| {
                    json!({
                        "name": r.name.to_string(),
                        "type": r.record_type().to_string(),
                        "value": r.data.to_string(),
                        "ttl": r.ttl,
                    })
                })
                .collect();
            // Answers of the asked type, one per line, for `dns_answers` criteria.
            let values: Vec<String> = lookup
                .answers()
                .iter()
                .filter(|r| r.record_type() == record_type)
                .map(|r| r.data.to_string())
                .collect();
            o.dns_answers = Some(values.join("\n"));
            o.details.insert("rcode".into(), "NOERROR".into());
            o.details.insert("records".into(), Value::Array(records));
        }
        Err(NetError::Dns(DnsError::NoRecordsFound(none))) => {
            o.details
                .insert("rcode".into(), rcode(none.response_code).into());
            o.details.insert("records".into(), Value::Array(Vec::new()));
            o.dns_answers = Some(String::new());
        }
        Err(e) => return Outcome::failed(Phase::Dns, format!("{name} {kind}: {e}")),
    }
    o
}
