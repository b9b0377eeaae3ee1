//! Where notifications may go. Unless `notify_allow_private_networks` is set, a channel never
//! reaches a loopback, private, link-local or otherwise internal address: a project admin's
//! webhook must not become a way into the cloud metadata service or the services beside Vigil
//! (server-side request forgery). Webhook hosts are checked on the addresses actually dialled,
//! so a name that later resolves elsewhere cannot slip through.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use serde_json::Value;
use tower_service::Service;

use super::{ChannelKind, NotifyError};

/// The rule for notification targets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Egress {
    /// Internal addresses allowed too (`notify_allow_private_networks`).
    pub allow_private: bool,
}

impl Egress {
    /// Refuses `ip` (an address of `host`) when it is internal and those are not allowed.
    pub(crate) fn check(self, host: &str, ip: IpAddr) -> Result<(), NotifyError> {
        if self.allow_private || !is_internal(ip) {
            return Ok(());
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let target = if bare == ip.to_string() {
            host.to_owned()
        } else {
            format!("{host} ({ip})")
        };
        Err(NotifyError::Refused(format!(
            "{target} is a private or local address; notifications go there only when \
             notify_allow_private_networks is set (VIGIL_NOTIFY_ALLOW_PRIVATE_NETWORKS=true)"
        )))
    }

    /// Refuses a host that is an internal address literal or a `localhost` name, without
    /// resolving it (the API's check when a channel is saved; delivery checks again).
    pub(crate) fn check_literal(self, host: &str) -> Result<(), NotifyError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.check(host, ip);
        }
        let name = bare.trim_end_matches('.').to_ascii_lowercase();
        if name == "localhost" || name.ends_with(".localhost") {
            return self.check(host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        Ok(())
    }

    /// The API's check of a channel's (already validated) settings.
    pub(crate) fn check_channel(
        self,
        kind: ChannelKind,
        settings: &Value,
    ) -> Result<(), NotifyError> {
        let host = match kind {
            ChannelKind::Webhook | ChannelKind::Slack => settings["url"]
                .as_str()
                .and_then(|u| u.parse::<http::Uri>().ok())
                .and_then(|u| u.host().map(str::to_owned)),
            ChannelKind::Email => settings["host"].as_str().map(str::to_owned),
        };
        match host {
            Some(host) => self
                .check_literal(&host)
                .map_err(|e| NotifyError::Settings(format!("settings: {e}"))),
            None => Ok(()),
        }
    }

    /// Resolves `host` and refuses it if any of its addresses is refused (the SMTP check, made
    /// just before the mail client dials the same name).
    pub(crate) async fn check_resolved(
        self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<(), NotifyError> {
        self.check_literal(host)?;
        if self.allow_private {
            return Ok(());
        }
        let addrs = tokio::time::timeout(timeout, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| {
                NotifyError::Send(format!("resolving {host}: no answer within {timeout:?}"))
            })?
            .map_err(|e| NotifyError::Send(format!("resolving {host}: {e}")))?;
        addrs.into_iter().try_for_each(|a| self.check(host, a.ip()))
    }
}

/// Whether `ip` is in a network notifications stay out of by default: unspecified, loopback,
/// private (RFC 1918, unique local), link-local (the metadata service lives there), carrier NAT,
/// multicast, broadcast and reserved; IPv4-mapped and NAT64 addresses by the IPv4 inside.
pub(crate) fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_v4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [.., a, b, c, d] = v6.octets();
                return internal_v4(Ipv4Addr::new(a, b, c, d));
            }
            v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 0
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || (a == 100 && (b & 0xc0) == 64)
        || a >= 240
}

/// The system resolver, refusing a name with any address `Egress` refuses: the webhook
/// client dials only what passed.
#[derive(Clone)]
pub(crate) struct GuardedResolver {
    inner: GaiResolver,
    egress: Egress,
}

impl GuardedResolver {
    pub(crate) fn new(egress: Egress) -> Self {
        Self {
            inner: GaiResolver::new(),
            egress,
        }
    }
}

type Resolving =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, io::Error>> + Send>>;

impl Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Resolving;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_owned();
        let resolving = self.inner.call(name);
        let egress = self.egress;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = resolving.await?.collect();
            for addr in &addrs {
                egress
                    .check(&host, addr.ip())
                    .map_err(|e| io::Error::new(io::ErrorKind::PermissionDenied, e))?;
            }
            Ok(addrs.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_networks_are_recognised() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.0.2.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn literals_are_refused_unless_private_networks_are_allowed() {
        let strict = Egress {
            allow_private: false,
        };
        let open = Egress {
            allow_private: true,
        };
        for host in [
            "127.0.0.1",
            "[::1]",
            "localhost",
            "api.LOCALHOST.",
            "10.0.0.5",
        ] {
            let error = strict.check_literal(host).unwrap_err();
            assert!(matches!(error, NotifyError::Refused(_)), "{error}");
            assert!(
                error.to_string().contains("notify_allow_private_networks"),
                "{error}"
            );
            open.check_literal(host).unwrap();
        }
        strict.check_literal("hooks.slack.com").unwrap();
        strict.check_literal("93.184.216.34").unwrap();
        let webhook = serde_json::json!({"url": "http://169.254.169.254/latest/meta-data/"});
        assert!(
            strict
                .check_channel(ChannelKind::Webhook, &webhook)
                .is_err()
        );
        let mail = serde_json::json!({"host": "127.0.0.1"});
        assert!(strict.check_channel(ChannelKind::Email, &mail).is_err());
        open.check_channel(ChannelKind::Webhook, &webhook).unwrap();
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_internal_addresses() {
        let name: Name = "localhost".parse().unwrap();
        let strict = GuardedResolver::new(Egress {
            allow_private: false,
        });
        let error = strict.clone().call(name.clone()).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
        assert!(
            error.to_string().starts_with("localhost (")
                && error.to_string().contains("notify_allow_private_networks"),
            "{error}"
        );
        let open = GuardedResolver::new(Egress {
            allow_private: true,
        });
        let addrs: Vec<SocketAddr> = open.clone().call(name).await.unwrap().collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
