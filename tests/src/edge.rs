//! nginx in front of Vigil, as the repository ships it: certificates from
//! `deploy/nginx/local-ca.sh`, the configuration rendered by `deploy/nginx/render.py`, and
//! Debian's nginx run on its own (a whole nginx.conf under one test folder) until dropped.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::{free_port, repo_root, test_dir, wait_until};

/// Makes `dir/<name>.pem` and `.key` for `hosts` with the local CA (made once in `dir`);
/// the CA's path.
pub async fn certificate(dir: &Path, name: &str, hosts: &[&str]) -> PathBuf {
    let out = tokio::process::Command::new(repo_root().join("deploy/nginx/local-ca.sh"))
        .arg(dir)
        .arg(name)
        .args(hosts)
        .output()
        .await
        .expect("local-ca.sh runs");
    assert!(
        out.status.success(),
        "local-ca.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A running nginx for Vigil.
pub struct Nginx {
    /// Its TLS listener.
    pub addr: SocketAddr,
    /// The folder of its configuration, logs and pid.
    pub dir: PathBuf,
    child: tokio::process::Child,
}

impl Nginx {
    /// Renders the configuration with `settings` (`VIGIL_EDGE_*` variables; the listener is
    /// chosen here) and starts nginx; returns once it accepts connections.
    pub async fn start(label: &str, settings: &[(&str, String)]) -> Self {
        let dir = test_dir(label);
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let rendered = tokio::process::Command::new("python3")
            .arg(repo_root().join("deploy/nginx/render.py"))
            .arg(&dir)
            .arg("--standalone")
            .env("VIGIL_EDGE_LISTEN", addr.to_string())
            .env("VIGIL_EDGE_WORKERS", "2")
            .envs(settings.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .await
            .expect("render.py runs");
        assert!(
            rendered.status.success(),
            "render.py: {}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        let child = tokio::process::Command::new("/usr/sbin/nginx")
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .spawn()
            .expect("nginx runs (Debian's nginx-light; deploy/local/stack.sh install)");
        let nginx = Self { addr, dir, child };
        wait_until(Duration::from_secs(10), "nginx to listen", || async {
            tokio::net::TcpStream::connect(addr).await.ok().map(|_| ())
        })
        .await;
        nginx
    }

    /// `https://localhost:<port>`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// nginx's error log so far (for failure messages).
    pub fn errors(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// Stops nginx and waits for it.
    pub async fn stop(mut self) {
        self.terminate();
        let _ignored = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    /// SIGTERM to the master: a fast shutdown, in which it stops its workers too (SIGKILL
    /// would leave them running, holding the port and whatever pipes they inherited).
    fn terminate(&self) {
        if let Some(pid) = self.child.id() {
            let _ignored = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Every name resolves to 127.0.0.1 (the port comes from the URL): a status page's own
/// domain reaches the local nginx, with that name in SNI and `Host`.
#[derive(Clone)]
struct Loopback;

impl tower_service::Service<Name> for Loopback {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Name) -> Self::Future {
        std::future::ready(Ok(vec![SocketAddr::from(([127, 0, 0, 1], 0))].into_iter()))
    }
}

/// An HTTPS client that trusts one CA and connects from a chosen loopback address (so that
/// nginx sees distinct clients).
#[derive(Clone)]
pub struct Https {
    client: Client<HttpsConnector<HttpConnector<Loopback>>, Full<Bytes>>,
}

/// An answer: status, headers and the body, read as it arrives.
pub type Answer = http::Response<hyper::body::Incoming>;

impl Https {
    pub fn new(ca: &Path, local: IpAddr) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(ca).expect("the CA file"))
            .expect("a CA certificate");
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut http = HttpConnector::new_with_resolver(Loopback);
        http.enforce_http(false);
        http.set_local_address(Some(local));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .wrap_connector(http);
        Self {
            client: Client::builder(TokioExecutor::new()).build(https),
        }
    }

    /// `method url` with `headers` and `body`.
    pub async fn send(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let mut request = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body.into())).expect("a request");
        tokio::time::timeout(Duration::from_secs(30), self.client.request(request))
            .await
            .expect("an answer within 30 s")
            .expect("the request reaches nginx")
    }

    /// `GET url`.
    pub async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Answer {
        self.send(http::Method::GET, url, headers, Bytes::new())
            .await
    }
}

/// The whole body of `answer` as text.
pub async fn text(answer: Answer) -> String {
    let body = answer.into_body().collect().await.expect("the body");
    String::from_utf8_lossy(&body.to_bytes()).into_owned()
}

/// The next piece of `answer`'s body (`None` at its end).
pub async fn next_chunk(answer: &mut Answer) -> Option<Bytes> {
    loop {
        let frame = answer.body_mut().frame().await?.ok()?;
        if let Ok(data) = frame.into_data() {
            return Some(data);
        }
    }
}
