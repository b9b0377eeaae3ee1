//! The contract with a proxy in front of Vigil (nginx, a load balancer): a request that comes
//! from a trusted proxy names its client in `X-Forwarded-For`, which the proxy appends to.
//! Only the addresses the operator lists are believed — anyone else could write the header —
//! so per-client limits and recorded source addresses follow the real client, not the proxy.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// The header a proxy names the client in.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The proxies whose `X-Forwarded-For` is believed (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// Why a list of proxies cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8, ::1)")]
pub struct ProxyListError(String);

impl TrustedProxies {
    /// Addresses and networks separated by commas or spaces (`127.0.0.1, 10.0.0.0/8`).
    pub fn parse(list: &str) -> Result<Self, ProxyListError> {
        list.split([',', ' ', '\t', '\n'])
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| ProxyListError(item.to_owned()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client of a request from `peer` with `forwarded_for` (the header's value): `peer`
    /// itself unless it is a trusted proxy; else the rightmost address in the header that is
    /// not one (each proxy appends the address it was reached from, so addresses left of the
    /// first untrusted one could be made up). A forwarded address has no port: it is 0.
    pub fn client(&self, peer: SocketAddr, forwarded_for: Option<&str>) -> SocketAddr {
        if self.0.is_empty() || !self.trusts(peer.ip()) {
            return peer;
        }
        let Some(header) = forwarded_for else {
            return peer;
        };
        let mut chain = header.rsplit(',').map(str::trim);
        let mut client = None;
        for item in &mut chain {
            match item.parse::<IpAddr>() {
                Ok(address) if self.trusts(address) => client = Some(address),
                Ok(address) => return SocketAddr::new(address, 0),
                // A name or garbage: nothing further left can be believed.
                Err(_) => break,
            }
        }
        client.map_or(peer, |address| SocketAddr::new(address, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_trusted_proxies_name_the_client() {
        let proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8 ::1").unwrap();
        let nginx = at("127.0.0.1:50000");
        // From the proxy: the rightmost untrusted address.
        assert_eq!(
            proxies.client(nginx, Some("203.0.113.9")),
            at("203.0.113.9:0")
        );
        assert_eq!(
            proxies.client(nginx, Some("6.6.6.6, 203.0.113.9, 10.1.2.3")),
            at("203.0.113.9:0"),
            "a made-up address left of the real client is ignored"
        );
        // Not from a proxy: the header is the client's own claim and is ignored.
        let stranger = at("198.51.100.7:4000");
        assert_eq!(proxies.client(stranger, Some("1.2.3.4")), stranger);
        // No header, or nothing believable in it: the peer.
        assert_eq!(proxies.client(nginx, None), nginx);
        assert_eq!(proxies.client(nginx, Some("unknown")), nginx);
        // Every hop a proxy: the leftmost of them.
        assert_eq!(
            proxies.client(nginx, Some("10.0.0.5, 10.0.0.6")),
            at("10.0.0.5:0")
        );
        // IPv4 peers seen as mapped IPv6 addresses are matched as IPv4.
        assert_eq!(
            proxies.client(at("[::ffff:127.0.0.1]:1"), Some("192.0.2.1")),
            at("192.0.2.1:0")
        );
        // Nobody trusted: nothing changes.
        assert_eq!(
            TrustedProxies::default().client(nginx, Some("192.0.2.1")),
            nginx
        );
        assert!(TrustedProxies::parse("127.0.0.1, nope").is_err());
    }
}
