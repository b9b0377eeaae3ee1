//! Opening a connection the way checks need it: resolve, connect, and optionally TLS, each
//! timed, and each failure named by its phase. TLS keeps the peer's certificates so the
//! certificate check can read them; the chain is verified against the probe's roots (webpki
//! roots plus any extra CA the operator configured) unless a monitor allows self-signed
//! certificates.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{CheckError, Phase, ms};
use crate::error::ProbeError;

/// A byte stream: plain TCP or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open connection and what opening it took.
pub(crate) struct Connected {
    pub io: Box<dyn Io>,
    pub address: SocketAddr,
    pub dns: Duration,
    pub connect: Duration,
    pub tls: Option<Duration>,
    /// The peer's certificate chain, leaf first (TLS only).
    pub certificates: Vec<CertificateDer<'static>>,
}

/// A failed connection: the phase, the message, and the timings taken so far (JSON fields).
pub(crate) struct Failed {
    pub phase: Phase,
    pub message: String,
    pub timings: serde_json::Map<String, serde_json::Value>,
}

/// The TLS setups of a probe.
#[derive(Clone)]
pub struct Tls {
    strict: Arc<rustls::ClientConfig>,
    lenient: Arc<rustls::ClientConfig>,
    verifier: Arc<WebPkiServerVerifier>,
}

impl Tls {
    /// Trusting the webpki roots and `extra` CA certificates.
    pub fn new(extra: &[CertificateDer<'static>]) -> Result<Self, ProbeError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in extra {
            roots.add(cert.clone()).map_err(|e| {
                ProbeError::Setup(format!("an extra CA certificate is unusable: {e}"))
            })?;
        }
        let roots = Arc::new(roots);
        let verifier = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| ProbeError::Setup(format!("TLS verifier: {e}")))?;
        let strict = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ProbeError::Setup(format!("TLS setup: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let lenient = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ProbeError::Setup(format!("TLS setup: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth();
        Ok(Self {
            strict: Arc::new(strict),
            lenient: Arc::new(lenient),
            verifier,
        })
    }

    /// The verifying setup, for the probe's own calls to Vigil (the control plane's API and the
    /// engine's gRPC listener, e.g. through a TLS edge with a private CA).
    pub(crate) fn verifying(&self) -> rustls::ClientConfig {
        (*self.strict).clone()
    }

    /// Whether `chain` (leaf first) is valid for `host` now; the reason when not.
    pub(crate) fn verify(
        &self,
        chain: &[CertificateDer<'static>],
        host: &str,
    ) -> Result<(), CheckError> {
        let (leaf, rest) = chain
            .split_first()
            .ok_or_else(|| CheckError("no certificate".into()))?;
        let name = ServerName::try_from(host.to_owned()).map_err(|e| CheckError(e.to_string()))?;
        self.verifier
            .verify_server_cert(leaf, rest, &name, &[], UnixTime::now())
            .map(|_| ())
            .map_err(|e| CheckError(e.to_string()))
    }
}

/// Accepts any certificate (monitors that allow self-signed ones, and the certificate check,
/// which judges the chain itself); signatures are still checked.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// How to secure a connection.
pub(crate) enum Secure<'a> {
    No,
    /// TLS; `verify` false accepts any certificate.
    Tls {
        tls: &'a Tls,
        verify: bool,
    },
}

/// Resolves `host`, connects to its first address on `port`, and runs TLS when asked.
pub(crate) async fn open(host: &str, port: u16, secure: Secure<'_>) -> Result<Connected, Failed> {
    let mut timings = serde_json::Map::new();
    let fail = |phase, message: String, timings: &serde_json::Map<_, _>| Failed {
        phase,
        message,
        timings: timings.clone(),
    };
    let start = Instant::now();
    // Brackets of an IPv6 literal are URL syntax, not part of the address.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((bare, port)).await {
        Ok(a) => a.collect(),
        Err(e) => {
            return Err(fail(
                Phase::Dns,
                format!("cannot resolve {host}: {e}"),
                &timings,
            ));
        }
    };
    let dns = start.elapsed();
    timings.insert("dns_ms".into(), ms(dns).into());
    let Some(address) = addrs.first().copied() else {
        return Err(fail(Phase::Dns, format!("{host} has no address"), &timings));
    };
    let connect_start = Instant::now();
    let tcp = TcpStream::connect(address).await.map_err(|e| {
        fail(
            Phase::Connect,
            format!("connect to {address}: {e}"),
            &timings,
        )
    })?;
    let connect = connect_start.elapsed();
    timings.insert("connect_ms".into(), ms(connect).into());
    let _nodelay = tcp.set_nodelay(true);
    let Secure::Tls { tls, verify } = secure else {
        return Ok(Connected {
            io: Box::new(tcp),
            address,
            dns,
            connect,
            tls: None,
            certificates: Vec::new(),
        });
    };
    let config = if verify { &tls.strict } else { &tls.lenient };
    let name = ServerName::try_from(bare.to_owned()).map_err(|e| {
        fail(
            Phase::Tls,
            format!("{host} is not a TLS server name: {e}"),
            &timings,
        )
    })?;
    let tls_start = Instant::now();
    let stream = tokio_rustls::TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| fail(Phase::Tls, format!("TLS handshake: {e}"), &timings))?;
    let handshake = tls_start.elapsed();
    let certificates = stream
        .get_ref()
        .1
        .peer_certificates()
        .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
        .unwrap_or_default();
    Ok(Connected {
        io: Box::new(stream),
        address,
        dns,
        connect,
        tls: Some(handshake),
        certificates,
    })
}
