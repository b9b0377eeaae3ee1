//! The HTTP client notifications are POSTed with: hyper over rustls (ring provider, webpki
//! roots), redirects not followed. (reqwest with rustls would switch every reqwest client in the
//! workspace to a process-wide crypto provider; this keeps TLS to the one place that needs it.)
//! Names resolve through `egress::GuardedResolver` and address literals are checked before the
//! request, so a refused target is never dialled.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::NotifyError;
use super::egress::{Egress, GuardedResolver};

/// POSTs JSON to webhook URLs.
#[derive(Clone)]
pub(crate) struct HttpClient {
    client: Client<HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>,
    egress: Egress,
}

impl HttpClient {
    pub(crate) fn new(connect_timeout: Duration, egress: Egress) -> Result<Self, NotifyError> {
        let mut http = HttpConnector::new_with_resolver(GuardedResolver::new(egress));
        http.enforce_http(false);
        http.set_connect_timeout(Some(connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| NotifyError::Internal(format!("TLS setup: {e}")))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            egress,
        })
    }

    /// The rule this client dials by (mail is checked by the same one).
    pub(crate) fn egress(&self) -> Egress {
        self.egress
    }

    /// POSTs `body` (JSON) to `url` with `headers`; Ok once a 2xx answer arrives.
    pub(crate) async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<(), NotifyError> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| NotifyError::Send(format!("bad URL: {e}")))?;
        // The connector skips the resolver for address literals: check those here.
        self.egress.check_literal(uri.host().unwrap_or_default())?;
        let mut request = http::Request::post(uri).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| NotifyError::Send(format!("bad request: {e}")))?;
        let response = tokio::time::timeout(timeout, self.client.request(request))
            .await
            .map_err(|_| NotifyError::Send(format!("no answer within {timeout:?}")))?
            .map_err(|e| {
                NotifyError::Send(format!("request failed: {}", proto::causes::causes(&e)))
            })?;
        match response.status() {
            s if s.is_success() => Ok(()),
            s => Err(NotifyError::Send(format!("answered HTTP {}", s.as_u16()))),
        }
    }
}

/// Whether `url` is an http(s) URL with a host, of at most 2048 characters.
pub(crate) fn is_http_url(url: &str) -> bool {
    url.len() <= 2048
        && url.parse::<http::Uri>().is_ok_and(|u| {
            matches!(u.scheme_str(), Some("http" | "https"))
                && u.host().is_some_and(|h| !h.is_empty())
        })
}
