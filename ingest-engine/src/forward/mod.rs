//! The Fluent Forward listener: TCP connections carrying msgpack frames (Message, Forward,
//! PackedForward, CompressedPackedForward), `chunk` acks sent only once the events are in the
//! WAL, the optional `shared_key` handshake, nil keep-alives, and the UDP heartbeat.
//!
//! Limits: frame size, decompressed size, connections and idle time. A connection that breaks
//! one, or sends a frame that is not valid, gets a warning logged and is closed; nothing of
//! that frame is stored or acknowledged, and other connections are unaffected. Under
//! back-pressure the listener stops reading and withholds acks (the client resends after its
//! ack timeout); it never drops acknowledged data.

mod event;
mod fields;
mod handshake;
pub mod msgpack;
mod otlp_json;
pub(crate) mod record;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::ForwardKeys;
use crate::config::{ForwardConfig, LimitsConfig};
use crate::engine::{Decoded, Engine, INLINE_DECODE_BYTES, Item};
use crate::error::IngestError;
use crate::otlp;
use crate::pipeline::Target;
use crate::wire::connections::{Connections, Slot};
use event::Frame;
pub use event::FrameError;
use handshake::Helo;
use msgpack::Cutter;
use storage::compression::Compression;

/// The read buffer of a new connection; it grows with the frames the connection sends.
const FIRST_READ_BYTES: usize = 8 << 10;

/// How long a client has to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a frame waits for room in the WAL or memory before the connection is closed
/// unacknowledged (the client resends it).
const MAX_BACKPRESSURE_WAIT: Duration = Duration::from_secs(60);

/// The `logs` rows of one frame's events, framed for an INSERT.
fn decode_events(
    events: &event::Events<'_>,
    project: &str,
    compression: Compression,
    max_decompressed: usize,
) -> Result<otlp::Decoded, FrameError> {
    let origin = record::Origin {
        project: project.as_bytes(),
        service: events.tag,
        tag: Some(events.tag),
        scope: b"fluent-forward",
        now: otlp::now_unix_nano(),
    };
    otlp::encode_logs(compression, |block| {
        event::push_events(events, &origin, max_decompressed, block)
    })
}

/// Decodes one Forward frame carrying events as the listener does (for benchmarks): its `logs`
/// rows framed for an INSERT, or `None` for a keep-alive or handshake frame. Compressed
/// entries may inflate to `max_decompressed` bytes.
pub fn decode_frame(
    frame: &[u8],
    project: &str,
    compression: Compression,
    max_decompressed: usize,
) -> Result<Option<otlp::Decoded>, FrameError> {
    match event::parse(frame)? {
        Frame::Events(events) => {
            decode_events(&events, project, compression, max_decompressed).map(Some)
        }
        Frame::KeepAlive | Frame::Ping(_) => Ok(None),
    }
}

struct Listener {
    engine: Arc<Engine>,
    config: ForwardConfig,
    /// How soon a connection must send its first frame.
    first_frame: Duration,
    keys: ForwardKeys,
    project: Arc<str>,
    tls: Option<TlsAcceptor>,
}

/// Serves Forward on the TCP socket (and heartbeats on the UDP one) until `shutdown`.
pub(crate) async fn serve(
    ForwardSockets { tcp, udp }: ForwardSockets,
    engine: Arc<Engine>,
    config: ForwardConfig,
    limits: LimitsConfig,
    keys: ForwardKeys,
    tls: Option<TlsAcceptor>,
    shutdown: CancellationToken,
) {
    let tasks = TaskTracker::new();
    if let Some(udp) = udp {
        tasks.spawn(heartbeats(udp, shutdown.clone()));
    }
    let connections = Connections::new(
        "forward",
        config.max_connections,
        limits.max_connections_per_address,
    );
    let listener = Arc::new(Listener {
        engine,
        project: Arc::from(config.project.trim()),
        keys,
        config,
        first_frame: Duration::from_millis(limits.first_request_timeout_ms),
        tls,
    });
    tracing::info!(
        addr = ?tcp.local_addr().ok(),
        tls = listener.tls.is_some(),
        handshake = listener.keys.handshake(),
        "forward listener up"
    );
    loop {
        let (stream, peer) = tokio::select! {
            r = tcp.accept() => match r {
                Ok(ok) => ok,
                Err(error) => {
                    tracing::warn!(listener = "forward", %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let slot = tokio::select! {
            slot = connections.admit(peer.ip()) => match slot {
                Ok(slot) => slot,
                Err(error) => {
                    tracing::debug!(listener = "forward", %peer, %error, "connection refused");
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let _nodelay = stream.set_nodelay(true);
        let (listener, shutdown) = (listener.clone(), shutdown.clone());
        tasks.spawn(async move {
            let result = match &listener.tls {
                None => listener.connection(stream, &slot, &shutdown).await,
                Some(tls) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                        Ok(Ok(stream)) => listener.connection(stream, &slot, &shutdown).await,
                        Ok(Err(e)) => Err(ConnectionError::Tls(e.to_string())),
                        Err(_) => Err(ConnectionError::Tls(format!(
                            "handshake not completed within {TLS_HANDSHAKE_TIMEOUT:?}"
                        ))),
                    }
                }
            };
            match result {
                Ok(()) => {}
                // Silence is routine (and, from many sockets, must not flood the log).
                Err(error @ (ConnectionError::Idle(_) | ConnectionError::MadeRoom)) => {
                    tracing::debug!(%peer, %error, "forward connection closed");
                }
                Err(error) => tracing::warn!(%peer, %error, "forward connection closed"),
            }
            drop(slot);
        });
    }
    tasks.close();
    tasks.wait().await;
}

/// Answers each heartbeat datagram with one zero byte, as fluentd does.
async fn heartbeats(udp: UdpSocket, shutdown: CancellationToken) {
    let mut buf = [0u8; 128];
    loop {
        let from = tokio::select! {
            r = udp.recv_from(&mut buf) => match r {
                Ok((_, from)) => from,
                Err(_) => continue,
            },
            _ = shutdown.cancelled() => return,
        };
        let _ignored = udp.send_to(&[0u8], from).await;
    }
}

/// Why a connection was closed.
#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("frame larger than {0} bytes")]
    FrameTooLarge(usize),
    #[error("idle for {0:?}")]
    Idle(Duration),
    #[error("closed to make room for a newer connection (this one was idle)")]
    MadeRoom,
    #[error("connection ended inside a frame")]
    Truncated,
    #[error("events before the handshake")]
    HandshakeRequired,
    #[error("unexpected PING (no handshake configured)")]
    UnexpectedPing,
    #[error("handshake refused: {0}")]
    Refused(&'static str),
    #[error("events not stored: {0}")]
    NotStored(IngestError),
}

/// What one frame turned into.
enum Outcome {
    KeepAlive,
    Ping([Vec<u8>; 5]),
    /// Events on a connection that has not completed the handshake (not decoded).
    EventsBeforeHandshake,
    Events {
        decoded: otlp::Decoded,
        chunk: Option<Vec<u8>>,
    },
}

impl Listener {
    async fn connection(
        &self,
        stream: impl AsyncRead + AsyncWrite + Unpin,
        slot: &Slot,
        shutdown: &CancellationToken,
    ) -> Result<(), ConnectionError> {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let idle = Duration::from_millis(self.config.idle_timeout_ms);
        let mut framed_once = false;
        let mut largest_frame = FIRST_READ_BYTES;
        let helo = if self.keys.handshake() {
            let helo = Helo::new(self.keys.user_auth())?;
            wr.write_all(&helo.encode()).await?;
            Some(helo)
        } else {
            None
        };
        let mut project = helo.is_none().then(|| self.project.clone());
        let mut login = None;
        // The read buffer grows with what the connection actually sent, and its capacity
        // counts against the memory budget (a connection waits, unread, while there is none).
        let mut buf = BytesMut::new();
        let mut held = self
            .engine
            .pipeline
            .hold(0)
            .map_err(ConnectionError::NotStored)?;
        let mut cutter = Cutter::default();
        loop {
            while let Some(len) = cutter.next(&buf).map_err(FrameError::from)? {
                // A frame that completed within the last read may still be over the limit.
                if len > self.config.max_frame_bytes {
                    return Err(ConnectionError::FrameTooLarge(self.config.max_frame_bytes));
                }
                let frame = buf.split_to(len).freeze();
                framed_once = true;
                largest_frame = largest_frame.max(len);
                // Busy while the frame is decoded and stored: not closed to make room.
                let _busy = slot.activity.begin();
                match self.frame(frame, project.clone()).await? {
                    Outcome::KeepAlive => {}
                    Outcome::Ping(parts) => {
                        let Some(helo) = &helo else {
                            return Err(ConnectionError::UnexpectedPing);
                        };
                        let ping = parts.each_ref().map(Vec::as_slice);
                        let verdict = handshake::verify(
                            helo,
                            ping,
                            &self.keys,
                            &self.engine.keys,
                            &self.config.hostname,
                        );
                        wr.write_all(&verdict.pong).await?;
                        login = verdict.login;
                        match verdict.project {
                            Some(p) => project = Some(p),
                            None => {
                                return Err(ConnectionError::Refused("wrong shared key or user"));
                            }
                        }
                    }
                    Outcome::EventsBeforeHandshake => {
                        return Err(ConnectionError::HandshakeRequired);
                    }
                    Outcome::Events { decoded, chunk } => {
                        // A login's ingestion key may have been revoked since the handshake.
                        if login.is_some_and(|key| !self.engine.keys.token_live(&key)) {
                            return Err(ConnectionError::Refused("ingestion key revoked"));
                        }
                        self.store(decoded).await?;
                        if let Some(chunk) = chunk {
                            let mut ack = Vec::with_capacity(chunk.len() + 8);
                            msgpack::write_map_len(&mut ack, 1);
                            msgpack::write_str(&mut ack, b"ack");
                            msgpack::write_str(&mut ack, &chunk);
                            wr.write_all(&ack).await?;
                        }
                    }
                }
            }
            if buf.len() > self.config.max_frame_bytes {
                return Err(ConnectionError::FrameTooLarge(self.config.max_frame_bytes));
            }
            // Read at most up to the frame limit, so one read cannot overshoot it by much;
            // grow geometrically from a small first read, and keep room for a frame as large
            // as the largest this connection sent (one allocation per frame, not a doubling
            // series).
            let room = (self.config.max_frame_bytes + 1 - buf.len()).min(1 << 20);
            buf.reserve(buf.len().max(largest_frame).min(room));
            self.wait_for_room(|| held.resize(buf.capacity())).await?;
            let mut limited = (&mut rd).take(room as u64);
            // The first frame must come soon; later reads may wait the idle timeout.
            let wait = if framed_once { idle } else { self.first_frame };
            let read = tokio::select! {
                r = tokio::time::timeout(wait, limited.read_buf(&mut buf)) => r,
                _ = slot.close.cancelled() => return Err(ConnectionError::MadeRoom),
                _ = shutdown.cancelled() => return Ok(()),
            };
            match read {
                Err(_) => return Err(ConnectionError::Idle(wait)),
                Ok(Err(e)) => return Err(e.into()),
                Ok(Ok(0)) if buf.is_empty() => return Ok(()),
                Ok(Ok(0)) => return Err(ConnectionError::Truncated),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Parses and decodes one frame (large ones on the blocking pool).
    async fn frame(
        &self,
        frame: bytes::Bytes,
        project: Option<Arc<str>>,
    ) -> Result<Outcome, ConnectionError> {
        let engine = &self.engine;
        // The frame counts against the memory budget while decoded.
        let _held = self
            .wait_for_room(|| engine.pipeline.hold(frame.len()))
            .await?;
        let compression = engine.compression;
        let max_decompressed = self.config.max_decompressed_bytes;
        let inline = frame.len() <= INLINE_DECODE_BYTES;
        let work = move || -> Result<Outcome, FrameError> {
            match event::parse(&frame)? {
                Frame::KeepAlive => Ok(Outcome::KeepAlive),
                Frame::Ping(parts) => Ok(Outcome::Ping(parts.map(<[u8]>::to_vec))),
                Frame::Events(events) => {
                    let Some(project) = project else {
                        return Ok(Outcome::EventsBeforeHandshake);
                    };
                    Ok(Outcome::Events {
                        decoded: decode_events(&events, &project, compression, max_decompressed)?,
                        chunk: events.options.chunk.map(<[u8]>::to_vec),
                    })
                }
            }
        };
        Ok(engine
            .decode(inline, work)
            .await
            .map_err(ConnectionError::NotStored)??)
    }

    /// Retries `attempt` while it meets back-pressure: the connection is not read meanwhile, so
    /// the client is slowed by TCP and waits for its ack. Gives up after
    /// [`MAX_BACKPRESSURE_WAIT`] (the connection is then closed unacknowledged).
    async fn wait_for_room<T>(
        &self,
        mut attempt: impl FnMut() -> Result<T, IngestError>,
    ) -> Result<T, ConnectionError> {
        let started = Instant::now();
        loop {
            match attempt() {
                Ok(v) => return Ok(v),
                Err(e)
                    if e.throttle_reason().is_none()
                        || started.elapsed() > MAX_BACKPRESSURE_WAIT =>
                {
                    return Err(ConnectionError::NotStored(e));
                }
                Err(e) => {
                    self.engine.telemetry.count_throttled(&e);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Hands the rows to the pipeline, waiting (and not reading) while it has no room.
    async fn store(&self, decoded: otlp::Decoded) -> Result<(), ConnectionError> {
        let engine = &self.engine;
        let rows = decoded.rows;
        let item = Item {
            target: Target::Logs,
            data: decoded.native,
            raw_len: decoded.native_len,
            rows,
        };
        if rows > 0 {
            self.wait_for_room(|| engine.pipeline.room_for(Target::Logs, item.data.len()))
                .await?;
        }
        let items = Decoded {
            items: vec![item],
            ..Decoded::default()
        };
        let result = engine.store("logs", items).await;
        if rows == 0 {
            // Nothing was stored: no request to count.
            return Ok(());
        }
        match engine.conclude("logs", "forward", result) {
            Ok(_) => Ok(()),
            Err((error, _)) => Err(ConnectionError::NotStored(error)),
        }
    }
}

/// The bound sockets of the Forward listener.
pub struct ForwardSockets {
    /// TCP.
    pub tcp: TcpListener,
    /// UDP heartbeat on the same port (absent when it could not be bound).
    pub udp: Option<UdpSocket>,
}

impl ForwardSockets {
    /// Binds TCP on `addr` and UDP on the port TCP got.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let tcp = TcpListener::bind(addr).await?;
        let bound = tcp.local_addr()?;
        let udp = match UdpSocket::bind(bound).await {
            Ok(udp) => Some(udp),
            Err(error) => {
                tracing::warn!(%bound, %error, "forward UDP heartbeat not available");
                None
            }
        };
        Ok(Self { tcp, udp })
    }
}
