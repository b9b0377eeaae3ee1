//! The probe's links to Vigil itself — the control plane's API and the ingest engine's gRPC
//! listener: plain `http://` on a private network, or `https://` through a TLS edge, verified
//! with the probe's roots (the webpki roots and `VIGIL_PROBE_CA_FILE`). hyper over rustls with
//! the ring provider, as the checks use, rather than reqwest's TLS: that one would need a
//! process-wide crypto provider for every reqwest client built in the same program.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::error::ProbeError;

/// Connects to `http://` and `https://` URLs.
pub(crate) type Connector = HttpsConnector<HttpConnector>;

/// What the connection will speak: HTTP/2 (gRPC, to the engine) or HTTP/1.1 (the API).
#[derive(Clone, Copy)]
pub(crate) enum Speaks {
    Grpc,
    Api,
}

/// A connector for Vigil's `speaks` side, with `tls` for `https://` URLs.
pub(crate) fn connector(tls: rustls::ClientConfig, speaks: Speaks, timeout: Duration) -> Connector {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(timeout));
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    match speaks {
        Speaks::Grpc => builder.enable_http2().wrap_connector(tcp),
        Speaks::Api => builder.enable_http1().wrap_connector(tcp),
    }
}

/// The control plane's API.
#[derive(Clone)]
pub(crate) struct Api {
    client: Client<Connector, Empty<Bytes>>,
    /// The largest answer read (an assignment list of tens of thousands of monitors fits).
    limit: usize,
}

/// The largest API answer the probe reads.
const API_ANSWER_LIMIT: usize = 64 << 20;

impl Api {
    pub(crate) fn new(tls: rustls::ClientConfig, timeout: Duration) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector(
                tls,
                Speaks::Api,
                timeout,
            )),
            limit: API_ANSWER_LIMIT,
        }
    }

    /// `GET url` with the probe's `key`: the status and the body, within `timeout`.
    pub(crate) async fn get(
        &self,
        url: &str,
        key: &str,
        timeout: Duration,
    ) -> Result<(http::StatusCode, Bytes), ProbeError> {
        let failed = |what: &str, e: &dyn std::error::Error| {
            ProbeError::ControlPlane(format!("{what}: {}", proto::causes::causes(e)))
        };
        let request = http::Request::get(url)
            .header(http::header::AUTHORIZATION, format!("Bearer {key}"))
            .header("x-vigil-probe-version", env!("CARGO_PKG_VERSION"))
            .body(Empty::new())
            .map_err(|e| failed(url, &e))?;
        let exchange = async {
            let answer = self
                .client
                .request(request)
                .await
                .map_err(|e| failed(url, &e))?;
            let status = answer.status();
            let body = Limited::new(answer.into_body(), self.limit)
                .collect()
                .await
                .map_err(|e| {
                    ProbeError::ControlPlane(format!(
                        "{url}: the answer was cut off or over {} bytes: {e}",
                        self.limit
                    ))
                })?;
            Ok((status, body.to_bytes()))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| ProbeError::ControlPlane(format!("{url}: no answer within {timeout:?}")))?
    }
}
