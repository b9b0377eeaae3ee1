//! `vigil-load`: sends generated OTLP requests over gRPC or HTTP at a target rate or flat out,
//! with a live progress line and a summary (records/s, latency p50/p99, errors by kind).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes};
use tokio::sync::Mutex;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use crate::payload::{self, Signal};

/// The transport to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// OTLP/gRPC (h2c).
    Grpc,
    /// OTLP/HTTP with protobuf bodies.
    Http,
    /// Fluent Forward, PackedForward frames with acks (logs only).
    Forward,
    /// Fluent Forward, CompressedPackedForward (gzip) frames with acks (logs only).
    ForwardGzip,
}

/// The chunk id of every Forward frame (acks are matched per connection, in order).
const CHUNK: &str = "AAECAwQFBgcICQoLDA0ODw==";

/// What to send, where, and how hard.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Signal of every request.
    pub signal: Signal,
    /// Transport.
    pub protocol: Protocol,
    /// `host:port` of the engine's listener for `protocol`.
    pub target: String,
    /// Ingestion token (`x-vigil-token`).
    pub token: String,
    /// Records per request.
    pub records_per_request: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Records per second to aim for; `None` sends flat out.
    pub rate: Option<f64>,
    /// Longest run time.
    pub duration: Duration,
    /// Stop after this many requests.
    pub max_requests: Option<u64>,
    /// Seed of the payload generator.
    pub seed: u64,
    /// Distinct payloads to cycle through.
    pub variants: usize,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// What a run did.
#[derive(Debug)]
pub struct Summary {
    /// Requests answered with success.
    pub ok_requests: u64,
    /// Records in those requests.
    pub ok_records: u64,
    /// Failed requests by kind (`http 429`, `grpc UNAVAILABLE`, `transport`…).
    pub errors: BTreeMap<String, u64>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Request latency percentiles (p50, p99, max) of successful requests.
    pub latency: (Duration, Duration, Duration),
}

impl Summary {
    /// Successful records per second.
    pub fn records_per_second(&self) -> f64 {
        self.ok_records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Passes pre-encoded protobuf through tonic untouched.
#[derive(Clone, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

enum Client {
    Grpc(
        tonic::client::Grpc<tonic::transport::Channel>,
        http::uri::PathAndQuery,
    ),
    Http(reqwest::Client, String),
    Forward(tokio::net::TcpStream, Vec<u8>, Duration),
}

impl Client {
    async fn new(config: &LoadConfig) -> anyhow::Result<Self> {
        Ok(match config.protocol {
            Protocol::Grpc => {
                let channel =
                    tonic::transport::Endpoint::from_shared(format!("http://{}", config.target))?
                        .timeout(config.timeout)
                        .connect()
                        .await?;
                let path = match config.signal {
                    Signal::Logs => proto_path(proto::otlp_paths::LOGS_EXPORT),
                    Signal::Traces => proto_path(proto::otlp_paths::TRACES_EXPORT),
                    Signal::Metrics => proto_path(proto::otlp_paths::METRICS_EXPORT),
                };
                Client::Grpc(tonic::client::Grpc::new(channel), path)
            }
            Protocol::Forward | Protocol::ForwardGzip => {
                anyhow::ensure!(config.signal == Signal::Logs, "Forward carries logs only");
                let stream = tokio::net::TcpStream::connect(&config.target).await?;
                stream.set_nodelay(true)?;
                Client::Forward(stream, crate::forward::ack_for(CHUNK), config.timeout)
            }
            Protocol::Http => {
                let path = match config.signal {
                    Signal::Logs => "logs",
                    Signal::Traces => "traces",
                    Signal::Metrics => "metrics",
                };
                let client = reqwest::Client::builder().timeout(config.timeout).build()?;
                Client::Http(client, format!("http://{}/v1/{path}", config.target))
            }
        })
    }

    /// Sends one request; `Err` names the kind of failure.
    async fn send(&mut self, body: Bytes, token: &str) -> Result<(), String> {
        match self {
            Client::Grpc(grpc, path) => {
                grpc.ready().await.map_err(|e| format!("transport: {e}"))?;
                let mut request = tonic::Request::new(body);
                let token = token
                    .parse()
                    .map_err(|_| "token is not a valid header".to_owned())?;
                request.metadata_mut().insert("x-vigil-token", token);
                grpc.unary(request, path.clone(), RawCodec)
                    .await
                    .map(|_| ())
                    .map_err(|status| format!("grpc {:?}", status.code()))
            }
            Client::Forward(stream, ack, timeout) => {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let exchange = async {
                    stream.write_all(&body).await?;
                    let mut reply = vec![0u8; ack.len()];
                    stream.read_exact(&mut reply).await?;
                    Ok::<_, std::io::Error>(reply)
                };
                match tokio::time::timeout(*timeout, exchange).await {
                    Err(_) => Err("timeout".to_owned()),
                    Ok(Err(_)) => Err("transport".to_owned()),
                    Ok(Ok(reply)) if reply == *ack => Ok(()),
                    Ok(Ok(_)) => Err("wrong ack".to_owned()),
                }
            }
            Client::Http(client, url) => {
                let response = client
                    .post(url.as_str())
                    .header("content-type", "application/x-protobuf")
                    .header("x-vigil-token", token)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| {
                        if e.is_timeout() {
                            "timeout".to_owned()
                        } else {
                            "transport".to_owned()
                        }
                    })?;
                if response.status().is_success() {
                    // Read the reply so the connection can be reused.
                    let _reply = response.bytes().await;
                    Ok(())
                } else {
                    Err(format!("http {}", response.status().as_u16()))
                }
            }
        }
    }
}

fn proto_path(path: &'static str) -> http::uri::PathAndQuery {
    http::uri::PathAndQuery::from_static(path)
}

struct Shared {
    next_request: AtomicU64,
    ok_requests: AtomicU64,
    ok_records: AtomicU64,
    failed: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    latency: Mutex<hdrhistogram::Histogram<u64>>,
}

/// Runs the load described by `config`; calls `progress` about once a second.
pub async fn run(
    config: LoadConfig,
    mut progress: impl FnMut(Duration, u64, u64) + Send + 'static,
) -> anyhow::Result<Summary> {
    let payloads: Arc<Vec<Bytes>> = Arc::new(
        (0..config.variants.max(1))
            .map(|i| {
                let otlp = payload::generate(
                    config.signal,
                    config.records_per_request,
                    config.seed + i as u64,
                );
                Ok(Bytes::from(match config.protocol {
                    Protocol::Forward => crate::forward::packed_forward(&otlp, false, CHUNK)?.0,
                    Protocol::ForwardGzip => crate::forward::packed_forward(&otlp, true, CHUNK)?.0,
                    Protocol::Grpc | Protocol::Http => otlp,
                }))
            })
            .collect::<anyhow::Result<Vec<Bytes>>>()?,
    );
    let records = payload::records_in(config.signal, config.records_per_request) as u64;
    let shared = Arc::new(Shared {
        next_request: AtomicU64::new(0),
        ok_requests: AtomicU64::new(0),
        ok_records: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        errors: Mutex::new(BTreeMap::new()),
        latency: Mutex::new(hdrhistogram::Histogram::new_with_bounds(1, 600_000_000, 3)?),
    });
    let interval = config
        .rate
        .map(|rate| Duration::from_secs_f64(records as f64 / rate));
    let start = Instant::now();
    let deadline = start + config.duration;
    let max_requests = config.max_requests.unwrap_or(u64::MAX);

    let reporter = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                progress(
                    start.elapsed(),
                    shared.ok_records.load(Ordering::Relaxed),
                    shared.failed.load(Ordering::Relaxed),
                );
            }
        })
    };
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..config.concurrency.max(1) {
        let mut client = Client::new(&config).await?;
        let (shared, payloads, token) = (shared.clone(), payloads.clone(), config.token.clone());
        workers.spawn(async move {
            loop {
                let n = shared.next_request.fetch_add(1, Ordering::Relaxed);
                if n >= max_requests {
                    break;
                }
                if let Some(interval) = interval {
                    tokio::time::sleep_until((start + interval.mul_f64(n as f64)).into()).await;
                }
                if Instant::now() >= deadline {
                    break;
                }
                let body = payloads[n as usize % payloads.len()].clone();
                let sent = Instant::now();
                match client.send(body, &token).await {
                    Ok(()) => {
                        let micros = sent.elapsed().as_micros() as u64;
                        let _ignored = shared.latency.lock().await.record(micros.max(1));
                        shared.ok_requests.fetch_add(1, Ordering::Relaxed);
                        shared.ok_records.fetch_add(records, Ordering::Relaxed);
                    }
                    Err(kind) => {
                        shared.failed.fetch_add(1, Ordering::Relaxed);
                        *shared.errors.lock().await.entry(kind).or_default() += 1;
                    }
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    reporter.abort();
    let elapsed = start.elapsed();
    let latency = shared.latency.lock().await;
    let micros = |v: u64| Duration::from_micros(v);
    Ok(Summary {
        ok_requests: shared.ok_requests.load(Ordering::Relaxed),
        ok_records: shared.ok_records.load(Ordering::Relaxed),
        errors: shared.errors.lock().await.clone(),
        elapsed,
        latency: (
            micros(latency.value_at_quantile(0.5)),
            micros(latency.value_at_quantile(0.99)),
            micros(latency.max()),
        ),
    })
}
