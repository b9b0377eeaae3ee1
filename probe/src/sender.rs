//! Results to the ingest engine: batches of up to `batch` results over gRPC
//! (`ProbeResults/Report`), at least every `flush_every`. While the engine cannot be reached,
//! results wait in a bounded buffer (`buffer`); beyond it the oldest are dropped and counted —
//! never silently. A batch is sent again until the engine takes it (its results keep their ids,
//! so the worker does not count them twice). An `https://` engine URL (a TLS edge in front of
//! the engines) is verified with the probe's roots: the webpki roots and `VIGIL_PROBE_CA_FILE`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::ProbeError;
use crate::telemetry::Telemetry;

type Client = tonic::client::Grpc<tonic::transport::Channel>;

/// Sends what arrives on `rx` until `shutdown` (then sends what it holds, once); `tls` verifies
/// an `https://` engine.
pub async fn run(
    config: Config,
    tls: rustls::ClientConfig,
    mut rx: mpsc::Receiver<proto::probe::CheckResult>,
    telemetry: Arc<Telemetry>,
    shutdown: CancellationToken,
) {
    let mut buffer: VecDeque<proto::probe::CheckResult> = VecDeque::new();
    let mut client: Option<Client> = None;
    let mut backoff = Duration::from_millis(200);
    loop {
        let stopping = tokio::select! {
            _ = shutdown.cancelled() => true,
            _ = tokio::time::sleep(config.flush_every) => false,
            got = rx.recv_many_into(&mut buffer, config.batch) => got == 0,
        };
        while let Ok(r) = rx.try_recv() {
            buffer.push_back(r);
        }
        let over = buffer.len().saturating_sub(config.buffer);
        if over > 0 {
            buffer.drain(..over);
            telemetry.count_dropped(over as u64);
            tracing::warn!(dropped = over, "result buffer full: oldest results dropped");
        }
        telemetry.set_buffered(buffer.len());
        while !buffer.is_empty() {
            let n = buffer.len().min(config.batch);
            let batch: Vec<_> = buffer.iter().take(n).cloned().collect();
            match send(&config, &tls, &mut client, batch).await {
                Ok(()) => {
                    buffer.drain(..n);
                    telemetry.count_sent(n as u64);
                    backoff = Duration::from_millis(200);
                }
                Err(error) => {
                    client = None;
                    tracing::warn!(%error, buffered = buffer.len(), retry_in = ?backoff, "results not sent");
                    if stopping {
                        break;
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
            telemetry.set_buffered(buffer.len());
        }
        if stopping {
            if !buffer.is_empty() {
                tracing::warn!(lost = buffer.len(), "stopping with results not sent");
            }
            return;
        }
    }
}

/// `recv_many` into a `VecDeque`.
trait RecvMany {
    async fn recv_many_into(
        &mut self,
        into: &mut VecDeque<proto::probe::CheckResult>,
        limit: usize,
    ) -> usize;
}

impl RecvMany for mpsc::Receiver<proto::probe::CheckResult> {
    async fn recv_many_into(
        &mut self,
        into: &mut VecDeque<proto::probe::CheckResult>,
        limit: usize,
    ) -> usize {
        let mut got = Vec::with_capacity(limit.min(1024));
        let n = self.recv_many(&mut got, limit.max(1)).await;
        into.extend(got);
        n
    }
}

async fn send(
    config: &Config,
    tls: &rustls::ClientConfig,
    client: &mut Option<Client>,
    results: Vec<proto::probe::CheckResult>,
) -> Result<(), ProbeError> {
    let engine = |what: &str, e: &dyn std::fmt::Display| ProbeError::Engine(format!("{what}: {e}"));
    let failed = |what: &str, e: &dyn std::error::Error| {
        ProbeError::Engine(format!("{what}: {}", proto::causes::causes(e)))
    };
    if client.is_none() {
        let endpoint = tonic::transport::Endpoint::from_shared(config.ingest_url.clone())
            .map_err(|e| ProbeError::Config(format!("VIGIL_PROBE_INGEST_URL: {e}")))?
            .connect_timeout(config.call_timeout)
            .timeout(config.call_timeout);
        let channel = endpoint
            .connect_with_connector(crate::link::connector(
                tls.clone(),
                crate::link::Speaks::Grpc,
                config.call_timeout,
            ))
            .await
            .map_err(|e| failed("connect", &e))?;
        *client = Some(tonic::client::Grpc::new(channel));
    }
    let Some(grpc) = client.as_mut() else {
        return Err(ProbeError::Engine("no client".into()));
    };
    grpc.ready().await.map_err(|e| failed("not ready", &e))?;
    let mut request = tonic::Request::new(proto::probe::ResultBatch { results });
    let auth = format!("Bearer {}", config.key)
        .parse()
        .map_err(|_| ProbeError::Config("the probe key is not a valid header value".into()))?;
    request.metadata_mut().insert("authorization", auth);
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(proto::probe::REPORT);
    let codec = tonic_prost::ProstCodec::<_, proto::probe::ReportReply>::default();
    grpc.unary(request, path, codec)
        .await
        .map(|_| ())
        .map_err(|status| engine(&format!("{:?}", status.code()), &status.message()))
}
