//! HTTP(S) checks (website and API monitors): method, headers and body from the monitor,
//! redirects followed or not, self-signed certificates allowed or not, and the timing of each
//! phase — DNS, connect, TLS, first byte, download — with the status, the response headers
//! and a bounded body for criteria. A response of any status is "online"; criteria judge the
//! status code.

use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};

use super::connect::{self, Secure, Tls};
use super::{CheckError, Outcome, Phase, ms};

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 10;
/// Response headers kept at most.
const MAX_HEADERS: usize = 50;

struct Target {
    https: bool,
    host: String,
    port: u16,
    authority: String,
    path: String,
}

fn target(url: &str) -> Result<Target, CheckError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| CheckError(format!("bad URL {url:?}: {e}")))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(CheckError(format!("{url:?} is not an http(s) URL"))),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| CheckError(format!("{url:?} has no host")))?;
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    Ok(Target {
        https,
        host: authority.host().to_owned(),
        port,
        authority: authority.as_str().to_owned(),
        path: uri
            .path_and_query()
            .map_or("/".to_owned(), |p| p.as_str().to_owned()),
    })
}

/// `location` resolved against the URL it came from.
fn resolve(base: &Target, location: &str) -> String {
    let scheme = if base.https { "https" } else { "http" };
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else if let Some(rest) = location.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{scheme}://{}{location}", base.authority)
    } else {
        let dir = base.path.split('?').next().unwrap_or("/");
        let dir = &dir[..dir.rfind('/').map_or(0, |i| i + 1)];
        format!("{scheme}://{}{dir}{location}", base.authority)
    }
}

pub(super) async fn check(settings: &Value, tls: &Tls, body_limit: usize) -> Outcome {
    let mut url = settings["url"].as_str().unwrap_or("").to_owned();
    let mut method = settings["method"].as_str().unwrap_or("GET").to_owned();
    let follow = settings["follow_redirects"].as_bool().unwrap_or(true);
    let verify = !settings["allow_self_signed"].as_bool().unwrap_or(false);
    let mut body = settings["body"].as_str().map(str::to_owned);
    let start = Instant::now();
    let mut redirects = 0;
    loop {
        let t = match target(&url) {
            Ok(t) => t,
            Err(e) => return Outcome::failed(Phase::Response, e),
        };
        let secure = if t.https {
            Secure::Tls { tls, verify }
        } else {
            Secure::No
        };
        let conn = match connect::open(&t.host, t.port, secure).await {
            Ok(c) => c,
            Err(f) => {
                let mut o = Outcome::failed(f.phase, f.message);
                o.details = f.timings;
                return o;
            }
        };
        let mut details = Map::new();
        details.insert("dns_ms".into(), ms(conn.dns).into());
        details.insert("connect_ms".into(), ms(conn.connect).into());
        if let Some(tls) = conn.tls {
            details.insert("tls_ms".into(), ms(tls).into());
        }
        details.insert("address".into(), conn.address.to_string().into());
        let fail = |message: String, details: &Map<String, Value>| {
            let mut o = Outcome::failed(Phase::Response, message);
            o.details = details.clone();
            o
        };
        let (mut sender, connection) =
            match hyper::client::conn::http1::handshake(TokioIo::new(conn.io)).await {
                Ok(pair) => pair,
                Err(e) => return fail(format!("HTTP handshake: {e}"), &details),
            };
        let driver = tokio::spawn(async move {
            let _closed = connection.await;
        });
        let mut request = http::Request::builder()
            .method(method.as_str())
            .uri(t.path.as_str())
            .header(http::header::HOST, t.authority.as_str())
            .header(
                http::header::USER_AGENT,
                concat!("vigil-probe/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(headers) = settings["headers"].as_object() {
            for (name, value) in headers {
                if let Some(v) = value.as_str() {
                    request = request.header(name.as_str(), v);
                }
            }
        }
        let payload = Bytes::from(body.clone().unwrap_or_default());
        let request = match request.body(Full::new(payload)) {
            Ok(r) => r,
            Err(e) => return fail(format!("bad request: {e}"), &details),
        };
        let sent = Instant::now();
        let response = match sender.send_request(request).await {
            Ok(r) => r,
            Err(e) => {
                driver.abort();
                return fail(format!("no response: {e}"), &details);
            }
        };
        let first_byte = sent.elapsed();
        details.insert("first_byte_ms".into(), ms(first_byte).into());
        let status = response.status();
        let mut headers = Map::new();
        for (name, value) in response.headers().iter().take(MAX_HEADERS) {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            headers.insert(name.as_str().to_owned(), v.into());
        }
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // The body, read up to the limit; the rest is not downloaded.
        let download = Instant::now();
        let mut kept: Vec<u8> = Vec::new();
        let mut incoming = response.into_body();
        let mut truncated = false;
        while let Some(frame) = incoming.frame().await {
            let Ok(frame) = frame else {
                driver.abort();
                return fail("the body was cut off".into(), &details);
            };
            if let Some(data) = frame.data_ref() {
                let room = body_limit.saturating_sub(kept.len());
                kept.extend_from_slice(&data[..data.len().min(room)]);
                if data.len() > room {
                    truncated = true;
                    break;
                }
            }
        }
        driver.abort();
        details.insert("download_ms".into(), ms(download.elapsed()).into());
        if follow
            && status.is_redirection()
            && redirects < MAX_REDIRECTS
            && let Some(location) = location
        {
            redirects += 1;
            url = resolve(&t, &location);
            // 303, and 301/302 after a POST, continue as GET.
            if status == http::StatusCode::SEE_OTHER
                || (method == "POST" && matches!(status.as_u16(), 301 | 302))
            {
                method = "GET".into();
                body = None;
            }
            continue;
        }
        details.insert("redirects".into(), redirects.into());
        details.insert("final_url".into(), url.into());
        details.insert("headers".into(), Value::Object(headers));
        if truncated {
            details.insert("body_truncated".into(), true.into());
        }
        return Outcome {
            is_online: true,
            response_time_ms: Some(ms(start.elapsed())),
            status_code: Some(u32::from(status.as_u16())),
            body: Some(String::from_utf8_lossy(&kept).into_owned()),
            details,
            ..Outcome::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_url_they_came_from() {
        let base = target("https://a.test:8443/x/y?q=1").unwrap();
        assert_eq!(base.port, 8443);
        assert_eq!(resolve(&base, "/z"), "https://a.test:8443/z");
        assert_eq!(resolve(&base, "z"), "https://a.test:8443/x/z");
        assert_eq!(resolve(&base, "//b.test/"), "https://b.test/");
        assert_eq!(resolve(&base, "http://c.test/"), "http://c.test/");
        assert!(target("ftp://a").is_err());
        assert_eq!(target("http://a.test").unwrap().path, "/");
    }
}
